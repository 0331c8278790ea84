/**
 * One repetition of the offline W&B benchmark, ours, in a fresh process: a
 * WandbExperimentTracker in `mode: 'offline'`, used as a user would: start a
 * run, `run.logMetrics({ 10 keys }, { step })` per row, `await run.end()`,
 * which returns once the flavor has written every row, the exit record, and
 * fsynced and closed the `.wandb` file. Timed from the first logging call to
 * end()'s return (the run's start is not timed, as on the SDK side). Then the
 * file is read back and checked (wandb-log-check.mjs). Prints one JSON line.
 *
 * `--writer`: the writer alone instead, for comparison: WandbOfflineRun (the
 * flavor's internal writer, loaded from its source through jiti) with
 * `history(step, values, timestamp)` per row, `exit(0)` and `close()` (one
 * fsync at the end), no trackstack run, journal or delivery.
 *
 * `--profile <file.cpuprofile>`: a V8 CPU profile of the timed span only (not
 * start-up, not the check), for `node cpu-profile-top.mjs <file>`.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTracker, silentLogger } from '@trackstack/core';
import { WandbExperimentTracker, wandbConfigSchema } from '@trackstack/tracker-wandb';
import { options, wandbInternal } from './lib.mjs';
import { checkWandbLog } from './wandb-log-check.mjs';

const { rows, keys, writer, profile } = options({
  rows: 20_000,
  keys: 10,
  writer: false,
  profile: '',
});
const profiler = profile === '' ? undefined : new Session();
if (profiler !== undefined) {
  profiler.connect();
  await profiler.post('Profiler.enable');
  await profiler.post('Profiler.setSamplingInterval', { interval: 100 });
}
const root = mkdtempSync(join(tmpdir(), 'trackstack-bench-wandb-offline-'));
try {
  const storeDir = join(root, 'store');
  const wandbDir = join(root, 'out');
  const names = Array.from({ length: keys }, (_, k) => `metric_${k}`);
  const row = (step) => {
    const values = {};
    for (let k = 0; k < keys; k++) values[names[k]] = step * 1e-3 + k;
    return values;
  };
  let c0;
  let t0;
  let t1;
  if (writer) {
    const { WandbOfflineRun } = await wandbInternal('wandb-offline-run.ts');
    const run = WandbOfflineRun.create({ dir: wandbDir, project: 'bench-wandb-offline' });
    await profiler?.post('Profiler.start');
    c0 = process.cpuUsage();
    t0 = performance.now();
    for (let step = 0; step < rows; step++) run.history(step, row(step), Date.now());
    t1 = performance.now();
    run.exit(0);
    run.close();
  } else {
    // The config as the flavor's schema parses it (defaults filled in), as getTracker does.
    const config = wandbConfigSchema.parse({
      mode: 'offline',
      dir: wandbDir,
      project_name: 'bench-wandb-offline',
    });
    const wandb = createTracker(
      new WandbExperimentTracker(config, { storeDir, logger: silentLogger }),
    );
    const run = await wandb.startRun({ experiment: 'bench-wandb-offline', logger: silentLogger });
    await profiler?.post('Profiler.start');
    c0 = process.cpuUsage();
    t0 = performance.now();
    for (let step = 0; step < rows; step++) run.logMetrics(row(step), { step });
    t1 = performance.now();
    const report = await run.end();
    if (report.status !== 'FINISHED' || report.pendingEvents !== 0) {
      const errors = report.destinations.flatMap((d) =>
        d.errors.map((e) => `${d.name}: ${e.message}`),
      );
      throw new Error(
        `end(): ${report.status}, ${report.pendingEvents} pending; ${errors.join('; ')}`,
      );
    }
  }
  const t2 = performance.now();
  const cpu = process.cpuUsage(c0);
  if (profiler !== undefined) {
    const { profile: recorded } = await profiler.post('Profiler.stop');
    writeFileSync(profile, JSON.stringify(recorded));
  }
  const runDirs = readdirSync(join(wandbDir, 'wandb')).filter((d) => d.startsWith('offline-run-'));
  if (runDirs.length !== 1) throw new Error(`expected one offline run, found ${runDirs}`);
  const runDir = join(wandbDir, 'wandb', runDirs[0]);
  const file = readdirSync(runDir).find((f) => f.endsWith('.wandb'));
  const check = checkWandbLog(join(runDir, file), { rows, keys: names });
  const ms = t2 - t0;
  process.stdout.write(
    `${JSON.stringify({
      side: writer ? 'writer' : 'ours',
      rows,
      keys,
      ms,
      loopMs: t1 - t0,
      endMs: t2 - t1,
      rowsPerSec: rows / (ms / 1000),
      cpuMs: (cpu.user + cpu.system) / 1000,
      file: check,
    })}\n`,
  );
} finally {
  rmSync(root, { recursive: true, force: true });
}
