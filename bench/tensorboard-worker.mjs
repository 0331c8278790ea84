/**
 * One repetition of the TensorBoard benchmark, ours, in a fresh process: a
 * TensorboardExperimentTracker used as a user would: start a run,
 * `run.logMetrics({ --keys metrics }, { step })` per row, `await run.end()`, which returns
 * once every point is in the event file, fdatasync'ed and closed. Timed from the first
 * logging call to end()'s return (the run's start is not timed, as on tensorboardX's side).
 * Prints one JSON line: the run's directory is left for the caller to check.
 */
import { createTracker, silentLogger } from '@trackstack/core';
import {
  TensorboardExperimentTracker,
  tensorboardConfigSchema,
} from '@trackstack/tracker-tensorboard';
import { options } from './lib.mjs';

const { rows, keys, dir } = options({ rows: 20_000, keys: 10, dir: '' });
const names = Array.from({ length: keys }, (_, k) => `metric_${k}`);
const row = (step) => {
  const values = {};
  for (let k = 0; k < keys; k++) values[names[k]] = step * 1e-3 + k;
  return values;
};
const config = tensorboardConfigSchema.parse({ log_dir: `${dir}/runs` });
const tracker = createTracker(
  new TensorboardExperimentTracker(config, { storeDir: `${dir}/store`, logger: silentLogger }),
);
const run = await tracker.startRun({
  experiment: 'bench',
  name: 'ours',
  logger: silentLogger,
  systemMetrics: false,
});
const c0 = process.cpuUsage();
const t0 = performance.now();
for (let step = 0; step < rows; step++) run.logMetrics(row(step), { step });
const t1 = performance.now();
const report = await run.end();
const t2 = performance.now();
const cpu = process.cpuUsage(c0);
if (report.status !== 'FINISHED' || report.pendingEvents !== 0) {
  throw new Error(`run ended ${report.status} with ${report.pendingEvents} events left`);
}
const ms = t2 - t0;
process.stdout.write(
  `${JSON.stringify({
    rows,
    ms,
    loopMs: t1 - t0,
    endMs: t2 - t1,
    cpuMs: (cpu.user + cpu.system) / 1000,
    rowsPerSec: rows / (ms / 1000),
    runDir: `${dir}/runs/bench/ours`,
  })}\n`,
);
