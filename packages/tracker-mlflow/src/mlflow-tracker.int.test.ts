/**
 * The MLflow flavor against a real `mlflow server` (pinned, from PyPI, started
 * by the test harness on 127.0.0.1), read back with MLflow's Python client.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BackendError,
  createTracker,
  type Run,
  type RunRef,
  type StepRunInfo,
  silentLogger,
} from '@trackstack/core';
import { describeFlavorConformance } from '@trackstack/core/testing';
import {
  MlflowOracle,
  type MlflowServer,
  startFaultProxy,
  startMlflowServer,
} from '@trackstack/test-harness';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oracleView } from './__fixtures__/oracle-view.js';
import type { MlflowConfig } from './mlflow-config.js';
import { MlflowExperimentTracker } from './mlflow-tracker.js';

let server: MlflowServer;
let oracle: MlflowOracle;
let storeDir: string;

beforeAll(async () => {
  server = await startMlflowServer();
  oracle = new MlflowOracle(server.env.python, server.url);
  storeDir = await mkdtemp(join(tmpdir(), 'trackstack-mlflow-'));
});

afterAll(async () => {
  oracle?.close();
  await server?.stop();
  await rm(storeDir, { recursive: true, force: true });
});

/** What a user holds: runs of a flavor's tracker, with core's default settings. */
const runs = (flavor: MlflowExperimentTracker) => createTracker(flavor, { logger: silentLogger });

function tracker(config: Partial<MlflowConfig> = {}): MlflowExperimentTracker {
  return new MlflowExperimentTracker(
    { nested: false, tags: {}, request_timeout_s: 30, tracking_uri: server.url, ...config },
    { storeDir, logger: silentLogger },
  );
}

async function refOf(run: Run, name = 'mlflow'): Promise<RunRef> {
  const ref = await run.backendRef(name);
  if (ref === undefined) throw new Error('the run has no MLflow run');
  return ref;
}

describeFlavorConformance({
  name: 'mlflow',
  createTracker: ({ storeDir: dir }) =>
    new MlflowExperimentTracker(
      { nested: false, tags: {}, request_timeout_s: 30, tracking_uri: server.url },
      { storeDir: dir },
    ),
  readRun: async (_tracker, run) => oracleView(oracle, run.ref!.runId),
  // MLflow's SQL store keeps NaN but clamps ±Infinity to ±1.797e308.
  capabilities: { nonFinite: 'nan-only' },
});

describe('MLflow, read back with its Python client', () => {
  it('stores params, tags, metric histories (values, steps, timestamps, NaN) and status exactly', async () => {
    const t = tracker({ tags: { team: 'ml' } });
    const run = await runs(t).startRun({
      experiment: 'exact',
      name: 'exact-run',
      tags: { stage: 'dev' },
    });
    run.logParams({ lr: 0.001, layers: [64, 32], optimizer: { name: 'adam' } });
    const t0 = 1_760_000_000_000;
    const losses = [2.5, 1.25, Number.NaN, 0.5];
    losses.forEach((loss, step) => {
      run.logMetrics({ loss, acc: step / 4 }, { step, timestamp: t0 + step * 1000 });
    });
    const report = await run.end();
    expect(report.pendingEvents).toBe(0);
    const ref = await refOf(run);
    const seen = await oracle.run(ref.runId, { history: true });
    expect(seen.status).toBe('FINISHED');
    expect(seen.run_name).toBe('exact-run');
    expect(seen.params).toEqual({ lr: '0.001', layers: '[64,32]', 'optimizer.name': 'adam' });
    expect(seen.tags).toMatchObject({
      team: 'ml',
      stage: 'dev',
      'trackstack.uid': run.uid,
      'mlflow.runName': 'exact-run',
    });
    expect(seen.points.loss).toEqual([
      { value: 2.5, step: 0, timestamp: t0 },
      { value: 1.25, step: 1, timestamp: t0 + 1000 },
      { value: 'nan', step: 2, timestamp: t0 + 2000 },
      { value: 0.5, step: 3, timestamp: t0 + 3000 },
    ]);
    expect(seen.points.acc?.map((p) => p.value)).toEqual([0, 0.25, 0.5, 0.75]);
    expect(seen.start_time).toBe(run.startTime);
    expect(seen.end_time).toBeGreaterThanOrEqual(run.startTime);
  });

  it('creates a missing experiment once, even when two trackers race for it', async () => {
    const name = `race-${Date.now()}`;
    const [a, b] = await Promise.all([
      runs(tracker()).startRun({ experiment: name }),
      runs(tracker()).startRun({ experiment: name }),
    ]);
    await Promise.all([a.end(), b.end()]);
    const [refA, refB] = await Promise.all([refOf(a), refOf(b)]);
    expect(refA).toMatchObject({ experimentId: refB.experimentId });
    expect((await oracle.runs(name)).sort()).toEqual([refA.runId, refB.runId].sort());
  });

  it('never leaves a duplicate run when runs/create is retried after a lost answer', async () => {
    const proxy = await startFaultProxy(server.url);
    try {
      proxy.failNext(/POST \/api\/2\.0\/mlflow\/runs\/create/, 'truncate');
      const name = `retried-create-${Date.now()}`;
      const run = await runs(tracker({ tracking_uri: proxy.url })).startRun({ experiment: name });
      run.logMetric('m', 1);
      await run.end();
      expect(proxy.faults.truncate).toBe(1);
      expect(await oracle.runs(name)).toEqual([(await refOf(run)).runId]);
    } finally {
      await proxy.close();
    }
  });

  it('loses and duplicates nothing through 429 with Retry-After and 503', async () => {
    const proxy = await startFaultProxy(server.url);
    try {
      const run = await runs(tracker({ tracking_uri: proxy.url })).startRun({
        experiment: 'faults',
        bufferSize: 500,
      });
      proxy.failNext(
        /log-batch/,
        {
          status: 429,
          headers: { 'retry-after': '0.2' },
          body: '{"error_code":"REQUEST_LIMIT_EXCEEDED"}',
        },
        2,
      );
      proxy.failNext(/log-batch/, { status: 503, body: 'upstream unavailable' }, 3);
      for (let step = 0; step < 3000; step++)
        run.logMetric('m', step, { step, timestamp: 1_760_000_000_000 + step });
      const report = await run.end();
      expect(report.pendingEvents).toBe(0);
      expect(report.destinations[0]?.errors).toEqual([]);
      expect(proxy.faults).toMatchObject({ status: 5 });
      const seen = await oracle.run((await refOf(run)).runId, { history: true });
      expect(seen.points.m?.map((p) => p.step)).toEqual(Array.from({ length: 3000 }, (_, i) => i));
      expect(seen.status).toBe('FINISHED');
    } finally {
      await proxy.close();
    }
  });

  it("sends what the journal holds as log-batch requests of MLflow's limits; a refused one alone goes again", async () => {
    const proxy = await startFaultProxy(server.url);
    try {
      const run = await runs(tracker({ tracking_uri: proxy.url })).startRun({
        experiment: 'batch-requests',
      });
      const ref = await refOf(run);
      const t0 = 1_760_000_000_000;
      // One journal record: a param, a tag and 50 steps of 100 keys, cut key by key into six
      // requests of at most 1000 entities. The third request is answered 503 once.
      proxy.failNext(/log-batch/, { status: 503, body: 'busy' }, 1, { skip: 2 });
      run.logParams({ lr: 0.1 });
      run.setTags({ stage: 'dev' });
      for (let step = 0; step < 50; step++) {
        const values: Record<string, number> = {};
        for (let k = 0; k < 100; k++) values[`k${k}`] = step + k;
        run.logMetrics(values, { step, timestamp: t0 + step });
      }
      const report = await run.end();
      expect(report.pendingEvents).toBe(0);
      const posts = proxy.log.filter((e) => e.path.includes('log-batch'));
      expect(posts.map((e) => e.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 503]);
      const seen = await oracle.run(ref.runId, { history: true });
      expect(seen.params).toEqual({ lr: '0.1' });
      expect(seen.tags.stage).toBe('dev');
      expect(Object.keys(seen.points)).toHaveLength(100);
      for (let k = 0; k < 100; k++) {
        expect(seen.points[`k${k}`]?.map((p) => [p.step, p.value, p.timestamp])).toEqual(
          Array.from({ length: 50 }, (_, step) => [step, step + k, t0 + step]),
        );
      }
    } finally {
      await proxy.close();
    }
  });

  it('opens a new connection to the tracking server after requests_per_connection requests', async () => {
    const proxy = await startFaultProxy(server.url);
    try {
      // [setting, most requests a connection may carry, fewest connections 40 requests need]
      const rounds: Array<[number | undefined, number, number]> = [
        [undefined, 1, 40],
        [2, 2, 20],
        [4, 4, 10],
        [0, 40, 1],
      ];
      for (const [perConnection, most, fewest] of rounds) {
        const from = proxy.log.length;
        const t = tracker({
          tracking_uri: proxy.url,
          ...(perConnection === undefined ? {} : { requests_per_connection: perConnection }),
        });
        for (let i = 0; i < 40; i++) await t.validateConnection();
        await t.client.close();
        const perConn = new Map<number, number>();
        for (const e of proxy.log.slice(from)) {
          perConn.set(e.connection, (perConn.get(e.connection) ?? 0) + 1);
        }
        const counts = [...perConn.values()];
        expect(Math.max(...counts), `${perConnection}: ${counts}`).toBeLessThanOrEqual(most);
        expect(counts.length, `${perConnection}: ${counts}`).toBeGreaterThanOrEqual(fewest);
        // Without a limit undici keeps its connections: one, or two it alternates between.
        if (perConnection === 0) expect(counts.length).toBeLessThanOrEqual(2);
      }
    } finally {
      await proxy.close();
    }
  });

  it('keeps max_requests_in_flight log-batch requests in flight (default 2), and every point arrives', async () => {
    const proxy = await startFaultProxy(server.url);
    try {
      for (const inFlight of [undefined, 4]) {
        const from = proxy.log.length;
        const run = await runs(
          tracker({
            tracking_uri: proxy.url,
            ...(inFlight === undefined ? {} : { max_requests_in_flight: inFlight }),
          }),
        ).startRun({ experiment: 'in-flight' });
        const ref = await refOf(run);
        // 40 steps of 500 keys: 20 log-batch requests of 1000 points, queued at once by end().
        for (let step = 0; step < 40; step++) {
          const values: Record<string, number> = {};
          for (let k = 0; k < 500; k++) values[`k${k}`] = step * k;
          run.logMetrics(values, { step });
        }
        const report = await run.end();
        expect(report.pendingEvents).toBe(0);
        const posts = proxy.log.slice(from).filter((e) => e.path.includes('log-batch'));
        expect(posts).toHaveLength(20);
        const most = Math.max(...posts.map((e) => e.inFlight));
        // Nothing else was open at the proxy then: runs/update follows the last log-batch.
        expect(most, `${inFlight}: ${posts.map((e) => e.inFlight)}`).toBe(inFlight ?? 2);
        const seen = await oracle.run(ref.runId, { history: true });
        expect(Object.keys(seen.points)).toHaveLength(500);
        expect(seen.points.k499?.map((p) => p.step)).toEqual(
          Array.from({ length: 40 }, (_, i) => i),
        );
      }
    } finally {
      await proxy.close();
    }
  });

  it('uploads files and directories through the artifact proxy with content types, streaming large files', async () => {
    const work = await mkdtemp(join(tmpdir(), 'trackstack-mlflow-art-'));
    try {
      const big = join(work, 'weights.bin');
      const chunk = Buffer.alloc(1024 * 1024, 7);
      const { createWriteStream } = await import('node:fs');
      await new Promise<void>((resolve, reject) => {
        const out = createWriteStream(big);
        out.on('error', reject);
        for (let i = 0; i < 64; i++) out.write(chunk);
        out.end(resolve);
      });
      await writeFile(join(work, 'report.json'), '{"acc":0.9}');
      await writeFile(join(work, 'notes.txt'), 'hello');
      const t = tracker();
      // The server keeps bytes only: record the content type each upload was sent with.
      const sent = new Map<string, string>();
      const put = t.client.putArtifact.bind(t.client);
      t.client.putArtifact = (path, body, size, contentType) => {
        sent.set(decodeURIComponent(path.split('/artifacts/').at(-1)!), contentType);
        return put(path, body, size, contentType);
      };
      const run = await runs(t).startRun({ experiment: 'artifacts' });
      await run.logArtifact(big, { artifactPath: 'model/weights.bin' });
      await run.logArtifact(work, { artifactPath: 'all' });
      const before = process.memoryUsage().rss;
      await run.end();
      // Streamed from disk: uploading 2 × 64 MiB must not hold them in memory.
      expect(process.memoryUsage().rss - before).toBeLessThan(96 * 1024 * 1024);
      const seen = await oracle.run((await refOf(run)).runId, { artifacts: true });
      const bigSha = createHash('sha256');
      for (let i = 0; i < 64; i++) bigSha.update(chunk);
      expect(seen.artifacts['model/weights.bin']).toBe(bigSha.digest('hex'));
      expect(seen.artifact_sizes['model/weights.bin']).toBe(64 * 1024 * 1024);
      expect(seen.artifacts['all/report.json']).toBe(
        createHash('sha256').update('{"acc":0.9}').digest('hex'),
      );
      expect(sent.get('all/report.json')).toBe('application/json');
      expect(sent.get('all/notes.txt')).toBe('text/plain');
      expect(sent.get('model/weights.bin')).toBe('application/octet-stream');
      expect(Object.keys(seen.artifacts).sort()).toEqual([
        'all/notes.txt',
        'all/report.json',
        'all/weights.bin',
        'model/weights.bin',
      ]);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });

  it('says clearly when a run keeps artifacts where this client cannot write, and delivers the rest', async () => {
    const t = tracker();
    const name = `elsewhere-${Date.now()}`;
    // An experiment whose artifacts live in a store the server does not proxy.
    await t.client.post('experiments/create', { name, artifact_location: 's3://bucket/path' });
    const work = await mkdtemp(join(tmpdir(), 'trackstack-mlflow-s3-'));
    try {
      await writeFile(join(work, 'a.txt'), 'a');
      const run = await runs(t).startRun({ experiment: name });
      await run.logArtifact(join(work, 'a.txt'));
      run.logMetric('kept', 1);
      const report = await run.end();
      const errors = report.destinations[0]!.errors;
      expect(errors).toHaveLength(1);
      expect(BackendError.isInstance(errors[0]) && errors[0].retryable).toBe(false);
      expect(errors[0]!.message).toMatch(/s3: storage this client cannot write/);
      // Python's client would need boto3 to list s3: read the rest only.
      const seen = await oracle.run((await refOf(run)).runId, { artifacts: false });
      expect(seen.metrics.kept?.count).toBe(1);
      expect(seen.status).toBe('FINISHED');
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });

  it('refuses a changed param from another writer with a typed error from flush()', async () => {
    const t = tracker();
    const run = await runs(t).startRun({ experiment: 'conflict', flushIntervalMs: 0 });
    run.logParams({ lr: 1 });
    await run.flush();
    const ref = await refOf(run);
    await t.client.post('runs/log-batch', {
      run_id: ref.runId,
      params: [{ key: 'depth', value: 'theirs' }],
    });
    run.logParams({ depth: 'mine' });
    await expect(run.flush()).rejects.toMatchObject({
      code: 'BACKEND_REJECTED',
      statusCode: 400,
      errorCode: 'INVALID_PARAMETER_VALUE',
    });
    await run.end();
  });

  it("follows ZenML's layout for pipeline steps: one shared run, nested children, deep links", async () => {
    const pipeline = `training-${Date.now()}`;
    const base: Omit<StepRunInfo, 'stepName' | 'stepRunId'> = {
      pipelineName: pipeline,
      pipelineRunName: `${pipeline}-run-1`,
      pipelineRunId: `pr-${Date.now()}`,
    };
    const flat = tracker();
    const load = await runs(flat).runStep(
      { ...base, stepName: 'load', stepRunId: `${base.pipelineRunId}-load` },
      (run) => {
        run.logMetric('rows', 150);
        return run.uid;
      },
    );
    const train = await runs(flat).runStep(
      { ...base, stepName: 'train', stepRunId: `${base.pipelineRunId}-train` },
      (run) => {
        run.logMetric('loss', 0.1);
        return run.uid;
      },
    );
    expect(train.value).toBe(load.value);
    expect(train.metadata.mlflow_run_id).toBe(load.metadata.mlflow_run_id);
    const runId = train.metadata.mlflow_run_id!;
    const experimentId = train.metadata.mlflow_experiment_id!;
    expect(train.metadata.experiment_tracker_url).toBe(
      `${server.url}/#/experiments/${experimentId}/runs/${runId}`,
    );
    const shared = await oracle.run(runId);
    expect(shared.run_name).toBe(base.pipelineRunName);
    expect(Object.keys(shared.metrics).sort()).toEqual(['loss', 'rows']);
    expect(await oracle.runs(pipeline)).toEqual([runId]);

    const nested = tracker({ nested: true });
    const other = {
      ...base,
      pipelineRunId: `${base.pipelineRunId}-n`,
      pipelineRunName: `${pipeline}-run-2`,
    };
    const a = await runs(nested).runStep(
      { ...other, stepName: 'a', stepRunId: `${other.pipelineRunId}-a` },
      () => 1,
    );
    const b = await runs(nested).runStep(
      { ...other, stepName: 'b', stepRunId: `${other.pipelineRunId}-b` },
      () => 2,
    );
    expect(a.metadata.mlflow_run_id).not.toBe(b.metadata.mlflow_run_id);
    const [childA, childB] = await Promise.all([
      oracle.run(a.metadata.mlflow_run_id!),
      oracle.run(b.metadata.mlflow_run_id!),
    ]);
    expect(childA.tags['mlflow.parentRunId']).toBeDefined();
    expect(childA.tags['mlflow.parentRunId']).toBe(childB.tags['mlflow.parentRunId']);
    expect(childA.run_name).toBe('a');
    expect((await oracle.run(childA.tags['mlflow.parentRunId']!)).run_name).toBe(
      other.pipelineRunName,
    );
  });

  it('nests child runs under their parent: startChild, and a parent given by uid from another tracker', async () => {
    const parent = await runs(tracker()).startRun({ experiment: 'children', name: 'parent' });
    const child = await parent.startChild({ name: 'child' });
    // A worker knows only the parent's uid; it reads the parent's MLflow run from the store.
    const worker = await runs(tracker()).startRun({
      experiment: 'children',
      name: 'worker',
      parent: parent.uid,
    });
    await parent.end();
    child.logMetric('m', 1);
    worker.logMetric('m', 2);
    await Promise.all([child.end(), worker.end()]);
    const parentId = (await refOf(parent)).runId;
    for (const run of [child, worker]) {
      const seen = await oracle.run((await refOf(run)).runId);
      expect(seen.tags['mlflow.parentRunId'], run.name).toBe(parentId);
      expect(seen.status, run.name).toBe('FINISHED');
    }
    expect((await oracle.run(parentId)).status).toBe('FINISHED');
  });

  it('verifies the connection, and names an unreachable server as retryable', async () => {
    await expect(tracker().validateConnection()).resolves.toBeUndefined();
    const down = tracker({ tracking_uri: 'http://127.0.0.1:9' });
    await expect(down.validateConnection()).rejects.toSatisfy(
      (e: unknown) => BackendError.isInstance(e) && e.retryable,
    );
  });
});

describe('MLflow with basic auth', () => {
  let authServer: MlflowServer;
  const password = 'trackstack-admin-pw-1234';

  beforeAll(async () => {
    authServer = await startMlflowServer({ auth: { adminPassword: password } });
  });
  afterAll(async () => {
    await authServer?.stop();
  });

  const authTracker = (config: Partial<MlflowConfig>) =>
    new MlflowExperimentTracker(
      { nested: false, tags: {}, request_timeout_s: 30, tracking_uri: authServer.url, ...config },
      { storeDir, logger: silentLogger },
    );

  it('logs with the right credentials and reads back with them', async () => {
    const t = authTracker({
      tracking_username: authServer.auth!.username,
      tracking_password: password,
    });
    await t.validateConnection();
    const run = await runs(t).startRun({ experiment: 'with-auth' });
    run.logMetric('m', 1);
    expect((await run.end()).pendingEvents).toBe(0);
    const authOracle = new MlflowOracle(authServer.env.python, authServer.url, {
      MLFLOW_TRACKING_USERNAME: authServer.auth!.username,
      MLFLOW_TRACKING_PASSWORD: password,
    });
    try {
      expect((await authOracle.run((await refOf(run)).runId)).metrics.m?.count).toBe(1);
    } finally {
      authOracle.close();
    }
  });

  it('refuses wrong credentials with a typed, final error that never shows the password', async () => {
    const t = authTracker({
      tracking_username: authServer.auth!.username,
      tracking_password: 'wrong-password-123',
    });
    const error = await t.validateConnection().catch((e: unknown) => e);
    expect(BackendError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ statusCode: 401, retryable: false });
    expect(JSON.stringify(error) + String(error)).not.toContain('wrong-password-123');
    const run = await runs(t).startRun({ experiment: 'no-auth', startTimeoutMs: 5000 });
    run.logMetric('kept', 1);
    const report = await run.end('FINISHED', { timeoutMs: 2000 });
    expect(report.destinations[0]?.errors.map((e) => (e as BackendError).statusCode)).toEqual([
      401,
    ]);
    expect(report.hint).toContain('trackstack sync');
  });
});
