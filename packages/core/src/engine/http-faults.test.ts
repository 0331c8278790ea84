import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaultyServer, HttpJsonTracker } from '../__fixtures__/http-json-backend.js';
import { silentLogger } from '../contract/log.js';
import { describeFlavorConformance, metricHistories } from '../testing/conformance.js';
import { createTracker } from '../tracker/tracker.js';

const server = new FaultyServer();
let url: string;
let storeDir: string;

beforeAll(async () => {
  url = await server.start();
  storeDir = await mkdtemp(join(tmpdir(), 'trackstack-http-'));
});
afterAll(async () => {
  await server.stop();
  await rm(storeDir, { recursive: true, force: true });
});

const tracker = (timeoutMs = 2000, maxMetrics = 1000) =>
  createTracker(
    new HttpJsonTracker(
      { url, timeout_ms: timeoutMs, max_metrics_per_batch: maxMetrics },
      { storeDir },
    ),
    { logger: silentLogger, runDefaults: { bufferSize: 500 } },
  );

describe('a loopback HTTP backend that fails on purpose', () => {
  it('loses and duplicates nothing through 429, 503, resets and stalls', async () => {
    server.randomFaults = { match: '/', rate: 0.3, seed: 12345 };
    try {
      const run = await tracker(300, 50).startRun({ experiment: 'faults', startTimeoutMs: 30_000 });
      run.logParams({ lr: 0.1, depth: 3 });
      run.setTags({ kind: 'storm' });
      for (let step = 0; step < 5000; step++) {
        run.logMetrics(
          { a: step, b: step % 7 === 0 ? Number.NaN : -step },
          { step, timestamp: 1_700_000_000_000 + step },
        );
      }
      const report = await run.end('FINISHED', { timeoutMs: 60_000 });
      expect(report.pendingEvents).toBe(0);
      expect(report.destinations[0]!.errors).toEqual([]);
      // Every kind of fault happened, many times over.
      expect(server.faultsInjected).toBeGreaterThan(40);
      for (const kind of ['429', '503', 'reset-before', 'reset-after', 'stall'] as const) {
        expect(server.faultCounts[kind] ?? 0).toBeGreaterThan(0);
      }
      const stored = server.byUid(run.uid)!;
      expect([...server.runs.values()].filter((r) => r.uid === run.uid)).toHaveLength(1);
      expect(stored.status).toBe('FINISHED');
      expect(Object.fromEntries(stored.params)).toEqual({ lr: '0.1', depth: '3' });
      expect(stored.tags.get('kind')).toBe('storm');
      const a = stored.metrics.filter((m) => m.key === 'a');
      const b = stored.metrics.filter((m) => m.key === 'b');
      expect(a.map((m) => m.step).sort((x, y) => x - y)).toEqual(
        Array.from({ length: 5000 }, (_, i) => i),
      );
      expect(b).toHaveLength(5000);
      expect(b.filter((m) => Number.isNaN(m.value))).toHaveLength(715);
    } finally {
      server.randomFaults = undefined;
    }
  });

  it('waits out Retry-After before sending again', async () => {
    const run = await tracker().startRun({ experiment: 'retry-after', flushIntervalMs: 0 });
    const before = server.requests;
    server.faults.push({ match: '/batch', fault: '429' });
    run.logMetric('m', 1);
    const started = Date.now();
    await run.flush();
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
    expect(server.requests - before).toBe(2);
    await run.end();
  });

  it('surfaces a 4xx as a typed error from flush() and keeps delivering', async () => {
    const run = await tracker().startRun({ experiment: 'conflict', flushIntervalMs: 0 });
    run.logParams({ p: 1 });
    await run.flush();
    // Another writer changed the param on the server: the next write of p conflicts.
    server.byUid(run.uid)!.params.set('q', 'theirs');
    run.logParams({ q: 'mine' });
    await expect(run.flush()).rejects.toMatchObject({ code: 'BACKEND_REJECTED', statusCode: 400 });
    run.logMetric('after', 1);
    const report = await run.end();
    expect(report.destinations[0]!.errors).toHaveLength(1);
    expect(server.byUid(run.uid)!.metrics.map((m) => m.key)).toEqual(['after']);
    expect(server.byUid(run.uid)!.status).toBe('FINISHED');
  });
});

describeFlavorConformance({
  name: 'http-json',
  createTracker: ({ storeDir }) =>
    new HttpJsonTracker({ url, timeout_ms: 2000, max_metrics_per_batch: 1000 }, { storeDir }),
  readRun: async (_tracker, run) => {
    const stored = server.byUid(run.uid);
    if (stored === undefined) throw new Error(`run ${run.uid} is not on the server`);
    return {
      status: stored.status as 'FINISHED',
      params: Object.fromEntries(stored.params),
      tags: Object.fromEntries(stored.tags),
      metrics: metricHistories(stored.metrics),
      artifacts: Object.fromEntries(stored.artifacts),
    };
  },
  capabilities: { nestedRuns: false },
});
