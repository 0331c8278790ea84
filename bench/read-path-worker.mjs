/**
 * The read-path benchmark's helpers, one fresh process each:
 *   --make <points> --store <dir>   logs a local run of <points> points over 3 keys (steps
 *                                    0..points/3), prints its uid and journal size
 *   --open <uid> --store <dir>       what opening a run page reads: the snapshot, the
 *                                    summaries and one chart series of 1000 points per key;
 *                                    prints the time it took (ms)
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createTracker, LocalExperimentTracker, LocalRuns, silentLogger } from '@trackstack/core';
import { options } from './lib.mjs';

const opts = options({ make: 0, open: '', store: '' });
if (opts.make > 0) {
  const tracker = createTracker(new LocalExperimentTracker({}, { storeDir: opts.store }), {
    logger: silentLogger,
  });
  const run = await tracker.startRun({
    experiment: 'read-path',
    systemMetrics: false,
    captureSource: false,
  });
  const steps = Math.round(opts.make / 3);
  for (let step = 0; step < steps; step++) {
    run.logMetric('loss', 1 / (step + 1), { step });
    run.logMetric('acc', step / steps, { step });
    run.logMetric('lr', 0.1 * 0.999 ** step, { step });
  }
  await run.end();
  const journal = join(opts.store, 'runs', run.uid, 'journal');
  const bytes = readdirSync(journal).reduce((sum, f) => sum + statSync(join(journal, f)).size, 0);
  process.stdout.write(
    `${JSON.stringify({ uid: run.uid, points: steps * 3, journalBytes: bytes })}\n`,
  );
} else {
  const t0 = performance.now();
  const runs = new LocalRuns(opts.store);
  await runs.get(opts.open);
  const summaries = await runs.summaries(opts.open);
  for (const key of Object.keys(summaries)) await runs.series(opts.open, key, { points: 1000 });
  const ms = performance.now() - t0;
  process.stdout.write(`${JSON.stringify({ ms })}\n`);
}
