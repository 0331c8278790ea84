/**
 * Benchmark 1, the hot path: what one metric-logging call costs the training
 * loop, amortized over a tight loop.
 *
 * - ours: `run.logMetric('loss', value, { step })` on an offline MLflow run
 *   (journal only, no network), `--points` calls (default 1e6) in a fresh node
 *   process per repetition; the journal writes that happen every 8192 points
 *   are inside the timing. Heap: `heapUsed` after the loop minus before it
 *   (no GC forced in between), and what is still retained after a forced GC.
 * - MLflow: `mlflow.log_metric('loss', value, step=i, synchronous=False)`
 *   against a real MLflow server started by the test harness; the call loop is
 *   timed alone, then `mlflow.flush_async_logging()` (reported, not counted).
 *   Twice: with MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS=1 (the queue merges
 *   calls into batches of up to 1000; `--mlflow-points`), and with MLflow's
 *   defaults, where every call becomes its own log-batch request, so its flush
 *   takes ~10 ms a point and it runs fewer points (`--mlflow-default-points`).
 * - W&B: `wandb.log({'loss': value}, step=i)` with `mode="offline"`; the loop
 *   is timed alone, then `run.finish()`.
 *
 * Usage: node hot-path.mjs [--points 1e6] [--reps 5] [--mlflow-points 2e4]
 *   [--mlflow-default-points 1e3] [--wandb-points 2e4] [--py-reps 3] [--sides ours,mlflow,mlflow-buffered,wandb]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  fmtRatio,
  harness,
  machineInfo,
  machineLine,
  mlflowEnv,
  options,
  printTable,
  repeat,
  runNodeJson,
  runPythonJson,
  summarize,
  verdict,
  wandbEnv,
  warnIfBusy,
  writeResults,
} from './lib.mjs';

const opts = options({
  points: 1_000_000,
  reps: 5,
  'mlflow-points': 20_000,
  'mlflow-default-points': 1_000,
  'wandb-points': 20_000,
  'py-reps': 3,
  sides: 'ours,mlflow,mlflow-buffered,wandb',
});
const sides = new Set(opts.sides.split(','));

const machine = await machineInfo();
process.stdout.write(`hot path: ${machineLine(machine)}\n`);
const busyBefore = await warnIfBusy('the hot-path benchmark');

const results = {};

if (sides.has('ours')) {
  process.stdout.write(`ours: ${opts.reps} × ${opts.points} logMetric calls\n`);
  const reps = await repeat(opts.reps, () =>
    runNodeJson('hot-path-worker.mjs', ['--points', String(opts.points)], {
      nodeArgs: ['--expose-gc'],
    }),
  );
  results.ours = { reps, usPerCall: summarize(reps.map((r) => r.usPerCall)) };
}

const pythonSides = ['mlflow', 'mlflow-buffered'].filter((s) => sides.has(s));
if (pythonSides.length > 0) {
  const h = await harness();
  const env = await mlflowEnv();
  const server = await h.startMlflowServer();
  try {
    for (const side of pythonSides) {
      const points = side === 'mlflow' ? opts['mlflow-default-points'] : opts['mlflow-points'];
      process.stdout.write(
        `${side}: ${opts['py-reps']} × ${points} mlflow.log_metric(synchronous=False) calls\n`,
      );
      const extraEnv =
        side === 'mlflow-buffered' ? { MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS: '1' } : {};
      const reps = await repeat(opts['py-reps'], () =>
        runPythonJson(env, 'hot_path_mlflow.py', [server.url, points], extraEnv),
      );
      for (const r of reps) {
        if (r.stored !== r.points) {
          throw new Error(`${side}: the server holds ${r.stored} of ${r.points} points`);
        }
      }
      results[side] = {
        reps,
        usPerCall: summarize(reps.map((r) => r.usPerCall)),
        flushMs: summarize(reps.map((r) => r.flushMs)),
      };
    }
  } finally {
    await server.stop();
  }
}

if (sides.has('wandb')) {
  const env = await wandbEnv();
  process.stdout.write(
    `wandb: ${opts['py-reps']} × ${opts['wandb-points']} wandb.log calls (offline)\n`,
  );
  const reps = await repeat(opts['py-reps'], async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trackstack-bench-wandb-'));
    try {
      return await runPythonJson(env, 'hot_path_wandb.py', [opts['wandb-points'], dir], {
        WANDB_SILENT: 'true',
        WANDB_MODE: 'offline',
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
  results.wandb = {
    reps,
    usPerCall: summarize(reps.map((r) => r.usPerCall)),
    flushMs: summarize(reps.map((r) => r.flushMs)),
  };
}

// ---------------------------------------------------------------------------
// Table

const ours = results.ours?.usPerCall.median;
const rows = [];
const signedMiB = (bytes) =>
  `${bytes >= 0 ? '+' : '−'}${(Math.abs(bytes) / 2 ** 20).toFixed(1)} MiB`;
const duration = (ms) => (ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(1)} s`);
const range = (s) => `${s.min.toPrecision(3)}–${s.max.toPrecision(3)}`;
if (results.ours) {
  const r = results.ours;
  rows.push({
    client: 'trackstack run.logMetric (offline)',
    points: opts.points,
    us: r.usPerCall.median,
    range: range(r.usPerCall),
    ratio: '1',
    cheaper: '',
    memory: `heap +${(summarize(r.reps.map((x) => x.heapGrowthBytes)).median / 2 ** 20).toFixed(1)} MiB (retained after GC: ${(summarize(r.reps.map((x) => x.heapRetainedBytes)).median / 1024).toFixed(0)} KiB)`,
    after: `end(): ${summarize(r.reps.map((x) => x.endMs)).median.toFixed(0)} ms`,
    target: `< 1 µs: ${verdict(r.usPerCall.median < 1)}`,
  });
}
const theirs = [
  ['mlflow', 'mlflow.log_metric(synchronous=False), defaults', 30],
  ['mlflow-buffered', 'mlflow.log_metric(synchronous=False), buffering 1 s', 30],
  ['wandb', 'wandb.log (offline)', 100],
];
for (const [side, label, target] of theirs) {
  const r = results[side];
  if (r === undefined) continue;
  const cheaper = r.usPerCall.median / ours;
  rows.push({
    client: label,
    points: r.reps[0].points,
    us: r.usPerCall.median,
    range: range(r.usPerCall),
    ratio: ours === undefined ? '' : (ours / r.usPerCall.median).toPrecision(3),
    cheaper: ours === undefined ? '' : fmtRatio(cheaper),
    memory: `RSS ${signedMiB(summarize(r.reps.map((x) => x.rssGrowthBytes)).median)}`,
    after: `${side === 'wandb' ? 'finish()' : 'flush'}: ${duration(r.flushMs.median)}`,
    target: ours === undefined ? '' : `≥ ${target}× cheaper: ${verdict(cheaper >= target)}`,
  });
}
const text = printTable('Hot path: one metric point per call, median of repetitions', rows, [
  ['client', 'client / call'],
  ['points', 'calls'],
  ['us', 'µs/call'],
  ['range', 'min–max'],
  ['ratio', 'ours ÷ theirs'],
  ['cheaper', 'ours cheaper by'],
  ['memory', 'memory grown by the loop'],
  ['after', 'after the loop (not timed)'],
  ['target', 'target'],
]);

await writeResults('hot-path', {
  description:
    'Per-call cost of logging one metric point in a tight loop (median over repetitions); ours offline (journal only), MLflow async against a real server, W&B offline.',
  options: opts,
  busyBefore,
  results,
  table: text,
});
