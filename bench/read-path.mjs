/**
 * Benchmark 8, the read path: what reading a run costs as it grows. Runs of 1e3, 1e5 and 1e7
 * points (3 keys) are logged to the local store; then, in fresh processes, `--reps` times
 * each, interleaved: `trackstack runs show <uid>` (tables and charts), `runs show --json`
 * (summaries), and what opening a run page reads (snapshot, summaries, a 1000-point series
 * of each key: read-path-worker.mjs --open), and in the viewer (`trackstack ui`, chromium
 * through playwright-core, a fresh browser context each time: nothing cached) the time from
 * opening a run's page to its first chart drawn. Also how long `trackstack ui` takes from
 * its start to serving its first page. The targets: the largest run costs at most 3× the
 * smallest for each; the first chart of the 1e7-point run is drawn in under 500 ms; the
 * viewer serves in under a second.
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

let browserKit;
/** The harness's browser kit (TypeScript source), through jiti as the harness is. */
async function browserKitOf() {
  if (browserKit === undefined) {
    const { createJiti } = await import('jiti');
    browserKit = await createJiti(import.meta.url).import('@trackstack/test-harness/browser');
  }
  return browserKit;
}

/** `trackstack ui` started: ms from spawn to its URL printed and to its first page served. */
async function startViewer() {
  const t0 = performance.now();
  const child = spawn(process.execPath, [cli, '--store', store, 'ui', '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (c) => {
      out += c;
      const last = out.trimEnd().split('\n').at(-1) ?? '';
      if (out.endsWith('\n') && last.startsWith('http://')) resolve(last);
    });
    child.once('exit', (code) => reject(new Error(`trackstack ui exited ${code}`)));
  });
  const printed = performance.now() - t0;
  const page = await fetch(url);
  await page.arrayBuffer();
  if (page.status !== 200) throw new Error(`trackstack ui answered ${page.status}`);
  return { child, url, printed, served: performance.now() - t0 };
}

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
  const times = runs.map(() => ({ show: [], json: [], open: [], chart: [] }));
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
  // The viewer: its startup, then each run's first chart in a fresh browser context.
  const kit = await browserKitOf();
  if (kit.chromiumPath() === undefined) throw new Error('no chromium: apt-get install chromium');
  const startups = [];
  for (let rep = 0; rep < opts.reps; rep++) {
    const viewer = await startViewer();
    startups.push(viewer);
    viewer.child.kill('SIGINT');
  }
  const viewer = await startViewer();
  const browser = await kit.launchBrowser();
  try {
    let timing;
    const firstChart = async (uid) => {
      // A new context: no cookie, no cache. The printed URL with the run's page in its hash.
      const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
      const page = await context.newPage();
      const t0 = performance.now();
      await page.goto(`${viewer.url}#/run/${uid}`);
      await page.waitForSelector('figure.chart[data-points]');
      const ms = performance.now() - t0;
      const drawn = Number(await page.getAttribute('figure.chart[data-points]', 'data-points'));
      timing ??= await page.evaluate(() =>
        JSON.stringify(
          performance
            .getEntries()
            .map(
              (e) =>
                `${e.name.replace(/\?.*/, '').slice(-40)} ${Math.round(e.startTime)}+${Math.round(e.duration)}`,
            ),
        ),
      );
      await context.close();
      return { ms, drawn };
    };
    for (const run of runs) await firstChart(run.uid); // warm-up
    for (let rep = 0; rep < opts.reps; rep++) {
      for (const [i, run] of runs.entries()) {
        const { ms, drawn } = await firstChart(run.uid);
        times[i].chart.push(ms);
        times[i].drawn = drawn;
      }
    }
    if (process.env.BENCH_DEBUG) process.stdout.write(`${timing}\n`);
  } finally {
    await browser.close();
    viewer.child.kill('SIGINT');
  }
  const rows = runs.map((run, i) => ({
    points: run.points.toLocaleString('en'),
    journal: `${fmt(run.journalBytes / 2 ** 20)} MiB`,
    show: median(times[i].show),
    json: median(times[i].json),
    open: median(times[i].open),
    chart: median(times[i].chart),
    drawn: times[i].drawn,
  }));
  const ratio = (field) => median(times.at(-1)[field]) / median(times[0][field]);
  rows.push({
    points: `ratio largest / smallest`,
    journal: '',
    show: fmtRatio(ratio('show')),
    json: fmtRatio(ratio('json')),
    open: fmtRatio(ratio('open')),
    chart: fmtRatio(ratio('chart')),
    drawn: '',
  });
  const largestChart = median(times.at(-1).chart);
  const printed = median(startups.map((s) => s.printed));
  const served = median(startups.map((s) => s.served));
  const ok =
    ['show', 'json', 'open', 'chart'].every((f) => ratio(f) <= 3) &&
    largestChart < 500 &&
    served < 1000;
  const table = printTable(
    `Read path: cost of reading a run as it grows (${opts.reps} reps, median ms; target ≤ 3×): ${verdict(ok)}`,
    rows,
    [
      ['points', 'points'],
      ['journal', 'journal'],
      ['show', 'runs show (process, ms)'],
      ['json', 'runs show --json (process, ms)'],
      ['open', 'run page data (in-process, ms)'],
      ['chart', 'first chart in chromium (ms)'],
      ['drawn', 'points drawn'],
    ],
  );
  process.stdout.write(
    `trackstack ui: URL printed after ${fmt(printed)} ms, first page served after ${fmt(served)} ms (median of ${opts.reps}; target < 1000 ms)\n` +
      `first chart of the ${runs.at(-1).points.toLocaleString('en')}-point run: ${fmt(largestChart)} ms (target < 500 ms)\n`,
  );
  await writeResults('read-path', {
    description:
      "Cost of runs show, runs show --json, a run page's data and its first chart in chromium at 1e3, 1e5, 1e7 points; trackstack ui's startup.",
    options: opts,
    busyBefore,
    runs,
    times,
    ratios: {
      show: ratio('show'),
      json: ratio('json'),
      open: ratio('open'),
      chart: ratio('chart'),
    },
    viewer: { printedMs: printed, servedMs: served, firstChartLargestMs: largestChart },
    table,
  });
} finally {
  rmSync(store, { recursive: true, force: true });
}
