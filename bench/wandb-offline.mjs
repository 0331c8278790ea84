/**
 * Benchmark 3, offline W&B: rows per second into a `.wandb` file.
 *
 * - ours (`wandb-offline-worker.mjs`): @trackstack/tracker-wandb's
 *   WandbExperimentTracker in `mode: 'offline'`, used as a user would, in a
 *   fresh node process per repetition: start a run, `run.logMetrics({ --keys
 *   metrics }, { step })` per row, `await run.end()` (returns once every row,
 *   the exit record and the fsync'ed, closed file are written). Timed from the
 *   first logging call to end()'s return. trackstack's journal is inside the
 *   timing: every point is journaled before it reaches the file.
 * - writer (`--writer`): WandbOfflineRun alone (history per row, exit, close),
 *   no trackstack run around it: what the file format costs by itself.
 * - W&B (`wandb_offline.py`): the wandb SDK with WANDB_MODE=offline,
 *   `wandb.init(...)`, `run.log({ --keys metrics }, step=i)` per row,
 *   `run.finish()`; timed from the first log call to finish()'s return.
 *
 * CPU time over the same span is reported beside wall time: of the node
 * process for ours, of the Python process and its children (wandb-core) for
 * the SDK. On a busy machine wall times swing; CPU per row much less.
 *
 * Same rows, same metric names and values on every side. Every file is read
 * back with @trackstack/tracker-wandb's strict reader (CRC of every chunk) and
 * must hold exactly `--rows` history rows, steps 0..rows-1, each with every
 * metric, and an exit record (wandb-log-check.mjs); a side that fails the
 * check fails the benchmark rather than report a number. Repetitions of the
 * sides are interleaved so that drift hits them alike.
 *
 * Usage: node wandb-offline.mjs [--rows 20000] [--keys 10] [--reps 5] [--py-reps 5]
 *   [--sides ours,writer,wandb]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  fmtRatio,
  machineInfo,
  machineLine,
  options,
  printTable,
  runNodeJson,
  runPythonJson,
  summarize,
  verdict,
  wandbEnv,
  warnIfBusy,
  writeResults,
} from './lib.mjs';
import { checkWandbLog } from './wandb-log-check.mjs';

const TARGET = 20;
// Five of the SDK too: its speed varies more between runs than ours (3.4k to 7.9k rows/s here).
const opts = options({ rows: 20_000, keys: 10, reps: 5, 'py-reps': 5, sides: 'ours,writer,wandb' });
const sides = new Set(opts.sides.split(','));
const names = Array.from({ length: opts.keys }, (_, k) => `metric_${k}`);

const machine = await machineInfo();
process.stdout.write(`offline W&B: ${machineLine(machine)}\n`);
const busyBefore = await warnIfBusy('the offline W&B benchmark');

const env = sides.has('wandb') ? await wandbEnv() : undefined;
async function sdkOnce() {
  const dir = await mkdtemp(join(tmpdir(), 'trackstack-bench-wandb-sdk-'));
  try {
    const result = await runPythonJson(env, 'wandb_offline.py', [opts.rows, opts.keys, dir], {
      WANDB_SILENT: 'true',
      WANDB_MODE: 'offline',
    });
    return { ...result, file: checkWandbLog(result.path, { rows: opts.rows, keys: names }) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
const oursOnce = (writer) =>
  runNodeJson('wandb-offline-worker.mjs', [
    '--rows',
    String(opts.rows),
    '--keys',
    String(opts.keys),
    ...(writer ? ['--writer'] : []),
  ]);

const reps = { ours: [], writer: [], wandb: [] };
const rounds = Math.max(opts.reps, opts['py-reps']);
process.stdout.write(
  `${rounds} rounds of ${opts.rows} rows × ${opts.keys} metrics: ${[...sides].join(', ')}\n`,
);
for (let round = 0; round < rounds; round++) {
  if (sides.has('ours') && round < opts.reps) reps.ours.push(await oursOnce(false));
  if (sides.has('writer') && round < opts.reps) reps.writer.push(await oursOnce(true));
  if (sides.has('wandb') && round < opts['py-reps']) reps.wandb.push(await sdkOnce());
}

const results = {};
for (const [side, list] of Object.entries(reps)) {
  if (list.length === 0) continue;
  results[side] = {
    reps: list,
    rowsPerSec: summarize(list.map((r) => r.rowsPerSec)),
    ms: summarize(list.map((r) => r.ms)),
    loopMs: summarize(list.map((r) => r.loopMs)),
    endMs: summarize(list.map((r) => r.endMs)),
    cpuMs: summarize(list.map((r) => r.cpuMs)),
    rowsPerCpuSec: summarize(list.map((r) => r.rows / (r.cpuMs / 1000))),
    fileBytes: list[0].file.bytes,
    records: list[0].file.records,
  };
}

// ---------------------------------------------------------------------------
// Table

const theirs = results.wandb?.rowsPerSec.median;
const theirsCpu = results.wandb?.rowsPerCpuSec.median;
const range = (s) =>
  `${Math.round(s.min).toLocaleString('en-US')}–${Math.round(s.max).toLocaleString('en-US')}`;
const LABELS = {
  ours: 'trackstack WandbExperimentTracker, offline (logMetrics + end)',
  writer: 'trackstack WandbOfflineRun alone (history + exit + close)',
  wandb: 'wandb SDK, WANDB_MODE=offline (run.log + finish)',
};
const rows = Object.entries(results).map(([side, r]) => {
  const ratio = theirs === undefined ? undefined : r.rowsPerSec.median / theirs;
  return {
    client: LABELS[side],
    runs: r.reps.length,
    rate: r.rowsPerSec.median,
    range: range(r.rowsPerSec),
    ms: r.ms.median,
    split: `${r.loopMs.median.toFixed(0)} / ${r.endMs.median.toFixed(0)}`,
    cpu: r.cpuMs.median,
    perCpu: r.rowsPerCpuSec.median,
    cpuRatio:
      side === 'wandb' || theirsCpu === undefined
        ? ''
        : fmtRatio(r.rowsPerCpuSec.median / theirsCpu),
    file: `${(r.fileBytes / 2 ** 20).toFixed(1)} MiB, ${r.records.toLocaleString('en-US')} records`,
    ratio: side === 'wandb' || ratio === undefined ? '' : fmtRatio(ratio),
    target:
      side === 'ours' && ratio !== undefined ? `≥ ${TARGET}×: ${verdict(ratio >= TARGET)}` : '',
  };
});
const text = printTable(
  `Offline W&B: ${opts.rows.toLocaleString('en-US')} rows × ${opts.keys} metrics into a .wandb file, median of repetitions`,
  rows,
  [
    ['client', 'client'],
    ['runs', 'runs'],
    ['rate', 'rows/s'],
    ['range', 'min–max'],
    ['ms', 'ms'],
    ['split', 'log loop / end (ms)'],
    ['ratio', 'ours ÷ SDK'],
    ['target', 'target'],
    ['cpu', 'CPU ms'],
    ['perCpu', 'rows per CPU s'],
    ['cpuRatio', 'ours ÷ SDK, per CPU s'],
    ['file', '.wandb file (checked)'],
  ],
);

await writeResults('wandb-offline', {
  description:
    'Rows per second into a .wandb transaction log, ours (the flavor offline, and its writer alone) against the wandb SDK offline; every file read back and checked.',
  options: opts,
  busyBefore,
  results,
  table: text,
});
