/**
 * Runs every benchmark, one after another, each in its own node process, then
 * prints the headline table (from results/latest.json) and writes it, with
 * every benchmark's own table, to results/summary.md.
 *
 * Usage: node run-all.mjs [--quick] [--full] [--only startup,hot-path,memory,wandb-offline,ingest,system-metrics,media]
 *   --quick  small sizes, one repetition: a smoke test of the scripts, not a measurement
 *   --full   the issue's full ingest size (1e6 points; long on SQLite)
 */
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  BENCH_DIR,
  fmt,
  fmtRatio,
  machineLine,
  median,
  options,
  printTable,
  RESULTS_DIR,
  summarize,
  verdict,
} from './lib.mjs';

const opts = options({
  quick: false,
  full: false,
  only: 'startup,hot-path,memory,wandb-offline,ingest,system-metrics,media',
});
const only = new Set(opts.only.split(','));

const QUICK = {
  startup: ['--reps', '10'],
  'system-metrics': ['--reps', '1', '--seconds', '2'],
  media: ['--reps', '1', '--count', '5'],
  'hot-path': [
    '--points',
    '200000',
    '--reps',
    '2',
    '--py-reps',
    '1',
    '--mlflow-points',
    '1000',
    '--mlflow-default-points',
    '500',
    '--wandb-points',
    '1000',
  ],
  memory: ['--points', '1000000', '--reps', '1'],
  'wandb-offline': ['--rows', '2000', '--reps', '1', '--py-reps', '1'],
  ingest: [
    '--points',
    '10000',
    '--reps',
    '1',
    '--sweep',
    '2',
    '--sweep-connection',
    '1',
    '--ours-sweep',
    '',
    '--sweep-reps',
    '1',
    '--probe-reps',
    '1',
  ],
};
const FULL = { ingest: ['--points', '1000000'] };

const scripts = [
  'startup',
  'hot-path',
  'memory',
  'wandb-offline',
  'ingest',
  'system-metrics',
  'media',
].filter((s) => only.has(s));
const started = new Date().toISOString();
const failed = [];
for (const name of scripts) {
  const args = opts.quick ? QUICK[name] : opts.full ? (FULL[name] ?? []) : [];
  process.stdout.write(`\n=== ${name} ${args.join(' ')}\n`);
  const code = await new Promise((resolve) => {
    const child = spawn(process.execPath, [join(BENCH_DIR, `${name}.mjs`), ...args], {
      cwd: BENCH_DIR,
      stdio: 'inherit',
    });
    child.on('close', (c) => resolve(c ?? 1));
  });
  if (code !== 0) failed.push(name);
}

// ---------------------------------------------------------------------------
// The headline table, from this invocation's results only.

const latest = JSON.parse(await readFile(join(RESULTS_DIR, 'latest.json'), 'utf8'));
const fresh = (name) => {
  const record = latest.benchmarks?.[name];
  return record !== undefined && record.time >= started ? record : undefined;
};
const rows = [];
const hot = fresh('hot-path');
if (hot?.results.ours) {
  const ours = hot.results.ours.usPerCall.median;
  rows.push({
    bench: '1. hot path',
    measure: `run.logMetric, µs/call (offline, ${hot.options.points.toLocaleString('en-US')} calls)`,
    ours: fmt(ours),
    theirs: '',
    ratio: '',
    target: '< 1 µs',
    result: verdict(ours < 1),
  });
  const mlflowBest = ['mlflow', 'mlflow-buffered']
    .map((k) => hot.results[k]?.usPerCall.median)
    .filter((v) => v !== undefined);
  if (mlflowBest.length > 0) {
    const best = Math.min(...mlflowBest);
    rows.push({
      bench: '',
      measure: 'vs mlflow.log_metric(synchronous=False), its cheaper config, µs/call',
      ours: fmt(ours),
      theirs: fmt(best),
      ratio: `${fmt(ours / best)} (${fmtRatio(best / ours)} cheaper)`,
      target: '≥ 30× cheaper',
      result: verdict(best / ours >= 30),
    });
  }
  if (hot.results.wandb) {
    const w = hot.results.wandb.usPerCall.median;
    rows.push({
      bench: '',
      measure: 'vs wandb.log (offline), µs/call',
      ours: fmt(ours),
      theirs: fmt(w),
      ratio: `${fmt(ours / w)} (${fmtRatio(w / ours)} cheaper)`,
      target: '≥ 100× cheaper',
      result: verdict(w / ours >= 100),
    });
  }
}
/**
 * Issue 9's second ingest target: ahead of the Python best, and 2× it where the ceiling
 * allows; where the ceiling is under (or near) 2× the Python best, 90 % of the ceiling.
 */
const aheadOfPython = (ours, python, ceiling) =>
  ours > python && ours >= Math.min(2 * python, 0.9 * (ceiling ?? Number.POSITIVE_INFINITY));
const ingest = fresh('ingest');
if (ingest?.rates.ours !== undefined) {
  const r = ingest.rates;
  if (r.ceiling !== undefined) {
    rows.push({
      bench: '2. ingest',
      measure: `points/s into MLflow (${ingest.expectedPoints.toLocaleString('en-US')} points), vs the best ceiling (bare undici, ${ingest.bestCell.c} in flight, ${ingest.bestCell.r === 1 ? 'a connection per request' : ingest.bestCell.r === 0 ? 'kept connections' : `${ingest.bestCell.r} requests a connection`})`,
      ours: fmt(r.ours),
      theirs: fmt(r.ceiling),
      ratio: `${((100 * r.ours) / r.ceiling).toFixed(1)} %`,
      target: '≥ 95 % of the best ceiling',
      result: verdict(r.ours >= 0.95 * r.ceiling),
    });
  }
  if (ingest.pythonBest !== undefined) {
    const p = r[ingest.pythonBest];
    rows.push({
      bench: rows.at(-1)?.bench === '2. ingest' ? '' : '2. ingest',
      measure: `vs the Python best (${ingest.pythonBest}), points/s`,
      ours: fmt(r.ours),
      theirs: fmt(p),
      ratio: fmtRatio(r.ours / p),
      target: `ahead; 2× where the ceiling allows (it is ${fmtRatio(r.ceiling / p)}), else ≥ 90 % of it`,
      result: verdict(aheadOfPython(r.ours, p, r.ceiling)),
    });
  }
}
const wandb = fresh('wandb-offline');
if (wandb?.results.ours !== undefined && wandb.results.wandb !== undefined) {
  const ours = wandb.results.ours.rowsPerSec.median;
  const sdk = wandb.results.wandb.rowsPerSec.median;
  rows.push({
    bench: '3. offline W&B',
    measure: `rows/s into a .wandb file (${wandb.options.rows.toLocaleString('en-US')} rows × ${wandb.options.keys} metrics), vs the wandb SDK offline`,
    ours: fmt(ours),
    theirs: fmt(sdk),
    ratio: fmtRatio(ours / sdk),
    target: '≥ 20×',
    result: verdict(ours / sdk >= 20),
  });
  const writer = wandb.results.writer?.rowsPerSec.median;
  if (writer !== undefined) {
    rows.push({
      bench: '',
      measure: 'the writer alone (WandbOfflineRun, no run/journal), rows/s',
      ours: fmt(writer),
      theirs: fmt(sdk),
      ratio: fmtRatio(writer / sdk),
      target: '',
      result: '',
    });
  }
}
const memory = fresh('memory');
if (memory) {
  const peak = memory.peakRssBytes;
  const all = memory.reps.every((r) => r.journal.points === memory.options.points);
  rows.push({
    bench: '4. outage memory',
    measure: `peak RSS, ${memory.options.points.toLocaleString('en-US')} points with the backend down`,
    ours: `${(peak.max / 1e6).toFixed(0)} MB`,
    theirs: '',
    ratio: '',
    target: '< 200 MB',
    result: verdict(peak.max < 200e6),
  });
  rows.push({
    bench: '',
    measure: 'every point journaled (read back, exact)',
    ours: all ? 'all' : 'NOT all',
    theirs: '',
    ratio: '',
    target: 'all',
    result: verdict(all),
  });
}
const system = fresh('system-metrics');
if (system?.rates.ours !== undefined) {
  const { ours, mlflow } = system.rates;
  rows.push({
    bench: '6. system metrics',
    measure: "CPU ms per sample, vs MLflow's own monitors (psutil)",
    ours: fmt(ours),
    theirs: fmt(mlflow),
    ratio: fmtRatio(ours / mlflow),
    target: '',
    result: '',
  });
}
const media = fresh('media');
if (media?.runs !== undefined) {
  const per = (k, field) => median(media.runs[k].map((r) => median(r[field])));
  const ours = per('oursMlflow', 'busy');
  const theirs = per('mlflow', 'cpu');
  rows.push({
    bench: '7. media',
    measure: `calling thread per logImage of a ${fmt(media.imageBytes / 2 ** 20)} MiB PNG, vs mlflow.log_image (ms)`,
    ours: fmt(ours),
    theirs: fmt(theirs),
    ratio: fmtRatio(theirs / ours),
    target: '',
    result: '',
  });
}
const startup = fresh('startup');
if (startup) {
  const node = summarize(startup.samples.node).median;
  const version = summarize(startup.samples.version).median;
  const imp = summarize(startup.importMs).median;
  const firstConfig = summarize(startup.inProcess?.firstConfig ?? []).median;
  rows.push({
    bench: '5. start-up',
    measure: `trackstack --version, wall ms (node -e 0: ${fmt(node)} ms)`,
    ours: fmt(version),
    theirs: '',
    ratio: '',
    target: '< 150 ms',
    result: verdict(version < 150),
  });
  rows.push({
    bench: '',
    measure: `import('@trackstack/core'), ms inside the process (then the first config parse, which loads zod: ${fmt(firstConfig)} ms)`,
    ours: fmt(imp),
    theirs: '',
    ratio: '',
    target: '< 50 ms',
    result: verdict(imp < 50),
  });
}

const headline = printTable('trackstack benchmarks: headline', rows, [
  ['bench', 'benchmark'],
  ['measure', 'measure'],
  ['ours', 'ours'],
  ['theirs', 'theirs'],
  ['ratio', 'ours ÷ theirs'],
  ['target', 'target'],
  ['result', 'result'],
]);
const sections = scripts
  .map((name) => fresh(name))
  .filter(Boolean)
  .map((record) => `## ${record.name}\n\n${record.description ?? ''}\n\n${record.table}\n`);
await writeFile(
  join(RESULTS_DIR, 'summary.md'),
  `# trackstack benchmarks, ${started}\n\n${machineLine(latest.machine)}\n\n${headline}\n\n${sections.join('\n')}`,
);
process.stdout.write(`summary: bench/results/summary.md\n`);
if (failed.length > 0) {
  process.stderr.write(`failed: ${failed.join(', ')}\n`);
  process.exitCode = 1;
}
