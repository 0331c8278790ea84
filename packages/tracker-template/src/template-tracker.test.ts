/**
 * The flavor against the reference server it ships with: the conformance kit
 * first, then what the kit does not cover (idempotent create, reopen, auth,
 * and real faults on the wire: 429, 503, connections reset before and after
 * the server applied a request).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackendError, createTracker, type RunRef, silentLogger } from '@trackstack/core';
import {
  type BackendRunView,
  describeFlavorConformance,
  metricHistories,
} from '@trackstack/core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFaultProxy } from './__fixtures__/fault-proxy.js';
import { decodeNumber } from './template-client.js';
import type { TemplateConfig } from './template-config.js';
import { TemplateError } from './template-error.js';
import { TemplateServer } from './template-server.js';
import { TemplateExperimentTracker } from './template-tracker.js';

const TOKEN = 'test-token-5b1e';

let server: TemplateServer;
let storeDir: string;

beforeAll(async () => {
  server = new TemplateServer({ token: TOKEN });
  await server.start();
  storeDir = await mkdtemp(join(tmpdir(), 'trackstack-template-'));
});

afterAll(async () => {
  await server?.close();
  await rm(storeDir, { recursive: true, force: true });
});

/** The flavor's tracker, whose primitives these tests call. */
function tracker(config: Partial<TemplateConfig> = {}): TemplateExperimentTracker {
  return new TemplateExperimentTracker(
    { endpoint_url: server.url, api_token: TOKEN, timeout_s: 5, ...config },
    { storeDir, logger: silentLogger },
  );
}

/** What a user holds: runs of that tracker, with core's defaults. */
const runs = (flavor: TemplateExperimentTracker) => createTracker(flavor, { logger: silentLogger });

/** What the server holds, as the conformance kit compares it. */
function view(runId: string): BackendRunView {
  const run = server.getRun(runId);
  if (run === undefined) throw new Error(`the server has no run ${runId}`);
  return {
    status: run.status,
    params: run.params,
    tags: run.tags,
    metrics: metricHistories(run.metrics.map((m) => ({ ...m, value: decodeNumber(m.value) }))),
    artifacts: Object.fromEntries(run.artifacts.map((a) => [a.path, a.sha256])),
    parentRunId: run.parent_id ?? undefined,
    // Images are the artifacts media/<key>/step-<n>.<ext> (template-tracker.ts, logMedia).
    media: run.artifacts.flatMap((a) => {
      const match = /^media\/(.+)\/step-(\d+)\.(png|jpg)$/.exec(a.path);
      return match === null
        ? []
        : [{ kind: 'image' as const, key: match[1]!, step: Number(match[2]), sha256: a.sha256 }];
    }),
  };
}

describeFlavorConformance({
  name: 'template',
  createTracker: ({ storeDir: dir }) =>
    new TemplateExperimentTracker(
      { endpoint_url: server.url, api_token: TOKEN, timeout_s: 5 },
      { storeDir: dir },
    ),
  readRun: async (_tracker, run) => view(run.ref!.runId),
});

describe('the template flavor', () => {
  it('creates one run per uid, however often createRun is called', async () => {
    const t = tracker();
    const init = {
      uid: `uid-${Date.now()}`,
      experiment: 'idempotent',
      name: 'twice',
      tags: {},
      startTime: Date.now(),
    };
    const [a, b] = await Promise.all([t.createRun(init), t.createRun(init)]);
    expect(b.runId).toBe(a.runId);
    expect(a.url).toBe(`${server.url}/runs/${a.runId}`);
    expect(server.listRuns().filter((r) => r.uid === init.uid)).toHaveLength(1);
  });

  it('reopens an ended run only when the run goes on', async () => {
    const t = tracker();
    const run = await runs(t).startRun({ experiment: 'reopen' });
    await run.end();
    const ref = (await run.backendRef(t.name)) as RunRef;
    await t.resumeRun(ref, { reopen: false });
    expect(server.getRun(ref.runId)?.status).toBe('FINISHED');
    await t.resumeRun(ref, { reopen: true });
    expect(server.getRun(ref.runId)).toMatchObject({ status: 'RUNNING', end_time: null });
    await expect(t.resumeRun({ runId: 'no-such-run' }, { reopen: true })).rejects.toSatisfy(
      (e: unknown) =>
        TemplateError.isInstance(e) && e.errorCode === 'RUN_NOT_FOUND' && !e.retryable,
    );
  });

  it('verifies the connection, and says what is wrong without showing the token', async () => {
    await expect(tracker().validateConnection()).resolves.toBeUndefined();
    const refused = await tracker({ api_token: 'wrong-token' })
      .validateConnection()
      .catch((e: unknown) => e);
    expect(TemplateError.isInstance(refused) && refused.statusCode).toBe(401);
    expect(BackendError.isInstance(refused) && refused.retryable).toBe(false);
    expect(String((refused as Error).message)).not.toContain('wrong-token');
    const down = await tracker({ endpoint_url: 'http://127.0.0.1:9' })
      .validateConnection()
      .catch((e: unknown) => e);
    expect(BackendError.isInstance(down) && down.retryable).toBe(true);
  });

  it('gives the server run id and URL as step metadata', async () => {
    const { metadata } = await runs(tracker()).runStep(
      {
        pipelineName: 'training',
        pipelineRunName: 'training-1',
        pipelineRunId: 'c0ffee00-0000-4000-8000-000000000001',
        stepName: 'trainer',
        stepRunId: `step-${Date.now()}`,
      },
      (run) => run.logMetric('loss', 0.1),
    );
    expect(metadata.experiment_tracker_url).toBe(`${server.url}/runs/${metadata.template_run_id}`);
    expect(server.getRun(metadata.template_run_id!)?.status).toBe('FINISHED');
  });
});

describe('faults on the wire', () => {
  it('loses and duplicates nothing through 429 with Retry-After, 503 and resets', async () => {
    const proxy = await startFaultProxy(server.url);
    try {
      // The answer to the first create is lost after the server made the run.
      proxy.failNext(/^POST \/runs$/, 'reset-after');
      proxy.failNext(/\/batch$/, { status: 429, headers: { 'retry-after': '0.1' } }, 2);
      proxy.failNext(/\/batch$/, { status: 503, body: 'upstream unavailable' }, 2);
      proxy.failNext(/\/batch$/, 'reset-before', 2);
      proxy.failNext(/\/batch$/, 'reset-after', 2);
      proxy.failNext(/\/artifacts\//, 'reset-before');
      proxy.failNext(/\/finish$/, { status: 503 });
      const run = await runs(tracker({ endpoint_url: proxy.url })).startRun({
        experiment: 'faults',
        bufferSize: 500,
      });
      run.logParams({ lr: 0.01, layers: [64, 32] });
      for (let step = 0; step < 12_000; step++) {
        run.logMetric('loss', 1 / (step + 1), { step, timestamp: 1_760_000_000_000 + step });
      }
      const model = join(storeDir, 'model.json');
      await writeFile(model, JSON.stringify({ weights: [1, 2, 3] }));
      await run.logArtifact(model);
      const report = await run.end();
      expect(report.pendingEvents).toBe(0);
      expect(report.destinations[0]?.errors).toEqual([]);
      expect(proxy.injected).toEqual({
        'reset-after': 3,
        '429': 2,
        '503': 3,
        'reset-before': 3,
      });
      const stored = server.findByUid(run.uid)!;
      expect(server.listRuns().filter((r) => r.uid === run.uid)).toHaveLength(1);
      expect(stored.status).toBe('FINISHED');
      expect(stored.params).toEqual({ lr: '0.01', layers: '[64,32]' });
      const steps = stored.metrics.map((m) => m.step).sort((a, b) => a - b);
      expect(steps).toEqual(Array.from({ length: 12_000 }, (_, i) => i));
      expect(Buffer.from(server.getArtifact(stored.id, 'model.json')!).toString()).toBe(
        JSON.stringify({ weights: [1, 2, 3] }),
      );
    } finally {
      await proxy.close();
    }
  });
});
