/**
 * One repetition of the media benchmark, ours: a fresh process starts a run to `--dest`
 * (local: the journal only; mlflow at `--url`; or W&B offline into `--dir`), reads the PNG once (what a user holds),
 * then awaits `run.logImage` `--count` times and reports per call the wall time and the time
 * the event loop was busy (the calling thread's share: `performance.eventLoopUtilization`),
 * the longest the loop was blocked, and how long `end()` took to deliver the rest.
 */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { createTracker, LocalExperimentTracker, silentLogger } from '@trackstack/core';
import { MlflowExperimentTracker } from '@trackstack/tracker-mlflow';
import { WandbExperimentTracker } from '@trackstack/tracker-wandb';
import { options } from './lib.mjs';

const opts = options({ dest: 'mlflow', url: '', dir: '', store: '', image: '', count: 20 });
const flavor =
  opts.dest === 'local'
    ? new LocalExperimentTracker({}, { storeDir: opts.store })
    : opts.dest === 'mlflow'
      ? new MlflowExperimentTracker(
          { nested: false, tags: {}, request_timeout_s: 120, tracking_uri: opts.url },
          { storeDir: opts.store },
        )
      : new WandbExperimentTracker(
          {
            mode: 'offline',
            dir: opts.dir,
            project: 'bench-media',
            tags: [],
            file_stream_interval_s: 15,
            request_timeout_s: 10,
          },
          { storeDir: opts.store },
        );
const tracker = createTracker(flavor, { logger: silentLogger });
const run = await tracker.startRun({ experiment: 'bench-media', systemMetrics: false });
const bytes = readFileSync(opts.image);
const wall = [];
const busy = [];
const delay = monitorEventLoopDelay({ resolution: 1 });
delay.enable();
for (let i = 0; i < opts.count; i++) {
  const elu0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  await run.logImage('bench/img', bytes, { step: i });
  wall.push(performance.now() - t0);
  busy.push(performance.eventLoopUtilization(elu0).active);
}
delay.disable();
const e0 = performance.now();
const report = await run.end();
const endMs = performance.now() - e0;
process.stdout.write(
  `${JSON.stringify({
    wall,
    busy,
    maxLoopDelayMs: delay.max / 1e6,
    endMs,
    pending: report.pendingEvents,
  })}\n`,
);
