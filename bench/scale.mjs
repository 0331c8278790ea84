/**
 * Benchmark 10, the scale-out path (issue 21): MLflow as a team runs it (4 workers, an S3
 * artifact store on moto), on PostgreSQL and, beside it, on SQLite; 8 and 32 client processes
 * at once, each logging --points points over 10 keys as fast as it can, each to its own run
 * ("separate") and each its shard of one run ("shard": the first owns and ends it, the others
 * attach by its uid). The clients are the scale test's (tools/reliability's
 * fixtures/scale-child.mjs, driven by its support/scale.ts, loaded through jiti). Every point
 * is read back once with MLflow's own Python client before a figure counts.
 *
 * Reported: points/s (all points ÷ the time from the first client's spawn to the last one's
 * exit, delivery included), and the clients' CPU per point (their user + system time summed,
 * start-up included), which says whether the client or the server is the limit.
 *
 * Usage: node scale.mjs [--points 2000] [--clients 8,32] [--stores sqlite,postgres]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  harness,
  machineInfo,
  machineLine,
  options,
  printTable,
  REPO_DIR,
  warnIfBusy,
  writeResults,
} from './lib.mjs';

const opts = options({ points: 2000, clients: '8,32', stores: 'sqlite,postgres' });
const KEYS = 10;
const machine = await machineInfo();
process.stdout.write(`scale: ${machineLine(machine)}\n`);
const busyBefore = await warnIfBusy('the scale benchmark');
const h = await harness();
const { createJiti } = await import('jiti');
const { scaleRound } = await createJiti(import.meta.url).import(
  join(REPO_DIR, 'tools/reliability/src/support/scale.ts'),
);

/** Every point of every client, once, as MLflow's client reads the run(s) back. */
async function readBack(oracle, round, experiment) {
  const runs =
    round.mode === 'shard'
      ? await oracle.find(experiment, round.sharedUid)
      : round.reports.map((r) => r.runId);
  if (round.mode === 'shard' && runs.length !== 1)
    throw new Error(`${runs.length} MLflow runs for one run`);
  let points = 0;
  for (const runId of runs) {
    const run = await oracle.run(runId);
    for (const summary of Object.values(run.metrics)) {
      if (summary.duplicates !== 0) throw new Error(`duplicates in ${runId}`);
      points += summary.count;
    }
  }
  return points;
}

const rows = [];
const results = [];
for (const store of opts.stores.split(',')) {
  const stack = await h.startMlflowStack({ store, workers: 4 });
  const oracle = new h.MlflowOracle(
    stack.server.env.python,
    stack.server.url,
    stack.s3.clientEnv(),
  );
  const dir = await mkdtemp(join(tmpdir(), 'trackstack-bench-scale-'));
  try {
    for (const mode of ['separate', 'shard']) {
      for (const clients of opts.clients.split(',').map(Number)) {
        const experiment = `scale-${mode}-${clients}`;
        const round = await scaleRound({
          trackingUri: stack.server.url,
          experiment,
          mode,
          clients,
          points: opts.points,
          keys: KEYS,
          storeDir: dir,
          endTimeoutMs: 600_000,
        });
        const pending = round.reports.reduce((n, r) => n + r.pending, 0);
        const total = clients * opts.points;
        const read = await readBack(oracle, round, experiment);
        if (pending !== 0 || read !== total) {
          throw new Error(
            `${store} ${mode} ${clients}: ${read} of ${total} points read back, ${pending} pending`,
          );
        }
        const cpuMs = round.reports.reduce((n, r) => n + r.cpuMs, 0);
        const result = { store, mode, clients, points: total, seconds: round.seconds, cpuMs };
        results.push(result);
        rows.push({
          store: store === 'postgres' ? 'PostgreSQL' : 'SQLite',
          mode: mode === 'shard' ? 'shards of one run' : 'a run each',
          clients,
          points: total.toLocaleString('en-US'),
          seconds: round.seconds,
          rate: total / round.seconds,
          cpu: (cpuMs * 1000) / total,
        });
        process.stdout.write(
          `  ${store} ${mode} ${clients}: ${Math.round(total / round.seconds)} points/s\n`,
        );
      }
    }
  } finally {
    oracle.close();
    await stack.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
const text = printTable(
  `Scale-out: MLflow (4 workers, S3 artifacts on moto), clients logging ${opts.points.toLocaleString('en-US')} points each at once; every point read back`,
  rows,
  [
    ['store', 'backend store'],
    ['mode', 'clients log'],
    ['clients', 'clients'],
    ['points', 'points'],
    ['seconds', 'wall s'],
    ['rate', 'points/s'],
    ['cpu', 'client CPU µs per point'],
  ],
);
await writeResults('scale', {
  description:
    'Points per second into MLflow on SQLite and PostgreSQL with 8 and 32 clients, a run each and shards of one run.',
  options: opts,
  busyBefore,
  results,
  table: text,
});
