/**
 * One repetition of the hot-path benchmark, in a fresh process (run by
 * hot-path.mjs with --expose-gc): `run.logMetric(key, value, { step })` in a
 * tight loop on an offline run (journal only: no network), timed as a whole.
 * Prints one JSON line.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTracker, silentLogger } from '@trackstack/core';
import { MlflowExperimentTracker } from '@trackstack/tracker-mlflow';
import { options } from './lib.mjs';

const { points, keys } = options({ points: 1_000_000, keys: 1 });
const gc = globalThis.gc ?? (() => {});
const storeDir = mkdtempSync(join(tmpdir(), 'trackstack-bench-hot-'));
try {
  // An MLflow tracker in offline mode: MLflow's limits, the journal, no deliveries.
  const tracker = createTracker(
    new MlflowExperimentTracker(
      { tracking_uri: 'http://127.0.0.1:9' },
      { storeDir, logger: silentLogger },
    ),
  );
  const run = await tracker.startRun({
    experiment: 'bench-hot-path',
    mode: 'offline',
    logger: silentLogger,
  });
  const names = Array.from({ length: keys }, (_, i) => (keys === 1 ? 'loss' : `metric_${i}`));
  gc();
  const before = process.memoryUsage();
  const t0 = process.hrtime.bigint();
  if (keys === 1) {
    for (let i = 0; i < points; i++) run.logMetric('loss', i * 1e-3, { step: i });
  } else {
    for (let i = 0; i < points; i++) run.logMetric(names[i % keys], i * 1e-3, { step: i });
  }
  const t1 = process.hrtime.bigint();
  const after = process.memoryUsage();
  gc();
  const retained = process.memoryUsage();
  const e0 = process.hrtime.bigint();
  await run.end();
  const e1 = process.hrtime.bigint();
  const loopMs = Number(t1 - t0) / 1e6;
  process.stdout.write(
    `${JSON.stringify({
      points,
      keys,
      loopMs,
      usPerCall: (loopMs * 1000) / points,
      heapGrowthBytes: after.heapUsed - before.heapUsed,
      heapRetainedBytes: retained.heapUsed - before.heapUsed,
      rssGrowthBytes: after.rss - before.rss,
      endMs: Number(e1 - e0) / 1e6,
    })}\n`,
  );
} finally {
  rmSync(storeDir, { recursive: true, force: true });
}
