/**
 * One repetition of the memory-under-outage benchmark, in a fresh process:
 * an MLflow tracker pointed at a closed port (nothing listens: every connect
 * is refused), `startTimeoutMs` 200, then `--points` logMetric calls over
 * `--keys` keys, yielding to the event loop every 10 000 points as a training
 * loop does (so the flush timer and the background retries run), then
 * `run.end()` with a 1 s wait. Prints one JSON line with the run's directory
 * (journal read back by memory.mjs), this process's peak RSS (VmHWM) and the
 * end report's count of undelivered events.
 */
import { readFileSync } from 'node:fs';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { createTracker, silentLogger } from '@trackstack/core';
import { MlflowExperimentTracker } from '@trackstack/tracker-mlflow';
import { options } from './lib.mjs';

const { port, points, keys, store } = options({ port: 0, points: 10_000_000, keys: 10, store: '' });

function peakRss() {
  const status = readFileSync('/proc/self/status', 'utf8');
  return Number(/^VmHWM:\s+(\d+) kB/m.exec(status)[1]) * 1024;
}

const tracker = createTracker(
  new MlflowExperimentTracker(
    { tracking_uri: `http://127.0.0.1:${port}` },
    { storeDir: store, logger: silentLogger },
  ),
);
const t0 = performance.now();
const run = await tracker.startRun({
  experiment: 'bench-outage',
  startTimeoutMs: 200,
  logger: silentLogger,
});
const startMs = performance.now() - t0;
const names = Array.from({ length: keys }, (_, i) => `train/metric_${i}`);
const t1 = performance.now();
for (let i = 0; i < points; i++) {
  run.logMetric(names[i % keys], i, { step: i });
  if (i % 10_000 === 9_999) await yieldToLoop();
}
const loopMs = performance.now() - t1;
const report = await run.end('FINISHED', { timeoutMs: 1000 });
process.stdout.write(
  `${JSON.stringify({
    uid: run.uid,
    dir: run.dir,
    points,
    keys,
    startMs,
    loopMs,
    pointsPerSec: points / (loopMs / 1000),
    peakRssBytes: peakRss(),
    heapUsedBytes: process.memoryUsage().heapUsed,
    pendingEvents: report.pendingEvents,
    hint: report.hint !== undefined,
  })}\n`,
);
