import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BackendError, ValidationError } from '../contract/errors.js';
import { silentLogger } from '../contract/log.js';
import { LocalRuns } from '../local/local-runs.js';
import { InMemoryBackend, InMemoryTracker } from '../testing/in-memory-tracker.js';
import type { StartRunOptions } from '../tracker/run.js';
import { createTracker } from '../tracker/tracker.js';
import { JournalReader } from './journal.js';
import { RunDir } from './run-dir.js';

let storeDir: string;
let backendName: string;
let counter = 0;

beforeEach(async () => {
  storeDir = await mkdtemp(join(tmpdir(), 'trackstack-engine-'));
  backendName = `engine-${process.pid}-${++counter}`;
});
afterEach(async () => {
  await rm(storeDir, { recursive: true, force: true });
});

/** An in-memory flavor's tracker (`flavor`, to watch or fail its primitives) and runs of it. */
function tracker(
  config: Partial<{
    max_metrics_per_batch: number;
    ordered_writes: boolean;
    min_write_interval_ms: number;
  }> = {},
) {
  const flavor = new InMemoryTracker(
    { backend: backendName, ordered_writes: config.ordered_writes ?? false, ...config },
    { storeDir, logger: silentLogger },
  );
  const user = createTracker(flavor, { logger: silentLogger });
  return { flavor, startRun: (options?: StartRunOptions) => user.startRun(options) };
}

const backend = () => InMemoryBackend.get(backendName);
const onlyRun = () => {
  const runs = [...backend().runs.values()];
  expect(runs).toHaveLength(1);
  return runs[0]!;
};

describe('batching', () => {
  it('cuts points into batches no larger than the flavor allows, in order', async () => {
    const t = tracker({ max_metrics_per_batch: 70 });
    const run = await t.startRun({ bufferSize: 256 });
    for (let i = 0; i < 1000; i++) run.logMetric('m', i, { step: i });
    const report = await run.end();
    expect(report.pendingEvents).toBe(0);
    const writes = backend().calls.filter((c) => c.op === 'writeBatch');
    expect(Math.max(...writes.map((c) => c.metrics ?? 0))).toBeLessThanOrEqual(70);
    expect(onlyRun().metrics.map((p) => p.value)).toEqual(
      Array.from({ length: 1000 }, (_, i) => i),
    );
  });

  it('keeps params under the per-request param limit and the entity limit', async () => {
    const t = tracker();
    const run = await t.startRun();
    const params: Record<string, number> = {};
    for (let i = 0; i < 250; i++) params[`p${i}`] = i;
    run.logParams(params);
    for (let i = 0; i < 1500; i++) run.logMetric('m', i, { step: i });
    await run.end();
    for (const call of backend().calls.filter((c) => c.op === 'writeBatch')) {
      expect(call.params ?? 0).toBeLessThanOrEqual(100);
      expect((call.params ?? 0) + (call.tags ?? 0) + (call.metrics ?? 0)).toBeLessThanOrEqual(1000);
    }
    expect(onlyRun().params.size).toBe(250);
  });

  it('sends one batch at a time, in journal order, when the flavor needs ordered writes', async () => {
    const t = tracker({ ordered_writes: true, max_metrics_per_batch: 10 });
    backend().latencyMs = 2;
    let inflight = 0;
    let most = 0;
    const original = t.flavor.writeBatch.bind(t.flavor);
    t.flavor.writeBatch = async (ref, batch) => {
      inflight += 1;
      most = Math.max(most, inflight);
      try {
        await original(ref, batch);
      } finally {
        inflight -= 1;
      }
    };
    const run = await t.startRun({ bufferSize: 16 });
    for (let i = 0; i < 200; i++) run.logMetric('m', i, { step: i });
    await run.end();
    expect(most).toBe(1);
    expect(onlyRun().metrics.map((p) => p.step)).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });

  it('runs several batches at once when order does not matter, never more than allowed', async () => {
    const t = tracker({ max_metrics_per_batch: 10 });
    backend().latencyMs = 5;
    let inflight = 0;
    let most = 0;
    const original = t.flavor.writeBatch.bind(t.flavor);
    t.flavor.writeBatch = async (ref, batch) => {
      inflight += 1;
      most = Math.max(most, inflight);
      try {
        await original(ref, batch);
      } finally {
        inflight -= 1;
      }
    };
    const run = await t.startRun({ bufferSize: 1000 });
    for (let i = 0; i < 400; i++) run.logMetric('m', i, { step: i });
    await run.end();
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(t.flavor.capabilities.maxConcurrency);
    expect(onlyRun().metrics).toHaveLength(400);
  });
});

describe('pacing', () => {
  it("keeps writes at least the flavor's interval apart, merging what queued up", async () => {
    const t = tracker({ min_write_interval_ms: 150 });
    const run = await t.startRun({ flushIntervalMs: 5 });
    const started = Date.now();
    for (let i = 0; i < 40; i++) {
      run.logMetric('m', i, { step: i });
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const elapsed = Date.now() - started;
    await run.end();
    const writes = backend().calls.filter((c) => c.op === 'writeBatch');
    // ~40 journal flushes over `elapsed` ms: paced, they make a handful of requests.
    expect(writes.length).toBeLessThanOrEqual(Math.ceil(elapsed / 150) + 2);
    expect(writes.length).toBeLessThan(15);
    expect(onlyRun().metrics.map((p) => p.step)).toEqual(Array.from({ length: 40 }, (_, i) => i));
  });

  it('does not make end() wait for the interval', async () => {
    const t = tracker({ min_write_interval_ms: 60_000 });
    const run = await t.startRun({ flushIntervalMs: 0 });
    run.logMetric('a', 1);
    await run.flush();
    run.logMetric('b', 2);
    const started = Date.now();
    await run.end();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(onlyRun().metrics.map((p) => p.key)).toEqual(['a', 'b']);
  });
});

describe('retries', () => {
  it('retries retryable failures with Retry-After and loses nothing', async () => {
    const t = tracker();
    const run = await t.startRun();
    backend().failNext(
      'writeBatch',
      () =>
        new BackendError('BACKEND_RATE_LIMITED', '429', {
          retryable: true,
          statusCode: 429,
          retryAfterMs: 30,
        }),
      3,
    );
    const started = Date.now();
    for (let i = 0; i < 100; i++) run.logMetric('m', i, { step: i });
    const report = await run.end();
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    expect(report.pendingEvents).toBe(0);
    expect(onlyRun().metrics).toHaveLength(100);
    expect(onlyRun().status).toBe('FINISHED');
  });

  it('reports a refused batch as a typed error and delivers the rest', async () => {
    const t = tracker();
    const run = await t.startRun({ flushIntervalMs: 0 });
    run.logMetric('first', 1);
    backend().failNext(
      'writeBatch',
      () => new BackendError('BACKEND_REJECTED', 'bad', { retryable: false, statusCode: 400 }),
    );
    await expect(run.flush()).rejects.toSatisfy(
      (e: unknown) => BackendError.isInstance(e) && e.statusCode === 400,
    );
    run.logMetric('second', 2);
    const report = await run.end();
    expect(report.destinations[0]!.errors.map((e) => e.code)).toEqual(['BACKEND_REJECTED']);
    expect(onlyRun().metrics.map((p) => p.key)).toEqual(['second']);
    const cursor = await new RunDir(storeDir, run.uid).readCursor(
      t.flavor.name,
      (await new RunDir(storeDir, run.uid).listSegments())[0]!,
    );
    expect(cursor.rejected?.map((r) => r.code)).toEqual(['BACKEND_REJECTED']);
  });

  it('gives up waiting at end() after its timeout and says how to deliver the rest', async () => {
    const t = tracker();
    const run = await t.startRun();
    backend().breakDown(
      'writeBatch',
      () => new BackendError('BACKEND_UNREACHABLE', 'down', { retryable: true }),
    );
    for (let i = 0; i < 10; i++) run.logMetric('m', i, { step: i });
    const started = Date.now();
    const report = await run.end('FINISHED', { timeoutMs: 300 });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(report.pendingEvents).toBe(11);
    expect(report.hint).toContain(`trackstack sync ${run.uid}`);
    backend().heal();
  });
});

describe('outage at start', () => {
  it('goes on journal-only when the backend is down, and creates the run when it is back', async () => {
    const t = tracker();
    backend().breakDown(
      'createRun',
      () => new BackendError('BACKEND_UNREACHABLE', 'refused', { retryable: true }),
    );
    const started = Date.now();
    const run = await t.startRun({ startTimeoutMs: 100 });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(run.url.startsWith('file://')).toBe(true);
    const callStart = performance.now();
    for (let i = 0; i < 1000; i++) run.logMetric('m', i, { step: i });
    expect(performance.now() - callStart).toBeLessThan(200);
    expect(backend().runs.size).toBe(0);
    backend().heal();
    const report = await run.end();
    expect(report.pendingEvents).toBe(0);
    expect(onlyRun().metrics).toHaveLength(1000);
    expect(run.url).toMatch(/^memory:/);
  });

  it('never creates a second backend run when createRun is retried', async () => {
    const t = tracker();
    // The backend creates the run but the answer is lost: the retry must find it.
    let first = true;
    const original = t.flavor.createRun.bind(t.flavor);
    t.flavor.createRun = async (init) => {
      const ref = await original(init);
      if (first) {
        first = false;
        throw new BackendError('BACKEND_UNREACHABLE', 'reset after create', { retryable: true });
      }
      return ref;
    };
    const run = await t.startRun();
    run.logMetric('m', 1);
    await run.end();
    expect(backend().runs.size).toBe(1);
  });
});

describe('validation at the call', () => {
  it('throws typed errors for bad input and logs nothing of a call that throws', async () => {
    const run = await tracker().startRun();
    expect(() => run.logMetrics({ good: 1, 'bad key!': 2 })).toThrow(ValidationError);
    expect(() => run.logMetric('x', 1, { step: -1 })).toThrow(/step/);
    expect(() => run.setTags({ 'trackstack.uid': 'x' })).toThrow(/reserved|trackstack/);
    await run.end();
    expect(onlyRun().metrics).toEqual([]);
  });

  it('refuses to log after end()', async () => {
    const run = await tracker().startRun();
    await run.end();
    expect(() => run.logMetric('m', 1)).toThrow(/ended/);
    await expect(run.end()).resolves.toMatchObject({ status: 'FINISHED' });
  });
});

describe('journal', () => {
  it('journals in batches: a full buffer is written at once, the rest on the timer', async () => {
    const run = await tracker().startRun({ bufferSize: 100, flushIntervalMs: 20, mode: 'offline' });
    const dir = new RunDir(storeDir, run.uid);
    const [segment] = await dir.listSegments();
    const read = async () => new JournalReader(dir.segmentPath(segment!)).readAll();
    for (let i = 0; i < 250; i++) run.logMetric('m', i);
    // Two full buffers are journaled synchronously inside logMetric: read the file at once,
    // synchronously, before the timer can have journaled the rest.
    const lines = readFileSync(dir.segmentPath(segment!), 'utf8').split('\n');
    expect(lines.filter((line) => line.startsWith('{"t":"b"'))).toHaveLength(2);
    await new Promise((resolve) => setTimeout(resolve, 60));
    const records = await read();
    expect(records.filter((r) => r.t === 'b').map((r) => (r.t === 'b' ? r.m?.n : 0))).toEqual([
      100, 100, 50,
    ]);
    await run.end();
  });

  it('keeps the journal file private and the batches exact', async () => {
    const run = await tracker().startRun({ mode: 'offline' });
    run.logMetric('x', Number.NaN, { step: 1 });
    run.logMetric('x', -0, { step: 2 });
    run.logMetric('x', 2 ** -1074, { step: 3 });
    await run.end();
    const history = await new LocalRuns(storeDir).metricHistory(run.uid, 'x');
    expect(Number.isNaN(history[0]!.value)).toBe(true);
    expect(Object.is(history[1]!.value, -0)).toBe(true);
    expect(history[2]!.value).toBe(2 ** -1074);
    const dir = new RunDir(storeDir, run.uid);
    const files = await readdir(dir.journalDir);
    const { stat } = await import('node:fs/promises');
    expect((await stat(join(dir.journalDir, files[0]!))).mode & 0o777).toBe(0o600);
  });

  it('ignores a torn last line left by a killed writer', async () => {
    const run = await tracker().startRun({ mode: 'offline' });
    run.logMetric('m', 1);
    await run.end();
    const dir = new RunDir(storeDir, run.uid);
    const [segment] = await dir.listSegments();
    const { appendFile } = await import('node:fs/promises');
    await appendFile(dir.segmentPath(segment!), '{"t":"b","q":99,"m":{"n":1,"ke');
    const records = await new JournalReader(dir.segmentPath(segment!)).readAll();
    expect(records.map((r) => r.t)).toEqual(['b', 'e']);
  });

  it('names the file and line of a damaged journal', async () => {
    const run = await tracker().startRun({ mode: 'offline' });
    run.logMetric('m', 1);
    await run.end();
    const dir = new RunDir(storeDir, run.uid);
    const [segment] = await dir.listSegments();
    const path = dir.segmentPath(segment!);
    const text = await readFile(path, 'utf8');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(path, text.replace('"t":"b"', '"t":"b",,'));
    await expect(new JournalReader(path).readAll()).rejects.toThrow(`${path} line 2`);
  });
});

describe('memory stays bounded', () => {
  it('holds at most one buffer of points in memory while the backend is down', async () => {
    const t = tracker();
    backend().breakDown(
      '*',
      () => new BackendError('BACKEND_UNREACHABLE', 'down', { retryable: true }),
    );
    const run = await t.startRun({ startTimeoutMs: 10, bufferSize: 4096 });
    global.gc?.();
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 2_000_000; i++) run.logMetric('m', i, { step: i });
    global.gc?.();
    const grown = process.memoryUsage().heapUsed - before;
    // 2e6 points as objects would take well over 100 MB; the journal holds them instead.
    expect(grown).toBeLessThan(64 * 1024 * 1024);
    const report = await run.end('FINISHED', { timeoutMs: 50 });
    expect(report.pendingEvents).toBe(2_000_001);
    backend().heal();
  });
});
