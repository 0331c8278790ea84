/**
 * One repetition of the ingest benchmark, ours: a fresh process logs `--points`
 * points over `--keys` keys (one `run.logMetrics` call per step, all keys at
 * once) to a real MLflow server through MlflowExperimentTracker, then awaits
 * `run.end()`, which returns once the server acknowledged every point and the
 * final status. The timing runs from the first logging call to end()'s return.
 * Prints one JSON line.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTracker, silentLogger } from '@trackstack/core';
import { MlflowExperimentTracker } from '@trackstack/tracker-mlflow';
import { options } from './lib.mjs';

const {
  url,
  points,
  keys,
  'per-connection': perConnection,
  'in-flight': inFlight,
} = options({ url: '', points: 200_000, keys: 100, 'per-connection': -1, 'in-flight': 0 });
const storeDir = mkdtempSync(join(tmpdir(), 'trackstack-bench-ingest-'));
try {
  const tracker = createTracker(
    new MlflowExperimentTracker(
      {
        tracking_uri: url,
        ...(perConnection >= 0 ? { requests_per_connection: perConnection } : {}),
        ...(inFlight > 0 ? { max_requests_in_flight: inFlight } : {}),
      },
      { storeDir, logger: silentLogger },
    ),
  );
  const run = await tracker.startRun({
    experiment: 'bench-ingest-trackstack',
    logger: silentLogger,
    endTimeoutMs: 3_600_000,
  });
  const names = Array.from(
    { length: keys },
    (_, i) => `train/metric_${String(i).padStart(3, '0')}`,
  );
  const steps = Math.floor(points / keys);
  const values = {};
  const c0 = process.cpuUsage();
  const windowStart = Date.now();
  const t0 = performance.now();
  for (let step = 0; step < steps; step++) {
    for (let k = 0; k < keys; k++) values[names[k]] = step * 1e-3 + k;
    run.logMetrics(values, { step });
  }
  const tLoop = performance.now();
  const report = await run.end();
  const t1 = performance.now();
  const windowEnd = Date.now();
  const cpu = process.cpuUsage(c0);
  if (report.pendingEvents !== 0) {
    throw new Error(`end() left ${report.pendingEvents} events undelivered: ${report.hint}`);
  }
  const ms = t1 - t0;
  process.stdout.write(
    `${JSON.stringify({
      runId: run.refs.mlflow?.runId,
      points: steps * keys,
      ms,
      loopMs: tLoop - t0,
      pointsPerSec: (steps * keys) / (ms / 1000),
      cpuMs: (cpu.user + cpu.system) / 1000,
      windowStart,
      windowEnd,
    })}\n`,
  );
} finally {
  rmSync(storeDir, { recursive: true, force: true });
}
