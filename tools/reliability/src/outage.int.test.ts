/**
 * Promise: a logging call never waits for the network and never throws because a backend is
 * down; nothing accepted is lost; memory stays bounded.
 *
 * A run logs steadily (a point every ~2 ms) to a real MLflow server. After 10 s the server is
 * stopped (its whole process group, as `kill` does) for TRACKSTACK_OUTAGE_SECONDS (default 60),
 * then started again by the harness's `restart()` on the same port and the same SQLite
 * database. Every logging call is timed; afterwards MLflow's Python client must hold every
 * point exactly once.
 *
 * The W&B half is wandb-outage.int.test.ts.
 */
import { statSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTracker, type Run, silentLogger, type Tracker } from '@trackstack/core';
import { journalNow } from '@trackstack/core/testing';
import {
  MlflowOracle,
  type MlflowServer,
  startFaultProxy,
  startMlflowServer,
} from '@trackstack/test-harness';
import { MlflowExperimentTracker } from '@trackstack/tracker-mlflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firstLanded, landedNow } from './support/mlflow-landed.js';
import { accepting, stopListener } from './support/processes.js';
import {
  CallTimer,
  caughtUp,
  MAX_CALL_MS,
  OUTAGE_AFTER_S,
  OUTAGE_BEFORE_S,
  outageSeconds,
  P999_CALL_MS,
  recordFigures,
  recordingLogger,
  round,
  sleep,
} from './support/util.js';

const OUTAGE_S = outageSeconds();
const BEFORE_S = OUTAGE_BEFORE_S;
const AFTER_S = OUTAGE_AFTER_S;

let server: MlflowServer;
let oracle: MlflowOracle;
let storeDir: string;

beforeAll(async () => {
  server = await startMlflowServer();
  oracle = new MlflowOracle(server.env.python, server.url);
  storeDir = await mkdtemp(join(tmpdir(), 'trackstack-outage-'));
});

afterAll(async () => {
  oracle?.close();
  await server?.stop();
  if (storeDir !== undefined) await rm(storeDir, { recursive: true, force: true });
});

function tracker(logger = silentLogger, uri = server.url): Tracker {
  return createTracker(
    new MlflowExperimentTracker(
      // The flavor's defaults (request_timeout_s 120 is its default, MLflow's client's too).
      { nested: false, tags: {}, request_timeout_s: 120, tracking_uri: uri },
      { storeDir, logger },
    ),
  );
}

describe('MLflow outage', () => {
  it(`never blocks or throws while the server is down for ${OUTAGE_S} s, and delivers every point exactly once`, async () => {
    const logger = recordingLogger();
    const mlflow = tracker(logger);
    // Core's default settings: delivery resumes when the backend answers a probe (at most a
    // second apart), not when a retry's backoff (up to 60 s) runs out.
    const run = await mlflow.startRun({ experiment: 'outage', name: 'steady' });
    const runRef = await run.backendRef('mlflow');
    expect(runRef?.runId).toBeDefined();
    run.logParams({ lr: 0.01, optimizer: { name: 'adam', beta1: 0.9 }, layers: [64, 32] });
    run.setTags({ phase: 'before' });
    const dbPath = join(server.dir, 'mlflow.db');
    const dbInode = statSync(dbPath).ino;

    const timer = new CallTimer();
    const timed = (fn: () => void) => timer.timed(fn);
    let stop = false;
    let loss = 0;
    let ab = 0;
    let during = 0;
    let run2: Run | undefined;
    let heapMax = 0;
    const heapStart = process.memoryUsage().heapUsed;
    const heapTimer = setInterval(() => {
      heapMax = Math.max(heapMax, process.memoryUsage().heapUsed);
    }, 250);

    const loop = (async () => {
      let step = 0;
      while (!stop) {
        const s = step;
        timed(() => run.logMetric('loss', 1 / (s + 1), { step: s }));
        loss += 1;
        if (s % 10 === 0) {
          timed(() => run.logMetrics({ a: s, b: -s }, { step: s }));
          ab += 1;
        }
        if (s % 1000 === 0) timed(() => run.setTag('last_step', s));
        const r2 = run2;
        if (r2 !== undefined) {
          timed(() => r2.logMetric('during', s, { step: during }));
          during += 1;
        }
        step += 1;
        await sleep(2);
      }
    })();

    const t0 = Date.now();
    await sleep(BEFORE_S * 1000);
    const callsBefore = timer.calls;

    // The outage: the server's process group is stopped; the port refuses connections.
    const downAt = Date.now();
    await stopListener(server.port);
    expect(await accepting(server.port)).toBe(false);

    // A run started while the backend is down: startRun waits a bounded time, then the run
    // goes on journal-only, says so once, and is created when the backend comes back.
    await sleep(2_000);
    const logger2 = recordingLogger();
    const startTimeoutMs = 2_000;
    const startedAt = performance.now();
    run2 = await tracker(logger2).startRun({
      experiment: 'outage',
      name: 'started-during-outage',
      startTimeoutMs,
    });
    const run2StartMs = performance.now() - startedAt;
    const run2Uid = run2.uid;

    await sleep(Math.max(0, OUTAGE_S * 1000 - (Date.now() - downAt)));
    const callsDuring = timer.calls - callsBefore;
    const restartAt = Date.now();
    await server.restart();
    const upAt = Date.now();
    // What the server holds of the run when it answers its first tracking request (a cold
    // server opens its database store then: that is when it is back for writes), then the
    // first write after that, as the server sees it.
    const heldAtRestart = await landedNow(server.url, runRef!.runId);
    const answersAt = Date.now();
    const firstLandedAt = await firstLanded(server.url, runRef!.runId, heldAtRestart, 60_000);
    // The same database: the file is the one from before, and the run created before is there.
    expect(statSync(dbPath).ino).toBe(dbInode);
    const reread = await oracle.run(runRef!.runId);
    expect(reread.run_name).toBe('steady');

    // Until every record journaled before the restart is acknowledged.
    journalNow(run);
    const recoveredAt = await caughtUp(run.dir, 'mlflow', 60_000);

    await sleep(Math.max(0, AFTER_S * 1000 - (Date.now() - upAt)));
    stop = true;
    await loop;
    clearInterval(heapTimer);
    const loggedFor = Date.now() - t0;

    const endStarted = Date.now();
    const [report, report2] = await Promise.all([
      // end()'s default wait (30 s): the run must be whole and finished without a sync.
      run.end('FINISHED'),
      run2.end('FINISHED'),
    ]);
    const endMs = Date.now() - endStarted;

    const figures = {
      outageSeconds: OUTAGE_S,
      loggedForSeconds: round(loggedFor / 1000, 1),
      calls: timer.calls,
      callsDuringOutage: callsDuring,
      throws: timer.throws,
      latencyMs: timer.latencyMs(),
      points: { loss, a: ab, b: ab, during },
      restartSeconds: round((upAt - restartAt) / 1000, 1),
      firstAnswerSecondsAfterRestart: round((answersAt - upAt) / 1000, 2),
      firstWriteSecondsAfterRestart:
        firstLandedAt === undefined ? null : round((firstLandedAt - upAt) / 1000, 2),
      recoverSecondsAfterRestart:
        recoveredAt === undefined ? null : round((recoveredAt - upAt) / 1000, 2),
      endSeconds: round(endMs / 1000, 2),
      startRunDuringOutageMs: Math.round(run2StartMs),
      heapGrowthMB: round((heapMax - heapStart) / 2 ** 20, 1),
      pendingAfterEnd: report.pendingEvents + report2.pendingEvents,
    };
    await recordFigures('outage', figures);

    // Never throws, never waits.
    expect(timer.throws).toBe(0);
    expect(callsDuring).toBeGreaterThan(OUTAGE_S * 100);
    expect(figures.latencyMs.max).toBeLessThan(MAX_CALL_MS);
    expect(figures.latencyMs.p999).toBeLessThan(P999_CALL_MS);
    expect(run2StartMs).toBeLessThan(startTimeoutMs + 1_000);
    // Said once, not once per retry.
    const down = logger2.lines.filter((l) => /cannot reach the backend/.test(l));
    expect(down).toHaveLength(1);
    // It says what the failure usually means: the server stopped, not a network of its own.
    expect(down[0]).toContain('refused the connection (ECONNREFUSED)');
    expect(down[0]).toContain('the server is down or restarting');
    expect(recoveredAt, 'delivery caught up within 60 s of the restart').toBeDefined();
    // Delivery resumes when the backend answers a probe (at most about a second apart), not
    // when a backoff that grew during the outage (up to 60 s) runs out.
    // "Back" is when the server answers a tracking request, not /health: a cold MLflow server
    // opens its database store on the first one, which takes seconds on a busy machine. Then a
    // probe (at most a second later) and one log-batch request: seconds, where a retry's backoff
    // alone would be up to 60 s.
    expect(firstLandedAt, 'a write landed after the backend came back').toBeDefined();
    expect(
      firstLandedAt! - answersAt,
      'first write landed after the server answered its first tracking request',
    ).toBeLessThan(5_000);

    // end() delivered everything.
    expect(report.pendingEvents).toBe(0);
    expect(report.destinations[0]?.errors).toEqual([]);
    expect(report.destinations[0]?.finished).toBe(true);
    expect(report2.pendingEvents).toBe(0);
    expect(report2.destinations[0]?.finished).toBe(true);

    // Every point is in MLflow exactly once.
    const seen = await oracle.run(runRef!.runId);
    expect(seen.status).toBe('FINISHED');
    for (const [key, count] of [
      ['loss', loss],
      ['a', ab],
      ['b', ab],
    ] as const) {
      expect(seen.metrics[key], key).toMatchObject({
        count,
        distinct_steps: count,
        duplicates: 0,
        min_step: 0,
      });
    }
    expect(seen.params).toEqual({
      lr: '0.01',
      'optimizer.name': 'adam',
      'optimizer.beta1': '0.9',
      layers: '[64,32]',
    });
    expect(seen.tags.phase).toBe('before');
    expect(seen.tags.last_step).toBe(String(Math.floor((loss - 1) / 1000) * 1000));
    // The run started during the outage exists once, with every point.
    const ids = await oracle.find('outage', run2Uid);
    expect(ids).toHaveLength(1);
    const seen2 = await oracle.run(ids[0]!);
    expect(seen2.status).toBe('FINISHED');
    expect(seen2.metrics.during).toMatchObject({
      count: during,
      distinct_steps: during,
      duplicates: 0,
    });
    expect(figures.heapGrowthMB).toBeLessThan(64);
  });

  it('keeps memory bounded while 1,000,000 points are logged as fast as possible to a backend that refuses every write', async () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    // The run is created, then every log-batch answers 503: the delivery keeps retrying with
    // its read-ahead full, and the logging loop keeps going.
    const proxy = await startFaultProxy(server.url);
    proxy.failNext(/log-batch/, { status: 503, body: 'down for maintenance' }, 1_000_000_000);
    const run = await tracker(silentLogger, proxy.url).startRun({ experiment: 'memory' });
    expect((await run.backendRef('mlflow'))?.runId).toBeDefined();
    gc?.();
    const before = process.memoryUsage();
    let maxHeap = before.heapUsed;
    const total = 1_000_000;
    let slowest = 0;
    for (let i = 0; i < total; i++) {
      const t0 = performance.now();
      run.logMetric(`m${i % 8}`, i, { step: i });
      slowest = Math.max(slowest, performance.now() - t0);
      if (i % 50_000 === 0) {
        await sleep(0); // let the delivery and the flush timer run
        gc?.();
        maxHeap = Math.max(maxHeap, process.memoryUsage().heapUsed);
      }
    }
    const report = await run.end('FINISHED', { timeoutMs: 500 });
    const refusedWrites = proxy.faults.status;
    await proxy.close();
    gc?.();
    const after = process.memoryUsage();
    const journalBytes = (
      await Promise.all(
        (
          await readdir(join(run.dir, 'journal'))
        ).map(async (f) => (await readFile(join(run.dir, 'journal', f))).length),
      )
    ).reduce((a, b) => a + b, 0);
    const figures = {
      points: total,
      gcAvailable: gc !== undefined,
      heapGrowthMB: round((maxHeap - before.heapUsed) / 2 ** 20, 1),
      heapAfterEndGrowthMB: round((after.heapUsed - before.heapUsed) / 2 ** 20, 1),
      journalMB: round(journalBytes / 2 ** 20, 1),
      slowestCallMs: round(slowest, 2),
      pendingEvents: report.pendingEvents,
      refusedWrites,
    };
    await recordFigures('memory', figures);
    expect(refusedWrites).toBeGreaterThan(0);
    // Everything is in the journal (a 1M-point run is ~40 MB on disk), not in memory.
    expect(report.pendingEvents).toBe(total + 1);
    expect(report.hint).toContain(`trackstack sync ${run.uid}`);
    expect(figures.journalMB).toBeGreaterThan(30);
    expect(figures.heapGrowthMB).toBeLessThan(48);
  });
});
