/**
 * Benchmark 7, what logging an image costs the calling thread: a 1 MB PNG (noise, so it does
 * not compress), `--count` calls a run, side by side in one invocation with the Python
 * clients' own calls on the same image: MLflow (`mlflow.log_image`, its default background
 * upload, against the same `mlflow server`) and W&B offline (`run.log` of a `wandb.Image`).
 * Ours reports the event loop's busy time per call: what the calling thread spent, the
 * delivery's own work on that thread included (a local run shows the call alone); theirs the calling
 * thread's CPU time (`time.thread_time`); wall times per call and the time to deliver the
 * rest at the end are reported for both.
 *
 * Usage: node media.mjs [--reps 3] [--count 20] [--side 580]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  fmt,
  fmtRatio,
  harness,
  machineInfo,
  machineLine,
  median,
  options,
  printTable,
  runNodeJson,
  runPythonJson,
  warnIfBusy,
  writeResults,
} from './lib.mjs';

const opts = options({ reps: 3, count: 20, side: 580 });
const machine = await machineInfo();
process.stdout.write(`media: ${machineLine(machine)}\n`);
const busyBefore = await warnIfBusy('the media benchmark');
const h = await harness();
const mlflowPy = await h.ensurePythonEnv({ name: 'mlflow', requirements: h.MLFLOW_REQUIREMENTS });
const wandbPy = await h.ensurePythonEnv({
  name: 'wandb-media',
  requirements: h.WANDB_MEDIA_REQUIREMENTS,
});
const work = mkdtempSync(join(tmpdir(), 'trackstack-bench-media-'));
const server = await h.startMlflowServer();
try {
  const image = join(work, 'noise.png');
  const { bytes } = await runPythonJson(mlflowPy, 'media_python.py', ['gen', image, opts.side]);
  process.stdout.write(`  image: ${opts.side}×${opts.side} PNG, ${fmt(bytes / 2 ** 20)} MiB\n`);
  const runs = { oursLocal: [], oursMlflow: [], oursWandb: [], mlflow: [], wandb: [] };
  for (let rep = 0; rep < opts.reps; rep++) {
    const store = join(work, `store-${rep}`);
    /** One run of ours to `dest` (media-worker.mjs), with that destination's own options. */
    const ours = (dest, extra = []) =>
      runNodeJson('media-worker.mjs', [
        '--dest',
        dest,
        ...extra,
        '--store',
        store,
        '--image',
        image,
        '--count',
        String(opts.count),
      ]);
    runs.oursLocal.push(await ours('local'));
    runs.oursMlflow.push(await ours('mlflow', ['--url', server.url]));
    runs.mlflow.push(
      await runPythonJson(mlflowPy, 'media_python.py', ['mlflow', image, opts.count], {
        MLFLOW_TRACKING_URI: server.url,
      }),
    );
    const wandbDir = join(work, `wandb-${rep}`);
    runs.oursWandb.push(await ours('wandb', ['--dir', join(wandbDir, 'ours')]));
    runs.wandb.push(
      await runPythonJson(wandbPy, 'media_python.py', ['wandb', image, opts.count], {
        WANDB_DIR: join(wandbDir, 'sdk'),
        WANDB_SILENT: 'true',
        WANDB_MODE: 'offline',
      }),
    );
    const last = (k) => runs[k].at(-1);
    process.stdout.write(
      `  rep ${rep + 1}: ours→MLflow ${fmt(median(last('oursMlflow').busy))} ms busy a call, MLflow ${fmt(median(last('mlflow').cpu))} ms; ours→W&B ${fmt(median(last('oursWandb').busy))} ms, W&B ${fmt(median(last('wandb').cpu))} ms\n`,
    );
  }
  const per = (k, field) => median(runs[k].map((r) => median(r[field])));
  const rows = [
    ['oursLocal', 'trackstack, the call alone (local: journal only)', 'busy'],
    ['oursMlflow', 'trackstack → MLflow (delivery on the same thread)', 'busy'],
    ['mlflow', 'mlflow.log_image (background upload)', 'cpu'],
    ['oursWandb', 'trackstack → W&B offline', 'busy'],
    ['wandb', 'wandb.Image + run.log (offline)', 'cpu'],
  ].map(([k, who, field]) => ({
    who,
    thread: per(k, field),
    wall: per(k, 'wall'),
    end: median(runs[k].map((r) => r.endMs ?? r.flushMs)),
  }));
  rows[1].ratio = fmtRatio(rows[2].thread / rows[1].thread);
  rows[3].ratio = fmtRatio(rows[4].thread / rows[3].thread);
  const table = printTable(
    `Media: logging a ${fmt(bytes / 2 ** 20)} MiB PNG, ${opts.count} calls a run, ${opts.reps} reps, medians`,
    rows,
    [
      ['who', 'client'],
      ['thread', 'calling thread, ms a call'],
      ['wall', 'wall, ms a call'],
      ['end', 'end/flush, ms'],
      ['ratio', 'theirs / ours'],
    ],
  );
  await writeResults('media', {
    description:
      'Calling-thread cost of logging a 1 MB PNG, ours and the Python clients, side by side.',
    options: opts,
    busyBefore,
    imageBytes: bytes,
    runs,
    table,
  });
} finally {
  await server.stop();
  rmSync(work, { recursive: true, force: true });
}
