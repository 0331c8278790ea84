/**
 * Benchmark 2, ingest into a real MLflow server: `--points` metric points
 * (default 200 000; the issue's full size is `--points 1000000`) over `--keys`
 * keys (100), until the server acknowledged every one. Every variant of every
 * repetition gets a FRESH server (the test harness's: SQLite backend, with
 * `--workers` uvicorn workers, default 4 as a plain `mlflow server` has), so the
 * size of the database never favours one variant, and the variants are
 * interleaved across repetitions. After each run the points are counted in the
 * server's SQLite file (count, distinct keys, distinct steps).
 *
 * Variants (see each worker's header for exactly what is timed):
 * - ours             MlflowExperimentTracker: logMetrics per step, then run.end()
 * - py-batch         MlflowClient.log_batch, 1000 points per call, synchronous
 * - py-async         mlflow.log_metrics(synchronous=False) per step + flush, defaults
 * - py-async-buffer  the same with MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS=1
 * - ceiling          pre-encoded log-batch bodies posted by a bare undici Pool,
 *                    at the best cell of the sweep (requests in flight
 *                    `--sweep` 1,2,4 × requests per connection
 *                    `--sweep-connection` 1,2,4,0; 1 = a new connection per
 *                    request, 0 = kept); the bodies hold the points key by
 *                    key, 10 keys a request, as the MLflow flavor sends them
 * - ceiling-step-order  the same, bodies in logging order (every request holds
 *                    10 steps of all 100 keys, as py-batch sends them): what
 *                    sending key by key saves the server
 *
 * While a client runs, the CPU time of the server's processes is sampled from
 * /proc/<pid>/stat; with the clients' own CPU time, it shows what bounds the
 * throughput. Probes without a server split the server's cost further:
 * MLflow's SqlAlchemyStore.log_batch on a fresh SQLite file (the store layer,
 * no HTTP), the same rows INSERTed with Python's sqlite3 (SQLite alone), and
 * the store layer under cProfile (`profile`, `--profile-points`): the share of
 * its time spent in SQLite's own calls.
 *
 * MLflow's default async logging sends one request per logging call, so it is
 * 3-4× slower than the rest: it runs `--py-async-reps` times (default 1), the
 * others `--reps` times. The sweep runs `--sweep-points` points (default a
 * quarter of `--points`), `--sweep-reps` times per cell (interleaved and
 * rotated): the ceiling's cells, and ours at `max_requests_in_flight`
 * `--ours-sweep` (1,2,4) × `requests_per_connection` (the same list): the
 * sweep that chose the MLflow flavor's defaults. The ceiling rows are then
 * measured at full size at the cell with the best median; ours at its
 * defaults.
 *
 * Usage: node ingest.mjs [--points 200000] [--keys 100] [--reps 5] [--workers 4]
 *   [--variants ours,py-batch,py-async,py-async-buffer,ceiling,ceiling-step-order]
 *   [--py-async-reps 1] [--sweep 1,2,4] [--sweep-connection 1,2,4,0]
 *   [--ours-sweep 1,2,4] [--sweep-points 50000] [--sweep-reps 3]
 *   [--probes store,sqlite,profile] [--probe-reps 1] [--profile-points 20000]
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
  processCpuMs,
  runNodeJson,
  runPythonJson,
  serverPids,
  summarize,
  verdict,
  warnIfBusy,
  writeResults,
} from './lib.mjs';

const opts = options({
  points: 200_000,
  keys: 100,
  // Five: this server's own speed moves ±15 % from one fresh server to the next, whatever the
  // client; three repetitions could not separate variants within that spread.
  reps: 5,
  // `mlflow server`'s own default (uvicorn, 4 workers); the test harness starts 1.
  workers: 4,
  variants: 'ours,py-batch,py-async,py-async-buffer,ceiling,ceiling-step-order',
  'py-async-reps': 1,
  // The sweep: the ceiling at each concurrency × requests per connection, and ours at each
  // max_requests_in_flight × requests_per_connection (what chose the MLflow flavor's defaults).
  sweep: '1,2,4',
  'sweep-connection': '1,2,4,0',
  'ours-sweep': '1,2,4',
  'sweep-points': 0,
  'sweep-reps': 3,
  probes: 'store,sqlite,profile',
  'probe-reps': 1,
  'profile-points': 20_000,
});
const variants = opts.variants.split(',').filter(Boolean);
const list = (v) => String(v).split(',').filter(Boolean).map(Number);
const sweep = list(opts.sweep);
const sweepConnection = list(opts['sweep-connection']);
const oursSweep = list(opts['ours-sweep']);
const probes = opts.probes.split(',').filter((p) => p === 'store' || p === 'sqlite');
const profileStore = opts.probes.split(',').includes('profile');
const expectedPoints = Math.floor(opts.points / opts.keys) * opts.keys;
const sweepPoints = opts['sweep-points'] || Math.max(opts.keys, Math.floor(opts.points / 4));
const repsOf = (variant) =>
  variant === 'py-async' ? Math.min(opts.reps, opts['py-async-reps']) : opts.reps;

const machine = await machineInfo();
process.stdout.write(`ingest: ${machineLine(machine)}\n`);
const busyBefore = await warnIfBusy('the ingest benchmark');
const h = await harness();
const env = await mlflowEnv();

/** Samples the summed CPU time of `pids` (ms) with wall-clock timestamps (epoch ms). */
function cpuSeries(pids, intervalMs = 50) {
  const total = () => pids.reduce((sum, pid) => sum + (processCpuMs(pid) ?? 0), 0);
  const series = [[Date.now(), total()]];
  const timer = setInterval(() => series.push([Date.now(), total()]), intervalMs);
  const at = (t) => {
    if (t <= series[0][0]) return series[0][1];
    for (let i = 1; i < series.length; i++) {
      const [t1, c1] = series[i];
      if (t1 >= t) {
        const [t0, c0] = series[i - 1];
        return t1 === t0 ? c1 : c0 + ((c1 - c0) * (t - t0)) / (t1 - t0);
      }
    }
    return series[series.length - 1][1];
  };
  return {
    stop() {
      clearInterval(timer);
      series.push([Date.now(), total()]);
    },
    /** CPU ms spent between two epoch-ms instants, and the peak over any ~0.5 s. */
    window(start, end) {
      const cpuMs = at(end) - at(start);
      let peak = 0;
      for (let i = 0; i < series.length; i++) {
        const [t0, c0] = series[i];
        if (t0 < start) continue;
        let j = i;
        while (j < series.length - 1 && series[j][0] - t0 < 500 && series[j][0] <= end) j++;
        const [t1, c1] = series[j];
        if (t1 - t0 >= 250 && t1 <= end + 100) peak = Math.max(peak, (c1 - c0) / (t1 - t0));
      }
      return { cpuMs, cores: cpuMs / (end - start), peakCores: peak };
    },
  };
}

/** One client run on a fresh server, with the server's CPU and a count of what it stored. */
async function onFreshServer(label, client, points = expectedPoints) {
  const expected = Math.floor(points / opts.keys) * opts.keys;
  const server = await h.startMlflowServer({ extraArgs: ['--workers', String(opts.workers)] });
  try {
    const pids = serverPids(server.port);
    if (pids.length === 0)
      throw new Error(`no process found for the server on port ${server.port}`);
    const series = cpuSeries(pids);
    let result;
    try {
      result = await client(server);
    } finally {
      series.stop();
    }
    const server_ = series.window(result.windowStart, result.windowEnd);
    const stored = await runPythonJson(env, 'count_metrics.py', [
      join(server.dir, 'mlflow.db'),
      result.runId,
    ]);
    if (
      stored.points !== expected ||
      stored.keys !== opts.keys ||
      stored.steps !== expected / opts.keys
    ) {
      throw new Error(
        `${label}: the server holds ${JSON.stringify(stored)}, expected ${expected} points over ${opts.keys} keys`,
      );
    }
    const wallMs = result.windowEnd - result.windowStart;
    const row = {
      ...result,
      stored,
      serverCpuMs: server_.cpuMs,
      serverCores: server_.cores,
      serverPeakCores: server_.peakCores,
      clientCores: result.cpuMs / wallMs,
    };
    process.stdout.write(
      `  ${label}: ${Math.round(row.pointsPerSec)} points/s, ${(row.ms / 1000).toFixed(1)} s; server CPU ${row.serverCores.toFixed(2)} cores (peak ${row.serverPeakCores.toFixed(2)}), client ${row.clientCores.toFixed(2)}; stored ${stored.points}\n`,
    );
    return row;
  } finally {
    await server.stop();
  }
}

const common = ['--keys', String(opts.keys)];
const clients = {
  ours: (server) =>
    runNodeJson('ingest-ours.mjs', ['--url', server.url, '--points', opts.points, ...common]),
  'py-batch': (server) =>
    runPythonJson(env, 'ingest_mlflow.py', ['batch', server.url, opts.points, opts.keys]),
  'py-async': (server) =>
    runPythonJson(env, 'ingest_mlflow.py', ['async', server.url, opts.points, opts.keys]),
  'py-async-buffer': (server) =>
    runPythonJson(env, 'ingest_mlflow.py', ['async', server.url, opts.points, opts.keys], {
      MLFLOW_ASYNC_LOGGING_BUFFERING_SECONDS: '1',
    }),
  ceiling: (server, cell = bestCell, points = opts.points, group = 10) =>
    runNodeJson('ingest-ceiling.mjs', [
      '--url',
      server.url,
      '--points',
      String(points),
      ...common,
      '--concurrency',
      String(cell.c),
      '--group',
      String(group),
      '--per-connection',
      String(cell.r),
    ]),
  'ceiling-step-order': (server) => clients.ceiling(server, bestCell, opts.points, 0),
};
const oursAt = (server, cell, points) =>
  runNodeJson('ingest-ours.mjs', [
    '--url',
    server.url,
    '--points',
    points,
    ...common,
    '--in-flight',
    String(cell.c),
    '--per-connection',
    String(cell.r),
  ]);

/** requests per connection, as a label: 1 = a new connection per request, 0 = kept. */
const perConn = (r) => (r === 1 ? 'new per request' : r === 0 ? 'kept' : `${r} a connection`);

// 1. The sweep, interleaved and rotated (round k starts at cell k): the ceiling's best cell is
// the one with the best median; ours' cells show what chose the flavor's defaults.
const cells = [];
if (variants.some((v) => v.startsWith('ceiling'))) {
  for (const c of sweep) for (const r of sweepConnection) cells.push({ who: 'ceiling', c, r });
}
for (const c of oursSweep) for (const r of sweepConnection) cells.push({ who: 'ours', c, r });
const cellKey = (cell) => `${cell.who} c=${cell.c} r=${cell.r}`;
const sweepRuns = Object.fromEntries(cells.map((cell) => [cellKey(cell), []]));
let bestCell = { c: 2, r: 1 };
if (cells.length > 0) {
  process.stdout.write(
    `sweep: ${cells.length} cells (${sweepPoints} points, ${opts['sweep-reps']} runs each)\n`,
  );
  for (let rep = 0; rep < opts['sweep-reps']; rep++) {
    for (let i = 0; i < cells.length; i++) {
      const cell = cells[(i + rep) % cells.length];
      const row = await onFreshServer(
        cellKey(cell),
        (server) =>
          cell.who === 'ceiling'
            ? clients.ceiling(server, cell, sweepPoints)
            : oursAt(server, cell, sweepPoints),
        sweepPoints,
      );
      sweepRuns[cellKey(cell)].push(row);
    }
  }
  let best = -1;
  for (const cell of cells.filter((x) => x.who === 'ceiling')) {
    const rate = summarize(sweepRuns[cellKey(cell)].map((r) => r.pointsPerSec)).median;
    if (rate > best) {
      best = rate;
      bestCell = cell;
    }
  }
  process.stdout.write(`ceiling: best cell ${cellKey(bestCell)}\n`);
}

// 2. The variants, interleaved and rotated, a fresh server each.
const runs = Object.fromEntries(variants.map((v) => [v, []]));
for (let rep = 0; rep < opts.reps; rep++) {
  process.stdout.write(`repetition ${rep + 1}/${opts.reps}\n`);
  for (let i = 0; i < variants.length; i++) {
    const variant = variants[(i + rep) % variants.length];
    if (rep >= repsOf(variant)) continue;
    const row = await onFreshServer(variant, (server) => clients[variant](server));
    runs[variant].push(row);
  }
}

// 3. Probes without a server: MLflow's store layer, and SQLite alone.
const probeRuns = Object.fromEntries(probes.map((p) => [p, []]));
for (let rep = 0; rep < opts['probe-reps']; rep++) {
  for (const probe of probes) {
    const dir = await mkdtemp(join(tmpdir(), 'trackstack-bench-probe-'));
    try {
      const row = await runPythonJson(env, 'ingest_mlflow.py', [
        probe,
        dir,
        opts.points,
        opts.keys,
      ]);
      const stored = await runPythonJson(env, 'count_metrics.py', [row.db, row.runId]);
      if (stored.points !== expectedPoints) {
        throw new Error(`probe ${probe}: stored ${stored.points} of ${expectedPoints}`);
      }
      row.clientCores = row.cpuMs / row.ms;
      process.stdout.write(
        `  probe ${probe}: ${Math.round(row.pointsPerSec)} points/s, CPU ${row.clientCores.toFixed(2)} cores\n`,
      );
      probeRuns[probe].push(row);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

let storeProfile;
if (profileStore) {
  const dir = await mkdtemp(join(tmpdir(), 'trackstack-bench-profile-'));
  try {
    storeProfile = await runPythonJson(env, 'profile_store.py', [
      dir,
      opts['profile-points'],
      opts.keys,
    ]);
    process.stdout.write(
      `  profile store: ${(100 * storeProfile.sqliteShare).toFixed(0)} % of SqlAlchemyStore._log_metrics in sqlite3 calls\n`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// Table

const med = (rows, key) => summarize(rows.map((r) => r[key])).median;
const labels = {
  ours: 'trackstack MlflowExperimentTracker (logMetrics + end)',
  'py-batch': 'Python MlflowClient.log_batch ×1000, sync',
  'py-async': 'Python mlflow.log_metrics(synchronous=False), defaults',
  'py-async-buffer': 'Python mlflow.log_metrics(synchronous=False), buffering 1 s',
  ceiling: `ceiling: pre-encoded bodies key by key, undici Pool, ${bestCell.c} in flight, connection ${perConn(bestCell.r)} (the sweep's best)`,
  'ceiling-step-order': `the same, bodies in logging order (100 keys a request)`,
};
const rate = Object.fromEntries(variants.map((v) => [v, med(runs[v], 'pointsPerSec')]));
const pythonVariants = variants.filter((v) => v.startsWith('py-'));
const pythonBest = pythonVariants.reduce(
  (best, v) => (best === undefined || rate[v] > rate[best] ? v : best),
  undefined,
);
const rows = variants.map((v) => {
  const s = summarize(runs[v].map((r) => r.pointsPerSec));
  return {
    variant: labels[v],
    n: s.n,
    rate: s.median,
    range: `${Math.round(s.min).toLocaleString('en-US')}–${Math.round(s.max).toLocaleString('en-US')}`,
    seconds: med(runs[v], 'ms') / 1000,
    vsCeiling: rate.ceiling === undefined ? '' : `${((100 * rate[v]) / rate.ceiling).toFixed(0)} %`,
    vsOurs: v === 'ours' || rate.ours === undefined ? '' : fmtRatio(rate.ours / rate[v]),
    server: med(runs[v], 'serverCores'),
    client: med(runs[v], 'clientCores'),
  };
});
const table1 = printTable(
  `Ingest into MLflow: ${expectedPoints.toLocaleString('en-US')} points over ${opts.keys} keys until acknowledged, fresh server (${opts.workers} worker${opts.workers === 1 ? '' : 's'}) per run, median of the runs`,
  rows,
  [
    ['variant', 'client'],
    ['n', 'runs'],
    ['rate', 'points/s'],
    ['range', 'min–max'],
    ['seconds', 's'],
    ['vsCeiling', '% of ceiling'],
    ['vsOurs', 'ours ÷ this'],
    ['server', 'server CPU (cores)'],
    ['client', 'client CPU (cores)'],
  ],
);

const sweepRows = cells.map((cell) => {
  const r = sweepRuns[cellKey(cell)];
  return {
    who: cell.who === 'ours' ? 'ours (max_requests_in_flight, requests_per_connection)' : 'ceiling',
    c: cell.c,
    r: perConn(cell.r),
    n: r.length,
    rate: med(r, 'pointsPerSec'),
    range: `${Math.round(Math.min(...r.map((x) => x.pointsPerSec))).toLocaleString('en-US')}–${Math.round(Math.max(...r.map((x) => x.pointsPerSec))).toLocaleString('en-US')}`,
    server: med(r, 'serverCores'),
    perK: med(
      r.map((x) => ({ v: (1000 * x.serverCpuMs) / x.points })),
      'v',
    ),
  };
});
const probeRows = probes.map((p) => ({
  probe:
    p === 'store'
      ? "MLflow SqlAlchemyStore.log_batch ×1000, no server (the server's store layer)"
      : 'sqlite3 executemany INSERT, 1 transaction per 1000 rows (SQLite alone)',
  rate: med(probeRuns[p], 'pointsPerSec'),
  cpu: med(probeRuns[p], 'clientCores'),
}));
if (storeProfile !== undefined) {
  probeRows.push({
    probe: `the store layer under cProfile (${opts['profile-points'].toLocaleString('en-US')} points): share of its time in sqlite3 execute/executemany/commit`,
    rate: `${(100 * storeProfile.sqliteShare).toFixed(0)} %`,
    cpu: '',
  });
}
const table2 = sweepRows.length
  ? printTable(
      `The sweep: requests in flight × requests per connection (${sweepPoints.toLocaleString('en-US')} points, fresh server per run, median of the runs)`,
      sweepRows,
      [
        ['who', 'client'],
        ['c', 'in flight'],
        ['r', 'connection'],
        ['n', 'runs'],
        ['rate', 'points/s'],
        ['range', 'min–max'],
        ['server', 'server CPU (cores)'],
        ['perK', 'server CPU ms / 1000 points'],
      ],
    )
  : '';
const table3 = probeRows.length
  ? printTable('What the server spends its time on: the same points without HTTP', probeRows, [
      ['probe', 'probe'],
      ['rate', 'points/s (or share)'],
      ['cpu', 'CPU (cores)'],
    ])
  : '';

const targets = [];
if (rate.ours !== undefined && rate.ceiling !== undefined) {
  targets.push(
    `ours ÷ best ceiling = ${((100 * rate.ours) / rate.ceiling).toFixed(1)} % (target ≥ 95 %: ${verdict(rate.ours >= 0.95 * rate.ceiling)})`,
  );
}
if (rate.ours !== undefined && pythonBest !== undefined) {
  targets.push(
    `ours ÷ Python best (${pythonBest}) = ${fmtRatio(rate.ours / rate[pythonBest])} (target > 1×, and 2× where the ceiling allows, else ≥ 90 % of the ceiling: ${verdict(rate.ours > rate[pythonBest] && rate.ours >= Math.min(2 * rate[pythonBest], 0.9 * (rate.ceiling ?? Number.POSITIVE_INFINITY)))}; the ceiling itself is ${fmtRatio(rate.ceiling / rate[pythonBest])} the Python best)`,
  );
}
// Where the ceiling's time goes, per 1000 points: CPU ms of the server, of the
// store layer alone, of SQLite alone (the probes run without HTTP).
const perK = (rows, key) =>
  med(
    rows.map((r) => ({ v: (1000 * r[key]) / r.points })),
    'v',
  );
const analysis = {};
if (runs.ceiling?.length) {
  analysis.serverCpuMsPer1000 = perK(runs.ceiling, 'serverCpuMs');
  analysis.clientCpuMsPer1000 = perK(runs.ceiling, 'cpuMs');
  analysis.serverCores = med(runs.ceiling, 'serverCores');
}
if (probeRuns.store?.length) analysis.storeCpuMsPer1000 = perK(probeRuns.store, 'cpuMs');
if (probeRuns.sqlite?.length) analysis.sqliteCpuMsPer1000 = perK(probeRuns.sqlite, 'cpuMs');
if (analysis.serverCpuMsPer1000 !== undefined) {
  targets.push(
    `ceiling: the server's ${opts.workers} worker process${opts.workers === 1 ? ' (one core at most)' : 'es'} used ${analysis.serverCores.toFixed(2)} cores and ${analysis.serverCpuMsPer1000.toFixed(0)} ms CPU per 1000 points; the client ${analysis.clientCpuMsPer1000.toFixed(1)} ms` +
      (analysis.storeCpuMsPer1000 === undefined
        ? ''
        : `; MLflow's store layer alone ${analysis.storeCpuMsPer1000.toFixed(0)} ms`) +
      (analysis.sqliteCpuMsPer1000 === undefined
        ? ''
        : `; SQLite alone ${analysis.sqliteCpuMsPer1000.toFixed(0)} ms`),
  );
}
process.stdout.write(`${targets.join('\n')}\n\n`);

await writeResults('ingest', {
  description:
    'Metric points into a real MLflow server (SQLite, `--workers` uvicorn workers) until acknowledged; fresh server per run; counts verified in the database.',
  options: opts,
  expectedPoints,
  busyBefore,
  bestCell,
  sweepPoints,
  pythonBest,
  rates: rate,
  runs,
  sweep: sweepRuns,
  probes: probeRuns,
  storeProfile,
  targets,
  analysis,
  table: [table1, table2, table3, targets.join('\n\n')].filter(Boolean).join('\n\n'),
});
