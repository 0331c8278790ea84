/**
 * Benchmark 8, the read path: what reading a run costs as it grows. Runs of 1e3, 1e5 and 1e7
 * points (3 keys) are logged to the local store; then, in fresh processes, `--reps` times
 * each, interleaved: `trackstack runs show <uid>` (tables and charts), `runs show --json`
 * (summaries), and what opening a run page reads (snapshot, summaries, a 1000-point series
 * of each key: read-path-worker.mjs --open). The target: the largest run costs at most 3×
 * the smallest for each.
 *
 * Usage: node read-path.mjs [--reps 5] [--sizes 1000,100000,10000000]
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  BENCH_DIR,
  fmt,
  fmtRatio,
  machineInfo,
  machineLine,
  median,
  options,
  printTable,
  runNodeJson,
  verdict,
  warnIfBusy,
  writeResults,
} from './lib.mjs';

const opts = options({ reps: 5, sizes: '1000,100000,10000000' });
const sizes = opts.sizes.split(',').map(Number);
const machine = await machineInfo();
process.stdout.write(`read-path: ${machineLine(machine)}\n`);
const busyBefore = await warnIfBusy('the read-path benchmark');
const require = createRequire(join(BENCH_DIR, 'package.json'));
const cliPackageJson = require.resolve('@trackstack/cli/package.json');
const cli = join(
  dirname(cliPackageJson),
  JSON.parse(readFileSync(cliPackageJson, 'utf8')).bin.trackstack,
);
const store = mkdtempSync(join(tmpdir(), 'trackstack-bench-read-'));

/** Wall ms of a CLI command, its output thrown away. */
function timeCli(args) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [cli, '--store', store, ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (c) => (err += c));
    child.on('close', (code) =>
      code === 0 ? resolve(performance.now() - t0) : reject(new Error(err)),
    );
  });
}

try {
  const runs = [];
  for (const size of sizes) {
    const made = await runNodeJson('read-path-worker.mjs', [
      '--make',
      String(size),
      '--store',
      store,
    ]);
    runs.push(made);
    process.stdout.write(
      `  made ${made.points} points (${fmt(made.journalBytes / 2 ** 20)} MiB of journal)\n`,
    );
  }
  const times = runs.map(() => ({ show: [], json: [], open: [] }));
  // One unmeasured warm-up of each (the first read of an ended run saves nothing new: the
  // writer saved its index when it closed).
  for (const run of runs) await timeCli(['runs', 'show', run.uid]);
  for (let rep = 0; rep < opts.reps; rep++) {
    for (const [i, run] of runs.entries()) {
      times[i].show.push(await timeCli(['runs', 'show', run.uid]));
      times[i].json.push(await timeCli(['runs', 'show', run.uid, '--json']));
      times[i].open.push(
        (await runNodeJson('read-path-worker.mjs', ['--open', run.uid, '--store', store])).ms,
      );
    }
  }
  const rows = runs.map((run, i) => ({
    points: run.points.toLocaleString('en'),
    journal: `${fmt(run.journalBytes / 2 ** 20)} MiB`,
    show: median(times[i].show),
    json: median(times[i].json),
    open: median(times[i].open),
  }));
  const ratio = (field) => median(times.at(-1)[field]) / median(times[0][field]);
  rows.push({
    points: `ratio largest / smallest`,
    journal: '',
    show: fmtRatio(ratio('show')),
    json: fmtRatio(ratio('json')),
    open: fmtRatio(ratio('open')),
  });
  const ok = ['show', 'json', 'open'].every((f) => ratio(f) <= 3);
  const table = printTable(
    `Read path: cost of reading a run as it grows (${opts.reps} reps, median ms; target ≤ 3×): ${verdict(ok)}`,
    rows,
    [
      ['points', 'points'],
      ['journal', 'journal'],
      ['show', 'runs show (process, ms)'],
      ['json', 'runs show --json (process, ms)'],
      ['open', 'run page data (in-process, ms)'],
    ],
  );
  await writeResults('read-path', {
    description: 'Cost of runs show, runs show --json and a run page read at 1e3, 1e5, 1e7 points.',
    options: opts,
    busyBefore,
    runs,
    times,
    ratios: { show: ratio('show'), json: ratio('json'), open: ratio('open') },
    table,
  });
} finally {
  rmSync(store, { recursive: true, force: true });
}
