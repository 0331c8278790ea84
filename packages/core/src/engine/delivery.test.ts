import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BackendError } from '../contract/errors.js';
import { silentLogger } from '../contract/log.js';
import { LocalRuns } from '../local/local-runs.js';
import { InMemoryBackend, InMemoryTracker } from '../testing/in-memory-tracker.js';
import { createTracker } from '../tracker/tracker.js';
import { JournalReader } from './journal.js';

let storeDir: string;
let backendName: string;
let counter = 0;

beforeEach(async () => {
  storeDir = await mkdtemp(join(tmpdir(), 'trackstack-delivery-'));
  backendName = `delivery-${process.pid}-${++counter}`;
});
afterEach(async () => {
  vi.restoreAllMocks();
  await rm(storeDir, { recursive: true, force: true });
});

const backend = () => InMemoryBackend.get(backendName);
const runs = () =>
  createTracker(
    new InMemoryTracker({ backend: backendName, ordered_writes: false }, { storeDir }),
    {
      logger: silentLogger,
    },
  );
const stored = (uid: string) => backend().findByUid(uid)!;

describe('flush() and end() wait for the journal position at the call', () => {
  it('resolve only once what was logged before the call is acknowledged, even when the delivery read the journal just before it was written', async () => {
    const run = await runs().startRun({ flushIntervalMs: 0 });
    // The delivery's first read after the backend acknowledged m=1 samples the file before m=2
    // is written, and is held until the second flush() below has started waiting: the read
    // comes back with nothing new just as that flush looks at the delivery (issue 22's race).
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let held = false;
    const read = JournalReader.prototype.read;
    vi.spyOn(JournalReader.prototype, 'read').mockImplementation(async function (
      this: JournalReader,
      maxBytes?: number,
    ) {
      const acknowledged = backend().findByUid(run.uid)?.metrics.length === 1;
      const records = await read.call(this, maxBytes);
      if (!held && acknowledged) {
        held = true;
        await gate;
      }
      return records;
    });

    run.logMetric('m', 1, { step: 0 });
    await run.flush();
    for (let i = 0; i < 200 && !held; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(held).toBe(true);

    run.logMetric('m', 2, { step: 1 });
    let resolved = false;
    const flushed = run.flush().then((report) => {
      resolved = true;
      return report;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(resolved).toBe(false);
    release();
    const report = await flushed;
    expect(report.pendingEvents).toBe(0);
    expect(stored(run.uid).metrics.map((p) => p.value)).toEqual([1, 2]);
    await run.end();
    expect(stored(run.uid).status).toBe('FINISHED');
  });

  it('sends the final status only after every earlier event, even when requests go at once', async () => {
    const run = await createTracker(
      new InMemoryTracker(
        { backend: backendName, ordered_writes: false, max_metrics_per_batch: 100 },
        { storeDir },
      ),
      { logger: silentLogger },
    ).startRun({ bufferSize: 100 });
    backend().latencyMs = 5;
    for (let step = 0; step < 2000; step++) run.logMetric('m', step, { step });
    await run.end();
    const calls = backend().calls.filter((c) => c.runId !== undefined);
    expect(calls.at(-1)?.op).toBe('finishRun');
    expect(calls.filter((c) => c.op === 'writeBatch').length).toBeGreaterThanOrEqual(20);
    expect(stored(run.uid).metrics).toHaveLength(2000);
    backend().latencyMs = 0;
  });
});

describe('a backend that comes back', () => {
  it('gets everything within about a second of answering again, with the default retry policy', async () => {
    const run = await runs().startRun({ flushIntervalMs: 20 });
    backend().breakDown(
      'writeBatch',
      () => new BackendError('BACKEND_UNREACHABLE', 'refused', { retryable: true }),
    );
    // Down long enough for a backoff of the retry policy to have grown to seconds.
    for (let second = 0; second < 6; second++) {
      for (let i = 0; i < 10; i++) run.logMetric('m', second * 10 + i, { step: second * 10 + i });
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    const failures = backend().calls.filter((c) => c.op === 'writeBatch').length;
    // One probe at a time, at most about one a second (with jitter), not a retry per batch.
    expect(failures).toBeLessThanOrEqual(12);
    backend().heal();
    const healedAt = Date.now();
    while (stored(run.uid).metrics.length < 60 && Date.now() - healedAt < 5000) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const caughtUpMs = Date.now() - healedAt;
    expect(stored(run.uid).metrics).toHaveLength(60);
    // The probe cadence is at most a second; the retry policy's backoff (attempt 5: 8-16 s) is
    // not waited out. (health.test.ts checks the cadence itself with a fake clock.)
    expect(caughtUpMs).toBeLessThan(3000);
    const report = await run.end();
    expect(report.pendingEvents).toBe(0);
  });

  it('spends end() delivering: a waiting probe goes at once', async () => {
    const run = await runs().startRun({ flushIntervalMs: 0 });
    backend().failNext(
      'writeBatch',
      () => new BackendError('BACKEND_UNREACHABLE', 'refused', { retryable: true }),
      5,
    );
    run.logMetric('m', 1);
    await run.flush({ timeoutMs: 0 }).catch(() => undefined);
    const started = Date.now();
    const report = await run.end();
    expect(report.pendingEvents).toBe(0);
    // Five failed probes at the probe cadence (at most a second apart): the retry policy's
    // backoffs would add up to 7.75-15.5 s.
    expect(Date.now() - started).toBeLessThan(6000);
    expect(stored(run.uid).status).toBe('FINISHED');
  });
});

describe('what the user is told while the backend does not take requests', () => {
  function recordingLogger() {
    const lines: string[] = [];
    return {
      lines,
      warn: (message: string) => lines.push(`warn ${message}`),
      info: (message: string) => lines.push(`info ${message}`),
      debug: () => {},
    };
  }
  const full = () =>
    new BackendError('BACKEND_UNAVAILABLE', 'writeBatch: the backend answered 503', {
      retryable: true,
      statusCode: 503,
      hint: 'its database has no connection left: raise max_connections',
    });

  it('a warning with the answer and what it means, once; the end report says why events wait', async () => {
    const logger = recordingLogger();
    const run = await runs().startRun({ flushIntervalMs: 0, logger });
    backend().breakDown('writeBatch', full);
    for (let i = 0; i < 5; i++) {
      run.logMetric('m', i, { step: i });
      await run.flush({ timeoutMs: 300 });
    }
    const warnings = logger.lines.filter((line) => line.startsWith('warn'));
    expect(warnings).toEqual([
      'warn memory: the backend cannot take requests now (writeBatch: the backend answered 503: its database has no connection left: raise max_connections); logging goes on into the journal, and delivery resumes as soon as it answers',
    ]);
    // end() waits as long as the caller says, then says what is still failing, and where the
    // events are.
    const report = await run.end('FINISHED', { timeoutMs: 300 });
    expect(report.pendingEvents).toBeGreaterThan(0);
    expect(report.hint).toContain('memory last failed with: writeBatch: the backend answered 503');
    expect(report.hint).toContain('raise max_connections');
    expect(report.hint).toContain(`trackstack sync ${run.uid}`);
  });

  it('says when a request has had no answer for 30 s, and when answers come promptly again', async () => {
    const logger = recordingLogger();
    const run = await runs().startRun({ flushIntervalMs: 0, logger });
    backend().latencyMs = 40_000;
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    try {
      const calls = vi.spyOn(backend(), 'call');
      const writeStarted = async () => {
        // Real I/O (the journal read) goes on while the fake clock stands still.
        const count = calls.mock.calls.filter(([op]) => op === 'writeBatch').length;
        for (let i = 0; i < 2000; i++) {
          if (calls.mock.calls.filter(([op]) => op === 'writeBatch').length > count) return;
          await new Promise((resolve) => setImmediate(resolve));
        }
        throw new Error('the delivery sent no write');
      };
      run.logMetric('m', 1, { step: 0 });
      const flushed = run.flush({ timeoutMs: 60_000 });
      await writeStarted();
      const advance = async (ms: number) => {
        for (let t = 0; t < ms; t += 500) {
          // Real I/O (the journal) between fake half-seconds.
          await new Promise((resolve) => setImmediate(resolve));
          await new Promise((resolve) => setImmediate(resolve));
          await vi.advanceTimersByTimeAsync(500);
        }
      };
      await advance(29_000);
      expect(logger.lines.filter((line) => line.includes('no answer'))).toEqual([]);
      await advance(2_000);
      expect(logger.lines.filter((line) => line.includes('no answer'))).toEqual([
        "warn memory: a write request has had no answer for 30 s: the backend is slow (overloaded, or waiting on its database); logging goes on into the journal, and the request is given up to the tracker's request timeout, then sent again",
      ]);
      await advance(10_000);
      expect((await flushed).pendingEvents).toBe(0);
      backend().latencyMs = 0;
      run.logMetric('m', 2, { step: 1 });
      const again = run.flush({ timeoutMs: 10_000 });
      await writeStarted();
      await advance(1_000);
      expect((await again).pendingEvents).toBe(0);
      expect(logger.lines.at(-1)).toBe('info memory: the backend answers promptly again');
    } finally {
      vi.useRealTimers();
    }
    await run.end();
  });
});

describe("a run's delivery state, as the store reads it (LocalRuns.deliveries)", () => {
  it('counts the records a destination has not acknowledged, then its finished run', async () => {
    const run = await runs().startRun({ flushIntervalMs: 20, systemMetrics: false });
    await run.flush();
    const store = new LocalRuns(storeDir, silentLogger);
    const [ready] = await store.deliveries(run.uid);
    expect(ready).toMatchObject({ runId: stored(run.uid).runId, pending: 0, finished: undefined });
    backend().breakDown(
      'writeBatch',
      () => new BackendError('BACKEND_UNREACHABLE', 'refused', { retryable: true }),
    );
    for (let i = 0; i < 5; i++) {
      run.logMetric('m', i, { step: i });
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const [down] = await store.deliveries(run.uid);
    expect(down!.pending).toBeGreaterThan(0);
    expect((await store.view(run.uid)).deliveries).toEqual([down]);
    backend().heal();
    await run.end();
    const [done] = await store.deliveries(run.uid);
    expect(done).toEqual({
      destination: (await store.get(run.uid)).destinations[0],
      runId: stored(run.uid).runId,
      url: `memory://${backendName}/${stored(run.uid).runId}`,
      pending: 0,
      finished: 'FINISHED',
    });
  });
});

describe('a process that joined a run (attach)', () => {
  it("waits for the owner's backend run instead of creating one beside it", async () => {
    // The owner's create is slow: the joining process starts while it is in flight.
    backend().latencyMs = 300;
    const owning = runs().startRun({ flushIntervalMs: 20, systemMetrics: false });
    let uid: string | undefined;
    while (uid === undefined) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      uid = (await new LocalRuns(storeDir, silentLogger).list())[0]?.uid;
    }
    const joined = await runs().startRun({ id: uid, attach: true, systemMetrics: false });
    joined.logMetric('m', 1, { step: 0 });
    await joined.end();
    const owner = await owning;
    owner.logMetric('m', 2, { step: 1 });
    await owner.end();
    backend().latencyMs = 0;
    expect(backend().calls.filter((c) => c.op === 'createRun')).toHaveLength(1);
    expect(
      stored(uid)
        .metrics.map((p) => p.value)
        .sort(),
    ).toEqual([1, 2]);
    expect(stored(uid).status).toBe('FINISHED');
  });
});
