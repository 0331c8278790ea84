/**
 * Promise: a backend that errors never makes a logging call throw; nothing accepted is lost;
 * replays do not duplicate; refusals are typed and do not stop the rest.
 *
 * A fault proxy in front of a real MLflow server injects, at random with a fixed seed (plus
 * one of each kind up front, so every kind is exercised): 429 with Retry-After, 500, 502,
 * 503, 504, connection resets, stalls past the request timeout (request_timeout_s = 1) and
 * truncated answers (the server acted, the client never hears it). MLflow's Python client
 * then reads everything back.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackendError, createTracker, type FlavorLimits, silentLogger } from '@trackstack/core';
import {
  type Fault,
  type FaultLogEntry,
  MlflowOracle,
  type MlflowServer,
  startFaultProxy,
  startMlflowServer,
} from '@trackstack/test-harness';
import { MlflowError, MlflowExperimentTracker } from '@trackstack/tracker-mlflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordFigures, recordingLogger, round, sleep } from './support/util.js';

let server: MlflowServer;
let oracle: MlflowOracle;
let work: string;

beforeAll(async () => {
  server = await startMlflowServer();
  oracle = new MlflowOracle(server.env.python, server.url);
  work = await mkdtemp(join(tmpdir(), 'trackstack-faults-'));
});

afterAll(async () => {
  oracle?.close();
  await server?.stop();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

/** The MLflow flavor with small batches, so that thousands of points make hundreds of requests. */
class SmallBatches extends MlflowExperimentTracker {
  override get limits(): FlavorLimits {
    const { logging, request } = super.limits;
    return { logging, request: { ...request, maxMetrics: 50, maxParams: 20, maxTags: 20 } };
  }
}

const FAULTS: Fault[] = [
  {
    status: 429,
    headers: { 'retry-after': '0.2' },
    body: '{"error_code":"REQUEST_LIMIT_EXCEEDED","message":"slow down"}',
  },
  { status: 500, body: 'internal error' },
  { status: 502, body: 'bad gateway' },
  { status: 503, body: 'unavailable' },
  { status: 504, body: 'gateway timeout' },
  'reset',
  'stall',
  'truncate',
];

function faultName(entry: FaultLogEntry): string {
  return entry.fault === 'status' ? String(entry.status) : entry.fault!;
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

describe('MLflow behind a fault proxy', () => {
  it('loses and duplicates nothing through 429, 5xx, resets, stalls and truncated answers', async () => {
    const proxy = await startFaultProxy(server.url);
    const logger = recordingLogger();
    try {
      // One of each kind on the first requests, then random faults at a fixed seed.
      for (const fault of FAULTS) proxy.failNext(/log-batch|runs\/create/, fault);
      for (const fault of ['truncate', 'reset', 'stall', { status: 503 }] as Fault[])
        proxy.failNext(/mlflow-artifacts/, fault);
      proxy.randomFaults({ rate: 0.2, seed: 20_240_601, kinds: FAULTS });
      const tracker = createTracker(
        new SmallBatches(
          { nested: false, tags: {}, request_timeout_s: 1, tracking_uri: proxy.url },
          { storeDir: join(work, 'store'), logger },
        ),
      );
      const started = Date.now();
      const run = await tracker.startRun({
        experiment: 'faults',
        name: 'seeded',
        startTimeoutMs: 60_000,
        bufferSize: 200,
        flushIntervalMs: 20,
        logger,
      });

      const files = join(work, 'files');
      await mkdir(join(files, 'dir', 'sub'), { recursive: true });
      const contents: Record<string, string> = {
        'model.json': JSON.stringify({ weights: Array.from({ length: 2000 }, (_, i) => i) }),
        'dir/a.txt': 'a'.repeat(10_000),
        'dir/sub/b.csv': 'x,y\n1,2\n',
        'dir/c.bin': 'c'.repeat(100_000),
      };
      for (const [path, text] of Object.entries(contents)) await writeFile(join(files, path), text);

      const params = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`p${i}`, i]));
      const tags = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`t${i}`, `v${i}`]));
      let throws = 0;
      const steps = 3000;
      try {
        run.logParams(params);
        run.setTags(tags);
      } catch {
        throws += 1;
      }
      for (let step = 0; step < steps; step++) {
        try {
          run.logMetrics({ loss: 1 / (step + 1), acc: step / steps }, { step });
          if (step % 100 === 0) run.logMetric('sparse', step, { step });
        } catch {
          throws += 1;
        }
        if (step === 1000) {
          await run.logArtifact(join(files, 'model.json'));
          await run.logArtifact(join(files, 'dir'), { artifactPath: 'outputs' });
        }
        if (step % 50 === 0) await sleep(5);
      }
      run.setTag('t0', 'changed'); // tags are mutable: the last value wins
      const report = await run.end();
      const elapsed = Date.now() - started;

      const byKind: Record<string, number> = {};
      for (const entry of proxy.log.filter((e) => e.fault !== undefined)) {
        const name = faultName(entry);
        byKind[name] = (byKind[name] ?? 0) + 1;
      }
      const byEndpoint: Record<string, number> = {};
      for (const entry of proxy.log.filter((e) => e.fault !== undefined)) {
        const endpoint = entry.path.split('?')[0]!.replace(/\/artifacts\/.*/, '/artifacts/*');
        byEndpoint[endpoint] = (byEndpoint[endpoint] ?? 0) + 1;
      }
      await recordFigures('faults', {
        requests: proxy.requests,
        faults: Object.values(byKind).reduce((a, b) => a + b, 0),
        byKind,
        byEndpoint,
        points: steps * 2 + steps / 100,
        params: 150,
        tags: 60,
        artifacts: 4,
        seconds: round(elapsed / 1000, 1),
      });

      expect(throws).toBe(0);
      for (const fault of FAULTS) {
        const name = typeof fault === 'string' ? fault : String(fault.status);
        expect(byKind[name], `fault ${name} injected`).toBeGreaterThan(0);
      }
      expect(report.pendingEvents).toBe(0);
      expect(report.destinations[0]?.errors).toEqual([]);
      expect(report.destinations[0]?.finished).toBe(true);

      const ids = await oracle.find('faults', run.uid);
      expect(ids, 'one MLflow run, however often runs/create was retried').toHaveLength(1);
      const seen = await oracle.run(ids[0]!, { artifacts: true });
      expect(seen.status).toBe('FINISHED');
      for (const [key, count] of [
        ['loss', steps],
        ['acc', steps],
        ['sparse', steps / 100],
      ] as const) {
        expect(seen.metrics[key], key).toMatchObject({
          count,
          distinct_steps: count,
          duplicates: 0,
        });
      }
      expect(seen.params).toEqual(
        Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)])),
      );
      const { 'trackstack.uid': uid, t0, ...rest } = seen.tags;
      expect(uid).toBe(run.uid);
      expect(t0).toBe('changed');
      for (const [key, value] of Object.entries(tags).slice(1)) expect(rest[key]).toBe(value);
      expect(seen.artifacts).toEqual({
        'model.json': sha256(contents['model.json']!),
        'outputs/a.txt': sha256(contents['dir/a.txt']!),
        'outputs/c.bin': sha256(contents['dir/c.bin']!),
        'outputs/sub/b.csv': sha256(contents['dir/sub/b.csv']!),
      });
    } finally {
      await proxy.close();
    }
  });

  it('reports non-retryable 4xx as typed errors from flush() and end(), and delivers the rest', async () => {
    const proxy = await startFaultProxy(server.url);
    try {
      const tracker = createTracker(
        new MlflowExperimentTracker(
          { nested: false, tags: {}, request_timeout_s: 5, tracking_uri: proxy.url },
          { storeDir: join(work, 'store'), logger: silentLogger },
        ),
      );
      const run = await tracker.startRun({
        experiment: 'refusals',
        flushIntervalMs: 0,
        logger: silentLogger,
      });
      run.logMetric('before', 1, { step: 0 });
      await run.flush();

      proxy.failNext(
        /log-batch/,
        {
          status: 400,
          headers: { 'content-type': 'application/json' },
          body: '{"error_code":"INVALID_PARAMETER_VALUE","message":"injected refusal"}',
        },
        1,
      );
      run.logMetric('refused', 1, { step: 0 });
      const error = await run.flush().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(BackendError.isInstance(error)).toBe(true);
      expect(MlflowError.isInstance(error)).toBe(true);
      expect(error).toMatchObject({
        code: 'BACKEND_REJECTED',
        statusCode: 400,
        retryable: false,
        errorCode: 'INVALID_PARAMETER_VALUE',
      });

      // The rest goes on: more points, an artifact refused with 413, one accepted.
      const files = join(work, 'refusal-files');
      await mkdir(files, { recursive: true });
      await writeFile(join(files, 'big.bin'), 'b'.repeat(1000));
      await writeFile(join(files, 'ok.txt'), 'ok');
      proxy.failNext(/mlflow-artifacts/, { status: 413, body: 'payload too large' }, 1);
      await run.logArtifact(join(files, 'big.bin'));
      await run.logArtifact(join(files, 'ok.txt'));
      proxy.failNext(/log-batch/, { status: 404, body: '{"error_code":"ENDPOINT_NOT_FOUND"}' }, 1);
      run.logMetric('refused-404', 1, { step: 0 });
      await run.flush().catch(() => undefined);
      for (let step = 0; step < 1000; step++) run.logMetric('after', step, { step });
      const report = await run.end();

      expect(report.pendingEvents).toBe(0);
      expect(report.destinations[0]?.finished).toBe(true);
      const errors = report.destinations[0]!.errors;
      expect(errors.every((e) => BackendError.isInstance(e) && !e.retryable)).toBe(true);
      expect(errors.map((e) => (e as BackendError).statusCode)).toEqual([400, 413, 404]);

      const ref = await run.backendRef('mlflow');
      const seen = await oracle.run(ref!.runId, { artifacts: true });
      expect(seen.status).toBe('FINISHED');
      expect(seen.metrics.before?.count).toBe(1);
      expect(seen.metrics.after).toMatchObject({
        count: 1000,
        distinct_steps: 1000,
        duplicates: 0,
      });
      expect(seen.metrics.refused).toBeUndefined();
      expect(seen.metrics['refused-404']).toBeUndefined();
      expect(Object.keys(seen.artifacts)).toEqual(['ok.txt']);

      // The refusals are recorded beside the cursor, where `sync` will not send them again.
      const deliveryDir = join(run.dir, 'delivery', 'mlflow');
      const cursors = await Promise.all(
        (await readdir(deliveryDir))
          .filter((f) => f !== 'state.json')
          .map(async (f) => JSON.parse(await readFile(join(deliveryDir, f), 'utf8'))),
      );
      const rejected = cursors.flatMap((c: { rejected?: { code: string }[] }) => c.rejected ?? []);
      expect(rejected.map((r) => r.code)).toEqual([
        'BACKEND_REJECTED',
        'BACKEND_REJECTED',
        'BACKEND_REJECTED',
      ]);
    } finally {
      await proxy.close();
    }
  });

  // What MLflow 3.17's SQL store answered under load (load.int.test.ts with the default pool):
  // SQLAlchemy's pool timed out, and ManagedSessionMaker turns any SQLAlchemyError but
  // OperationalError into 400 BAD_REQUEST. The server was busy; the request was fine.
  const POOL_TIMEOUT_BODY = JSON.stringify({
    error_code: 'BAD_REQUEST',
    message:
      'QueuePool limit of size 5 overflow 10 reached, connection timed out, timeout 30.00 (Background on this error at: https://sqlalche.me/e/21/3o7r)',
  });

  it("retries MLflow's 400 for a timed-out database pool (its SQL store under load) instead of dropping the batch", async () => {
    const proxy = await startFaultProxy(server.url);
    try {
      const tracker = createTracker(
        new MlflowExperimentTracker(
          { nested: false, tags: {}, request_timeout_s: 5, tracking_uri: proxy.url },
          { storeDir: join(work, 'store'), logger: silentLogger },
        ),
      );
      const run = await tracker.startRun({
        experiment: 'pool-timeout',
        flushIntervalMs: 0,
        logger: silentLogger,
      });
      proxy.failNext(
        /log-batch/,
        { status: 400, headers: { 'content-type': 'application/json' }, body: POOL_TIMEOUT_BODY },
        2,
      );
      for (let step = 0; step < 100; step++) run.logMetric('busy', step, { step });
      const report = await run.end();
      // Today the first answer is taken as final: the batch is dropped (and the second
      // injected answer is never asked for).
      expect(report.destinations[0]?.errors.map((e) => e.message)).toEqual([]);
      const seen = await oracle.run((await run.backendRef('mlflow'))!.runId);
      expect(seen.metrics.busy).toMatchObject({ count: 100, distinct_steps: 100, duplicates: 0 });
      expect(proxy.faults.status).toBe(2);
    } finally {
      await proxy.close();
    }
  });
});
