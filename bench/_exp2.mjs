import { harness, runNodeJson, serverPids, processCpuMs } from './lib.mjs';
const h = await harness();
const points = Number(process.argv[2] ?? 100000);
const configs = JSON.parse(process.argv[3]);
const reps = Number(process.argv[4] ?? 2);
for (let r = 0; r < reps; r++) {
  for (const c of configs) {
    const server = await h.startMlflowServer({ extraArgs: ['--workers', String(c.workers)] });
    try {
      const pids = serverPids(server.port);
      const before = pids.map((p) => processCpuMs(p) ?? 0);
      let res;
      if (c.client === 'ours') res = await runNodeJson('ingest-ours.mjs', ['--url', server.url, '--points', String(points), '--per-connection', String(c.per ?? -1)]);
      else res = await runNodeJson('ingest-ceiling.mjs', ['--url', server.url, '--points', String(points), '--concurrency', String(c.c), '--group', '10', '--per-connection', String(c.per ?? 0)]);
      const per = pids.map((p, i) => Math.round(((processCpuMs(p) ?? 0) - before[i]) / 1000 * 10) / 10).filter((x) => x > 0.2);
      console.log(JSON.stringify({ r, ...c, pps: Math.round(res.pointsPerSec), perProcessCpuS: per }));
    } finally {
      await server.stop();
    }
  }
}
