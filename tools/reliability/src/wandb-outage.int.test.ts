/**
 * Promise: a logging call never waits for the network and never throws because a backend is
 * down; nothing accepted is lost. The W&B half of the outage test (outage.int.test.ts holds
 * MLflow's).
 *
 * W&B's service cannot run here: the harness's loopback W&B server stands in for it, behind a
 * fault proxy that is the only address the flavor knows. A run logs steadily (a point every
 * ~2 ms, history paced as W&B's client paces it, here every 2 s). After 10 s the proxy is
 * closed (every connection destroyed, the port refuses) for TRACKSTACK_OUTAGE_SECONDS
 * (default 60), then listens again on the same port; the server behind it keeps its state, as
 * W&B's would. Every logging call is timed; afterwards the server must hold every history
 * row exactly once, with the summary, config, tags and exit code a finished run has.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTracker, type Run, silentLogger, type Tracker } from '@trackstack/core';
import { journalNow } from '@trackstack/core/testing';
import {
  type FaultProxy,
  startFaultProxy,
  startWandbServer,
  type WandbRun,
  type WandbServer,
} from '@trackstack/test-harness';
import { WandbExperimentTracker } from '@trackstack/tracker-wandb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accepting } from './support/processes.js';
import {
  ackCursors,
  CallTimer,
  caughtUp,
  firstAck,
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
/** Seconds between two history writes of a run (W&B's client: 15). */
const PACE_S = 2;

let server: WandbServer;
let proxy: FaultProxy;
let storeDir: string;

beforeAll(async () => {
  server = await startWandbServer();
  proxy = await startFaultProxy(server.url);
  storeDir = await mkdtemp(join(tmpdir(), 'trackstack-wandb-outage-'));
});

afterAll(async () => {
  await proxy?.close();
  await server?.stop();
  if (storeDir !== undefined) await rm(storeDir, { recursive: true, force: true });
});

function tracker(logger = silentLogger): Tracker {
  const config = WandbExperimentTracker.FLAVOR.configSchema.parse({
    api_key: server.apiKey,
    base_url: proxy.url,
    mode: 'online',
    file_stream_interval_s: PACE_S,
    request_timeout_s: 10,
  });
  return createTracker(new WandbExperimentTracker(config, { storeDir, logger }));
}

/** The run's history rows by `_step`, and how many rows carried each step. */
function historyByStep(run: WandbRun): { rows: Map<number, Record<string, unknown>>; dup: number } {
  const rows = new Map<number, Record<string, unknown>>();
  let dup = 0;
  for (const row of run.history) {
    const step = row._step as number;
    if (rows.has(step)) dup += 1;
    rows.set(step, row);
  }
  return { rows, dup };
}

describe('W&B outage', () => {
  it(`never blocks or throws while W&B is unreachable for ${OUTAGE_S} s, and delivers every row exactly once`, async () => {
    const logger = recordingLogger();
    const wandb = tracker(logger);
    // Core's default settings: delivery resumes when the backend answers a probe (at most a
    // second apart), not when a retry's backoff (up to 60 s) runs out.
    const run = await wandb.startRun({ experiment: 'outage', name: 'steady' });
    expect((await run.backendRef('wandb'))?.runId).toBe(run.uid);
    run.logParams({ lr: 0.01, optimizer: { name: 'adam', beta1: 0.9 }, layers: [64, 32] });
    run.setTags({ phase: 'before' });

    const timer = new CallTimer();
    const timed = (fn: () => void) => timer.timed(fn);
    let stop = false;
    let steps = 0;
    let during = 0;
    let run2: Run | undefined;

    const loop = (async () => {
      while (!stop) {
        const s = steps;
        timed(() => run.logMetric('loss', 1 / (s + 1), { step: s }));
        if (s % 10 === 0) timed(() => run.logMetrics({ a: s, b: -s }, { step: s }));
        const r2 = run2;
        if (r2 !== undefined) {
          const d = during;
          timed(() => r2.logMetric('during', d, { step: d }));
          during += 1;
        }
        steps += 1;
        await sleep(2);
      }
    })();

    const t0 = Date.now();
    await sleep(BEFORE_S * 1000);
    const callsBefore = timer.calls;
    const requestsBefore = server.requests.length;

    // The outage: nothing answers on the port W&B was reached at.
    const downAt = Date.now();
    const port = proxy.port;
    await proxy.close();
    expect(await accepting(port)).toBe(false);

    // A run started while W&B is unreachable: startRun waits a bounded time, then the run goes
    // on journal-only, says so once, and is upserted when W&B comes back.
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

    await sleep(Math.max(0, OUTAGE_S * 1000 - (Date.now() - downAt)));
    const callsDuring = timer.calls - callsBefore;
    const requestsDuring = server.requests.length - requestsBefore;
    const ackedBefore = ackCursors(run.dir, 'wandb');
    proxy = await startFaultProxy(server.url, { port });
    const upAt = Date.now();

    // Time to recover: to the first acknowledged request, and until every record journaled
    // before W&B came back is acknowledged.
    journalNow(run);
    const firstAckAt = await firstAck(run.dir, 'wandb', ackedBefore, 60_000);
    const recoveredAt = await caughtUp(run.dir, 'wandb', 60_000);

    await sleep(Math.max(0, AFTER_S * 1000 - (Date.now() - upAt)));
    stop = true;
    await loop;
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
      paceSeconds: PACE_S,
      loggedForSeconds: round(loggedFor / 1000, 1),
      calls: timer.calls,
      callsDuringOutage: callsDuring,
      throws: timer.throws,
      latencyMs: timer.latencyMs(),
      rows: { steady: steps, during },
      requestsReachingServerDuringOutage: requestsDuring,
      firstAckSecondsAfterRestart:
        firstAckAt === undefined ? null : round((firstAckAt - upAt) / 1000, 2),
      recoverSecondsAfterRestart:
        recoveredAt === undefined ? null : round((recoveredAt - upAt) / 1000, 2),
      endSeconds: round(endMs / 1000, 2),
      startRunDuringOutageMs: Math.round(run2StartMs),
      pendingAfterEnd: report.pendingEvents + report2.pendingEvents,
    };
    await recordFigures('wandb-outage', figures);

    // Never throws, never waits; the outage was real.
    expect(timer.throws).toBe(0);
    expect(requestsDuring).toBe(0);
    expect(callsDuring).toBeGreaterThan(OUTAGE_S * 100);
    expect(figures.latencyMs.max).toBeLessThan(MAX_CALL_MS);
    expect(figures.latencyMs.p999).toBeLessThan(P999_CALL_MS);
    expect(run2StartMs).toBeLessThan(startTimeoutMs + 1_000);
    expect(logger2.lines.filter((l) => /cannot reach the backend/.test(l))).toHaveLength(1);
    expect(recoveredAt, 'delivery caught up within 60 s of W&B coming back').toBeDefined();
    // Delivery resumes when the backend answers a probe (at most about a second apart), not
    // when a backoff that grew during the outage (up to 60 s) runs out.
    expect(firstAckAt, 'a request acknowledged after the backend came back').toBeDefined();
    expect(
      firstAckAt! - upAt,
      'first acknowledged request after the backend came back',
    ).toBeLessThan(5_000);

    // end() delivered everything.
    for (const r of [report, report2]) {
      expect(r.pendingEvents).toBe(0);
      expect(r.destinations[0]?.errors).toEqual([]);
      expect(r.destinations[0]?.finished).toBe(true);
    }
    expect(server.protocolErrors).toEqual([]);

    // Every row is in W&B exactly once, at its step, with its values.
    const steady = server.run(run.uid);
    const { rows, dup } = historyByStep(steady);
    expect(dup).toBe(0);
    expect(steady.history).toHaveLength(steps);
    for (let s = 0; s < steps; s++) {
      const row = rows.get(s);
      expect(row?.loss, `loss at step ${s}`).toBe(1 / (s + 1));
      if (s % 10 === 0) expect([row?.a, row?.b], `a, b at step ${s}`).toEqual([s, -s]);
    }
    expect(steady.summary.loss).toBe(1 / steps);
    expect(steady.configValues).toMatchObject({
      lr: 0.01,
      'optimizer.name': 'adam',
      'optimizer.beta1': 0.9,
      layers: [64, 32],
    });
    expect(steady.tags).toContain('phase:before');
    expect([steady.complete, steady.exitcode]).toEqual([true, 0]);

    // The run started during the outage exists once, with every row.
    const late = server.run(run2.uid);
    const lateRows = historyByStep(late);
    expect(lateRows.dup).toBe(0);
    expect(late.history).toHaveLength(during);
    for (let d = 0; d < during; d++) expect(lateRows.rows.get(d)?.during).toBe(d);
    expect([late.complete, late.exitcode]).toEqual([true, 0]);
    expect(late.displayName).toBe('started-during-outage');
  });
});
