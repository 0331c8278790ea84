/**
 * The W&B flavor against the loopback W&B server (W&B's service cannot run
 * here), with the real `wandb` SDK as the oracle of the wire format: its own
 * `wandb sync` session of the same logical run is what ours is compared with.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTracker, type MetricPoint, type Run, silentLogger } from '@trackstack/core';
import {
  type BackendRunView,
  describeFlavorConformance,
  journalNow,
  metricHistories,
} from '@trackstack/core/testing';
import {
  diffWandbRecordings,
  ensurePythonEnv,
  normalizeWandbRecording,
  type PythonEnv,
  runPython,
  startWandbServer,
  stringifyWandbJson,
  WANDB_REQUIREMENTS,
  type WandbRun,
  type WandbServer,
} from '@trackstack/test-harness';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WandbConfig } from './wandb-config.js';
import { WandbExperimentTracker } from './wandb-tracker.js';

const RUN_SCRIPT = join(import.meta.dirname, '../../../tools/test-harness/python/wandb_run.py');
let server: WandbServer;
let storeDir: string;
let py: PythonEnv;

beforeAll(async () => {
  [server, py] = await Promise.all([
    startWandbServer(),
    ensurePythonEnv({ name: 'wandb', requirements: WANDB_REQUIREMENTS }),
  ]);
  storeDir = await mkdtemp(join(tmpdir(), 'trackstack-wandb-'));
});
/** Runs a command without blocking the event loop: the loopback server answers from this process. */
function exec(
  command: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ status: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: { ...process.env, ...env } });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, output: output.slice(-4000) }));
  });
}

afterAll(async () => {
  await server?.stop();
  await rm(storeDir, { recursive: true, force: true });
});

function config(overrides: Partial<WandbConfig> = {}, target: WandbServer = server): WandbConfig {
  return {
    api_key: target.apiKey,
    base_url: target.url,
    mode: 'online',
    tags: [],
    file_stream_interval_s: 15,
    request_timeout_s: 10,
    ...overrides,
  };
}

/** What a user holds: runs of a W&B tracker of this config, with core's default settings. */
const tracker = (overrides: Partial<WandbConfig> = {}, target: WandbServer = server) =>
  createTracker(new WandbExperimentTracker(config(overrides, target), { storeDir }), {
    logger: silentLogger,
  });

const EXIT_STATUS: Record<number, BackendRunView['status']> = {
  0: 'FINISHED',
  1: 'FAILED',
  255: 'KILLED',
};

/** A W&B run in the conformance kit's terms: config as param text, `key:value` tags, history as points. */
function view(run: WandbRun): BackendRunView {
  const params: Record<string, string> = {};
  for (const [key, value] of Object.entries(run.configValues)) {
    params[key] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  const tags: Record<string, string> = { 'trackstack.uid': run.id };
  for (const tag of run.tags) {
    const colon = tag.indexOf(':');
    if (colon > 0) tags[tag.slice(0, colon)] = tag.slice(colon + 1);
  }
  const points: MetricPoint[] = [];
  for (const row of run.history) {
    for (const [key, value] of Object.entries(row)) {
      if (key.startsWith('_') || typeof value !== 'number') continue;
      const timestamp = Math.round((row._timestamp as number) * 1000);
      points.push({ key, value, step: row._step as number, timestamp });
    }
  }
  const metrics = metricHistories(points);
  return {
    status: run.complete ? (EXIT_STATUS[run.exitcode ?? 1] ?? 'FAILED') : 'RUNNING',
    params,
    tags,
    metrics,
    // wandb-metadata.json is W&B's own file (where the run ran), not an artifact.
    artifacts: Object.fromEntries(
      Object.entries(run.files)
        .filter(([name]) => name !== 'wandb-metadata.json')
        .map(([name, file]) => [name, file.sha256]),
    ),
  };
}

describeFlavorConformance({
  name: 'wandb',
  createTracker: ({ storeDir: dir }) => new WandbExperimentTracker(config(), { storeDir: dir }),
  readRun: async (_tracker, run) => view(server.run(run.uid)),
});

describe('W&B online, checked by the loopback server', () => {
  it('sends params as config, metrics as history rows by step, tags, files and the exit code', async () => {
    const t = tracker({ group: 'g1', job_type: 'train', notes: 'n', tags: ['base'] });
    const work = await mkdtemp(join(tmpdir(), 'trackstack-wandb-files-'));
    await writeFile(join(work, 'model.txt'), 'weights v1\n');
    const run = await t.startRun({ experiment: 'online', name: 'display', tags: { stage: 'dev' } });
    run.logParams({ lr: 0.001, layers: [64, 32], optimizer: { name: 'adam' } });
    const t0 = 1_760_000_000_000;
    run.logMetrics({ loss: 1.5, acc: Number.NaN }, { step: 0, timestamp: t0 });
    run.logMetrics({ loss: Number.POSITIVE_INFINITY, acc: 0.5 }, { step: 1, timestamp: t0 + 1000 });
    run.logMetrics({ loss: 0.25, acc: 0.875 }, { step: 2, timestamp: t0 + 2000 });
    await run.logArtifact(join(work, 'model.txt'));
    const report = await run.end();
    expect(report.pendingEvents).toBe(0);
    const seen = server.run(run.uid);
    expect(seen).toMatchObject({
      project: 'online',
      displayName: 'display',
      group: 'g1',
      jobType: 'train',
      notes: 'n',
    });
    expect(seen.tags.sort()).toEqual(['base', 'stage:dev']);
    expect(seen.configValues).toEqual({ lr: 0.001, layers: [64, 32], 'optimizer.name': 'adam' });
    expect(seen.history.map((row) => row._step)).toEqual([0, 1, 2]);
    expect(seen.history[0]!.acc).toBeNaN();
    expect(seen.historyLines[1]).toMatch(/"loss":Infinity/);
    expect(seen.summary).toMatchObject({ loss: 0.25, acc: 0.875, _step: 2 });
    expect(seen.files['model.txt']?.sha256).toBe(
      createHash('sha256').update('weights v1\n').digest('hex'),
    );
    expect(seen.uploaded).toContain('model.txt');
    expect(seen).toMatchObject({ complete: true, exitcode: 0 });
    expect(server.unknownOperations).toEqual([]);
    expect(server.protocolErrors).toEqual([]);
    await rm(work, { recursive: true, force: true });
  });

  it('records dataset inputs in the run config under datasets', async () => {
    const run = await tracker().startRun({ experiment: 'inputs' });
    run.logParams({ lr: 0.1 });
    await run.logInput({
      name: 'iris',
      digest: 'abc',
      source: 's3://b/iris.csv',
      context: 'training',
    });
    await run.logInput({ name: 'eval', digest: 'def', context: 'validation' });
    run.logParams({ epochs: 3 });
    expect((await run.end()).pendingEvents).toBe(0);
    const seen = server.run((await run.backendRef('wandb'))!.runId);
    expect(seen.configValues).toMatchObject({
      lr: 0.1,
      epochs: 3,
      datasets: {
        iris: { digest: 'abc', source: 's3://b/iris.csv', source_type: 's3', context: 'training' },
        eval: { digest: 'def', source_type: 'code', context: 'validation' },
      },
    });
  });

  it("groups child runs under the parent's id (W&B has no nested runs)", async () => {
    const t = tracker();
    const parent = await t.startRun({ experiment: 'children', name: 'parent' });
    const child = await parent.startChild({ name: 'child' });
    await child.end();
    await parent.end();
    const seen = server.run((await child.backendRef('wandb'))!.runId);
    expect(seen.group).toBe(parent.uid);
    expect(server.run((await parent.backendRef('wandb'))!.runId).group).toBeUndefined();
  });

  it('paces file_stream writes and keeps a step split across two writes one row', async () => {
    const t = tracker({ file_stream_interval_s: 0.3 });
    const run = await t.startRun({ experiment: 'paced', flushIntervalMs: 5 });
    const before = server.requests.length;
    for (let step = 0; step < 40; step++) {
      run.logMetric('a', step, { step });
      await new Promise((resolve) => setTimeout(resolve, 10));
      run.logMetric('b', -step, { step });
    }
    await run.end();
    const streams = server.requests.slice(before).filter((r) => r.kind === 'file_stream').length;
    expect(streams).toBeLessThan(10);
    const seen = server.run(run.uid);
    expect(seen.history.map((row) => row._step)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(seen.history.every((row, i) => row.a === i && row.b === -i)).toBe(true);
  });

  it('loses and duplicates no row through 429 with Retry-After, 5xx and dropped responses', async () => {
    const t = tracker({ file_stream_interval_s: 0 });
    const run = await t.startRun({ experiment: 'faults', bufferSize: 50, flushIntervalMs: 5 });
    server.failNext('file_stream', { status: 429, headers: { 'retry-after': '0.2' } }, 2);
    server.failNext('file_stream', { status: 503 }, 2);
    server.failNext('file_stream', 'drop-response', 2);
    server.failNext('UpsertBucket', { status: 500 }, 1);
    run.logParams({ p: 1 });
    for (let step = 0; step < 500; step++) {
      run.logMetric('m', step, { step });
      if (step % 100 === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const report = await run.end();
    expect(report.pendingEvents).toBe(0);
    expect(report.destinations[0]?.errors).toEqual([]);
    const seen = server.run(run.uid);
    expect(seen.history.map((row) => row._step)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    expect(seen.configValues.p).toBe(1);
    expect(server.faults).toMatchObject({ status: 5, 'drop-response': 2 });
  });

  it('refuses a wrong API key with a typed, final error', async () => {
    const t = tracker({ api_key: 'x'.repeat(40) });
    await expect(t.validateConnection()).rejects.toMatchObject({
      statusCode: 401,
      retryable: false,
    });
  });

  it("follows ZenML's W&B layout: a run per step, grouped by the pipeline run, resumed when retried", async () => {
    const t = tracker();
    const info = {
      pipelineName: 'training',
      pipelineRunName: 'training-run-7',
      pipelineRunId: 'pr-7',
      stepName: 'trainer',
      stepRunId: `sr-${Date.now()}`,
    };
    const first = await t.runStep(info, (run) => {
      run.logMetric('loss', 1, { step: 0 });
      return run.uid;
    });
    const retried = await t.runStep(info, (run) => {
      run.logMetric('loss', 0.5, { step: 1 });
      return run.uid;
    });
    expect(retried.value).toBe(first.value);
    const seen = server.run(first.value);
    expect(seen.displayName).toBe('training-run-7_trainer');
    expect(seen.group).toBe('training-run-7');
    expect(seen.history.map((row) => row.loss)).toEqual([1, 0.5]);
    expect(first.metadata).toMatchObject({
      wandb_run_id: first.value,
      wandb_run_path: `trackstack/training/${first.value}`,
      experiment_tracker_url: `${server.url}/trackstack/training/runs/${first.value}`,
    });
  });
});

const OUTPUT_LINE = /^(ERROR )?\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6} /;
const outputText = (lines: string[]) => lines.map((line) => line.replace(OUTPUT_LINE, '$1'));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('W&B online: console output, heartbeats, rate limits, run ids and resume', () => {
  it('streams console output as output.log lines at their offsets, a progress bar rewritten in place', async () => {
    const t = tracker({ file_stream_interval_s: 0 });
    const run = await t.startRun({ experiment: 'console', flushIntervalMs: 0 });
    run.logConsole('epoch 1\n');
    run.logConsole('progress 10%');
    journalNow(run);
    await run.flush();
    expect(outputText(server.run(run.uid).outputLines)).toEqual(['epoch 1', 'progress 10%']);
    // A replayed write (the answer lost) must land on the same lines.
    server.failNext(`${run.uid}/file_stream`, 'drop-response', 1);
    run.logConsole('\rprogress 100%\n');
    run.logConsole('disk almost full\n', { stream: 'stderr' });
    run.logConsole('done\n');
    const report = await run.end();
    expect(report.pendingEvents).toBe(0);
    const seen = server.run(run.uid);
    expect(seen.outputLines.every((line) => OUTPUT_LINE.test(line))).toBe(true);
    expect(outputText(seen.outputLines)).toEqual([
      'epoch 1',
      'progress 100%',
      'ERROR disk almost full',
      'done',
    ]);
    expect(server.protocolErrors).toEqual([]);
  });

  it('captures the process console with captureConsole', async () => {
    const t = tracker({ file_stream_interval_s: 0 });
    const run = await t.startRun({ experiment: 'console', captureConsole: true });
    process.stdout.write('from stdout\n');
    process.stderr.write('from stderr\n');
    await run.end();
    expect(outputText(server.run(run.uid).outputLines)).toEqual([
      'from stdout',
      'ERROR from stderr',
    ]);
  });

  it('sends heartbeats while idle, and they change nothing', async () => {
    const t = tracker({ file_stream_interval_s: 0, heartbeat_interval_s: 0.2 });
    const run = await t.startRun({ experiment: 'heartbeat' });
    run.logMetric('m', 1, { step: 0 });
    await run.flush();
    const before = structuredClone({
      history: server.run(run.uid).historyLines,
      summary: server.run(run.uid).summaryJson,
    });
    const since = server.requests.length;
    await sleep(1100);
    const beats = server.requests
      .slice(since)
      .filter((r) => r.kind === 'file_stream' && r.run?.run === run.uid);
    expect(beats.length).toBeGreaterThanOrEqual(3);
    expect(beats.every((r) => JSON.stringify(r.body) === '{}' && r.status === 200)).toBe(true);
    const seen = server.run(run.uid);
    expect({ history: seen.historyLines, summary: seen.summaryJson }).toEqual(before);
    expect(seen.complete).toBe(false);
    await run.end();
  });

  it('holds every request while W&B says the quota is used up (RateLimit-Remaining: 0), 2xx included', async () => {
    const t = tracker({ file_stream_interval_s: 0 });
    const run = await t.startRun({ experiment: 'ratelimit', flushIntervalMs: 0 });
    server.failNext(`${run.uid}/file_stream`, {
      headers: { 'RateLimit-Remaining': '0', 'RateLimit-Reset': '1' },
    });
    const since = server.requests.length;
    run.logMetric('m', 0, { step: 0 });
    await run.flush();
    run.logMetric('m', 1, { step: 1 });
    await run.flush();
    const streams = server.requests
      .slice(since)
      .filter((r) => r.kind === 'file_stream' && r.run?.run === run.uid);
    expect(streams[0]?.fault).toBe('headers');
    expect(streams[1]!.time - streams[0]!.time).toBeGreaterThanOrEqual(950);
    expect(server.run(run.uid).history.map((row) => row._step)).toEqual([0, 1]);
    await run.end();
  });

  it('retries a 429 that carries only the RateLimit headers after the reset, losing nothing', async () => {
    const t = tracker({ file_stream_interval_s: 0 });
    const run = await t.startRun({ experiment: 'ratelimit', flushIntervalMs: 0 });
    server.failNext(`${run.uid}/file_stream`, {
      status: 429,
      headers: { 'RateLimit-Remaining': '0', 'RateLimit-Reset': '1' },
    });
    const since = server.requests.length;
    run.logMetric('m', 0, { step: 0 });
    await run.end();
    const streams = server.requests
      .slice(since)
      .filter((r) => r.kind === 'file_stream' && r.run?.run === run.uid);
    expect(streams[0]?.status).toBe(429);
    expect(streams[1]!.time - streams[0]!.time).toBeGreaterThanOrEqual(950);
    expect(server.run(run.uid).history.map((row) => row._step)).toEqual([0]);
  });

  it("run_id_strategy 'step' names the W&B run after the step, and a retried step resumes it", async () => {
    const t = tracker({ run_id_strategy: 'step' });
    const info = {
      pipelineName: 'training',
      pipelineRunName: `training-run-${Date.now()}`,
      pipelineRunId: 'pr',
      stepName: 'trainer',
      stepRunId: `sr-${Date.now()}`,
      settings: { run_name: 'custom name' },
    };
    const first = await t.runStep(info, (run) => run.logMetric('loss', 1, { step: 0 }));
    await t.runStep(info, (run) => run.logMetric('loss', 0.5, { step: 1 }));
    const id = `${info.pipelineRunName}_trainer`;
    expect(first.metadata.wandb_run_id).toBe(id);
    const seen = server.run(id);
    expect(seen.displayName).toBe('custom name');
    expect(seen.history.map((row) => row.loss)).toEqual([1, 0.5]);
  });

  it("resume 'must' refuses a run W&B does not have, 'never' one it has, before any data is sent", async () => {
    const must = await tracker({ resume: 'must' }).startRun({ experiment: 'resume' });
    must.logMetric('m', 1);
    const mustReport = await must.end('FINISHED', { timeoutMs: 5000 });
    expect(mustReport.destinations[0]?.errors[0]).toMatchObject({
      retryable: false,
      message: expect.stringMatching(/no run .* to resume \(resume: 'must'\)/),
    });
    expect(server.runs.has(must.uid)).toBe(false);

    const owner = await tracker().startRun({ experiment: 'resume' });
    owner.logParams({ lr: 0.1 });
    owner.logMetric('m', 1, { step: 0 });
    owner.logConsole('first process\n');
    await owner.end();
    // Another trackstack store (another machine) with the same run id.
    const otherStore = await mkdtemp(join(tmpdir(), 'trackstack-wandb-other-'));
    const other = (resume: 'allow' | 'never') =>
      createTracker(new WandbExperimentTracker(config({ resume }), { storeDir: otherStore }), {
        logger: silentLogger,
      });
    try {
      const never = await other('never').startRun({ experiment: 'resume', id: owner.uid });
      const neverReport = await never.end('FINISHED', { timeoutMs: 5000 });
      expect(neverReport.destinations[0]?.errors[0]?.message).toMatch(/already has a run/);

      const allow = await other('allow').startRun({
        experiment: 'resume',
        id: owner.uid,
        resume: 'allow',
      });
      allow.logParams({ batch: 32 });
      allow.logMetric('m', 2, { step: 1 });
      allow.logConsole('second process\n');
      expect((await allow.end()).pendingEvents).toBe(0);
      const seen = server.run(owner.uid);
      expect(seen.configValues).toEqual({ lr: 0.1, batch: 32 });
      expect(seen.history.map((row) => row.m)).toEqual([1, 2]);
      expect(outputText(seen.outputLines)).toEqual(['first process', 'second process']);
    } finally {
      await rm(otherStore, { recursive: true, force: true });
    }
  });

  it('refuses a run id W&B would refuse, with a typed error and no request', async () => {
    // Core's run ids are W&B-safe; a flavor called directly (or a custom id) is checked too.
    const since = server.requests.length;
    const init = { uid: 'bad/id', experiment: 'ids', name: 'n', tags: {}, startTime: Date.now() };
    const flavor = new WandbExperimentTracker(config(), { storeDir });
    await expect(flavor.createRun(init)).rejects.toMatchObject({
      name: 'WandbError',
      retryable: false,
      message: expect.stringMatching(/cannot contain "\/"/),
    });
    expect(server.requests.length).toBe(since);
  });
});

/** The logical run both sides send: what the W&B SDK and trackstack can both express. */
const LOGICAL = {
  config: { lr: 0.001, layers: [64, 32], 'optimizer.name': 'adam' },
  tags: ['alpha', 'beta'],
  history: [
    { _step: 0, loss: 1.5, acc: Number.NaN },
    { _step: 1, loss: Number.POSITIVE_INFINITY, acc: 0.5 },
    { _step: 2, loss: Number.NEGATIVE_INFINITY, acc: 0.75 },
    { _step: 3, loss: 0.25, acc: 0.875 },
  ],
  file: { name: 'model.txt', text: 'weights v1\n' },
};

async function logLogicalRun(run: Run, work: string): Promise<void> {
  run.logParams(LOGICAL.config);
  for (const { _step, ...values } of LOGICAL.history) run.logMetrics(values, { step: _step });
  await writeFile(join(work, LOGICAL.file.name), LOGICAL.file.text);
  await run.logArtifact(join(work, LOGICAL.file.name));
}

describe('against the real wandb SDK', () => {
  it('sends what `wandb sync` sends for the same run: a structural comparison that names any difference', async () => {
    const work = await mkdtemp(join(tmpdir(), 'trackstack-wandb-compare-'));
    const sdkServer = await startWandbServer();
    const oursServer = await startWandbServer();
    try {
      const spec = {
        project: 'compare',
        id: 'compare01',
        name: 'compare run',
        config: LOGICAL.config,
        tags: LOGICAL.tags,
        history: LOGICAL.history,
        save: [LOGICAL.file],
        exit_code: 0,
      };
      const sdkRun = await runPython(py, RUN_SCRIPT, [], {
        input: stringifyWandbJson(spec),
        env: { ...sdkServer.sdkEnv, WANDB_MODE: 'offline', WANDB_DIR: work, TMPDIR: work },
      });
      expect(sdkRun.code, sdkRun.stderr.slice(-2000)).toBe(0);
      const runDir = (await readdir(join(work, 'wandb'))).find((name) =>
        name.startsWith('offline-run-'),
      )!;
      const sync = await exec(py.bin('wandb'), ['sync', join(work, 'wandb', runDir)], {
        ...sdkServer.sdkEnv,
        WANDB_DIR: work,
        TMPDIR: work,
      });
      expect(sync.status, sync.output).toBe(0);

      const t = tracker({ tags: LOGICAL.tags }, oursServer);
      // Started where the SDK's was: in `work`, outside any git repository.
      const run = await t.startRun({
        experiment: 'compare',
        id: 'compare01',
        name: 'compare run',
        captureSource: { command: [process.execPath, join(work, 'train.js')], cwd: work },
      });
      await logLogicalRun(run, work);
      expect((await run.end()).pendingEvents).toBe(0);

      const differences = diffWandbRecordings(
        normalizeWandbRecording(sdkServer.requests),
        normalizeWandbRecording(oursServer.requests),
        { ignore: ACCEPTED_DIFFERENCES },
      );
      expect(differences).toEqual([]);
      const ours = oursServer.run('compare01');
      // W&B's own wandb-metadata.json (as the SDK's sync uploads it), then the user's file.
      expect(ours.uploaded).toEqual(['wandb-metadata.json', LOGICAL.file.name]);
      expect(sdkServer.run('compare01').files['wandb-metadata.json']).toBeDefined();
      expect(sdkServer.run('compare01').files[LOGICAL.file.name]?.sha256).toBe(
        ours.files[LOGICAL.file.name]?.sha256,
      );
    } finally {
      await Promise.all([sdkServer.stop(), oursServer.stop()]);
      await rm(work, { recursive: true, force: true });
    }
  });

  it('writes offline runs that `wandb sync` uploads unchanged: every param, row, summary value, tag and file', async () => {
    const work = await mkdtemp(join(tmpdir(), 'trackstack-wandb-offline-'));
    const syncServer = await startWandbServer();
    try {
      const t = tracker(
        { mode: 'offline', dir: work, tags: LOGICAL.tags, entity: syncServer.entity },
        syncServer,
      );
      const run = await t.startRun({
        experiment: 'offline',
        name: 'offline run',
        tags: { stage: 'dev' },
        flushIntervalMs: 0,
      });
      await logLogicalRun(run, work);
      run.logConsole('epoch 1\nprogress 10%');
      journalNow(run);
      await run.flush();
      run.logConsole('\rprogress 100%\n');
      run.logConsole('warning\n', { stream: 'stderr' });
      const report = await run.end();
      expect(report.pendingEvents).toBe(0);
      expect(syncServer.requests).toEqual([]);
      const runDir = (await readdir(join(work, 'wandb'))).find((name) =>
        name.startsWith('offline-run-'),
      )!;
      expect(runDir).toMatch(new RegExp(`^offline-run-\\d{8}_\\d{6}-${run.uid}$`));
      const sync = await exec(py.bin('wandb'), ['sync', join(work, 'wandb', runDir)], {
        ...syncServer.sdkEnv,
        WANDB_DIR: work,
        TMPDIR: work,
      });
      expect(sync.status, sync.output).toBe(0);
      const seen = syncServer.run(run.uid);
      expect(seen.project).toBe('offline');
      expect(seen.displayName).toBe('offline run');
      expect(seen.tags.sort()).toEqual(['alpha', 'beta', 'stage:dev']);
      expect(seen.configValues).toMatchObject(LOGICAL.config);
      expect(seen.history.map((row) => row._step)).toEqual([0, 1, 2, 3]);
      expect(seen.history.map((row) => row.loss)).toEqual([
        1.5,
        Number.POSITIVE_INFINITY,
        Number.NEGATIVE_INFINITY,
        0.25,
      ]);
      expect(seen.history[0]!.acc).toBeNaN();
      expect(seen.summary).toMatchObject({ loss: 0.25, acc: 0.875 });
      expect(seen.files[LOGICAL.file.name]?.sha256).toBe(
        createHash('sha256').update(LOGICAL.file.text).digest('hex'),
      );
      expect(seen).toMatchObject({ complete: true, exitcode: 0 });
      expect(outputText(seen.outputLines)).toEqual(['epoch 1', 'progress 100%', 'ERROR warning']);
      expect(syncServer.unknownOperations).toEqual([]);
    } finally {
      await syncServer.stop();
      await rm(work, { recursive: true, force: true });
    }
  });
});

/** Where our session differs from the SDK's on purpose; each with its reason. */
const ACCEPTED_DIFFERENCES: (string | RegExp)[] = [
  // The config arrives in the second UpsertBucket: params are journaled as they are logged,
  // not known when the run is created (the SDK has them from wandb.init).
  /^UpsertBucket#1\.variables\.config\.(?!_wandb)/,
  // _wandb holds the writing client's own metadata (versions, telemetry).
  /\.config\._wandb\./,
  // The SDK also uploads files of its own (config.yaml, requirements.txt,
  // wandb-metadata.json, wandb-summary.json); model.txt is checked below.
  'CreateRunFiles#1.variables.files',
  // Ours uploads wandb-metadata.json as soon as the run exists, as wandb-core does in a live
  // run (its environment record follows the run record); `wandb sync` uploads it after the
  // config's UpsertBucket.
  /^graphql operations: expected \[ServerFeaturesQuery, UpsertBucket, UpsertBucket, CreateRunFiles\], got \[ServerFeaturesQuery, UpsertBucket, CreateRunFiles, UpsertBucket\]$/,
  'file_stream uploaded',
  'uploads',
];
