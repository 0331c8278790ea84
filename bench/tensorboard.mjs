/**
 * Benchmark 9, TensorBoard: rows per second into event files, side by side.
 *
 * - ours (`tensorboard-worker.mjs`): @trackstack/tracker-tensorboard's
 *   TensorboardExperimentTracker as a user uses it, in a fresh node process per
 *   repetition: `run.logMetrics({ --keys metrics }, { step })` per row, `await run.end()`
 *   (every point in the file, fdatasync'ed, closed). trackstack's journal is inside the
 *   timing: every point is journaled before it reaches the event file.
 * - tensorboardX (`tensorboard_tbx.py`): `SummaryWriter.add_scalar` per metric and row,
 *   `close()`.
 *
 * Same rows, names and values on both sides. Every run is read back with TensorBoard's own
 * EventAccumulator (tensorboard_count.py) and must hold every point of every metric at
 * steps 0..rows-1; a side that fails the check fails the benchmark
 * rather than report a number. Repetitions are interleaved. Target: ours ≥ 20× tensorboardX.
 *
 * Usage: node tensorboard.mjs [--rows 20000] [--keys 10] [--reps 5]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  fmtRatio,
  harness,
  machineInfo,
  machineLine,
  options,
  printTable,
  runNodeJson,
  runPythonJson,
  summarize,
  verdict,
  warnIfBusy,
  writeResults,
} from './lib.mjs';

const TARGET = 20;
const opts = options({ rows: 20_000, keys: 10, reps: 5 });
const machine = await machineInfo();
process.stdout.write(`TensorBoard: ${machineLine(machine)}\n`);
const busyBefore = await warnIfBusy('the TensorBoard benchmark');
const h = await harness();
const env = await h.ensureTensorboardEnv();

/** Every point of every metric, read back by TensorBoard (tensorboard_count.py). */
async function check(runDir) {
  const counts = await runPythonJson(env, 'tensorboard_count.py', [runDir]);
  for (let k = 0; k < opts.keys; k++) {
    const tag = counts[`metric_${k}`];
    if (tag?.count !== opts.rows || !tag.in_order) {
      throw new Error(`metric_${k}: ${tag?.count ?? 0} points read back, ${opts.rows} logged`);
    }
  }
}

async function once(side) {
  const dir = await mkdtemp(join(tmpdir(), `trackstack-bench-tb-${side}-`));
  try {
    const result =
      side === 'ours'
        ? await runNodeJson('tensorboard-worker.mjs', [
            '--rows',
            String(opts.rows),
            '--keys',
            String(opts.keys),
            '--dir',
            dir,
          ])
        : await runPythonJson(env, 'tensorboard_tbx.py', [opts.rows, opts.keys, join(dir, 'tbx')]);
    await check(result.runDir);
    return result;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const reps = { ours: [], tensorboardx: [] };
process.stdout.write(`${opts.reps} rounds of ${opts.rows} rows × ${opts.keys} metrics\n`);
for (let round = 0; round < opts.reps; round++) {
  reps.ours.push(await once('ours'));
  reps.tensorboardx.push(await once('tensorboardx'));
}
const results = {};
for (const [side, list] of Object.entries(reps)) {
  results[side] = {
    reps: list,
    rowsPerSec: summarize(list.map((r) => r.rowsPerSec)),
    ms: summarize(list.map((r) => r.ms)),
    cpuMs: summarize(list.map((r) => r.cpuMs)),
    rowsPerCpuSec: summarize(list.map((r) => r.rows / (r.cpuMs / 1000))),
  };
}
const theirs = results.tensorboardx.rowsPerSec.median;
const theirsCpu = results.tensorboardx.rowsPerCpuSec.median;
const LABELS = {
  ours: 'trackstack TensorboardExperimentTracker (logMetrics + end)',
  tensorboardx: 'tensorboardX SummaryWriter (add_scalar + close)',
};
const rows = Object.entries(results).map(([side, r]) => {
  const ratio = r.rowsPerSec.median / theirs;
  return {
    client: LABELS[side],
    rate: r.rowsPerSec.median,
    range: `${Math.round(r.rowsPerSec.min).toLocaleString('en-US')}–${Math.round(r.rowsPerSec.max).toLocaleString('en-US')}`,
    ms: r.ms.median,
    ratio: side === 'ours' ? fmtRatio(ratio) : '',
    target: side === 'ours' ? `≥ ${TARGET}×: ${verdict(ratio >= TARGET)}` : '',
    perCpu: r.rowsPerCpuSec.median,
    cpuRatio: side === 'ours' ? fmtRatio(r.rowsPerCpuSec.median / theirsCpu) : '',
  };
});
const text = printTable(
  `TensorBoard: ${opts.rows.toLocaleString('en-US')} rows × ${opts.keys} metrics into event files, median of ${opts.reps} (every point read back by TensorBoard)`,
  rows,
  [
    ['client', 'client'],
    ['rate', 'rows/s'],
    ['range', 'min–max'],
    ['ms', 'ms'],
    ['ratio', 'ours ÷ tensorboardX'],
    ['target', 'target'],
    ['perCpu', 'rows per CPU s'],
    ['cpuRatio', 'ours ÷ tensorboardX, per CPU s'],
  ],
);
await writeResults('tensorboard', {
  description:
    'Rows per second into TensorBoard event files, ours against tensorboardX; every run read back by TensorBoard.',
  options: opts,
  busyBefore,
  results,
  table: text,
});
