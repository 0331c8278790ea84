/**
 * Benchmark 6, the system-metrics sampler's cost: CPU time per sample, ours (a local run
 * sampling every `--interval` s for `--seconds`, against the same run with sampling off, in
 * fresh processes, interleaved) side by side with MLflow's own monitors (psutil; collect and
 * aggregate only, no logging). The sampler runs on its own timer: the logging call path
 * (benchmark 1) never calls it.
 *
 * Usage: node system-metrics.mjs [--reps 3] [--interval 0.1] [--seconds 10]
 */
import {
  fmt,
  harness,
  machineInfo,
  machineLine,
  options,
  printTable,
  runNodeJson,
  runPythonJson,
  summarize,
  warnIfBusy,
  writeResults,
} from './lib.mjs';

const opts = options({ reps: 3, interval: 0.1, seconds: 10 });
const machine = await machineInfo();
process.stdout.write(`system-metrics: ${machineLine(machine)}\n`);
const busyBefore = await warnIfBusy('the system-metrics benchmark');
const h = await harness();
const env = await h.ensurePythonEnv({
  name: 'mlflow-psutil',
  requirements: h.MLFLOW_SYSTEM_METRICS_REQUIREMENTS,
});

const runs = { on: [], off: [], mlflow: [] };
const worker = (interval) =>
  runNodeJson('system-metrics-worker.mjs', [
    '--interval',
    String(interval),
    '--seconds',
    String(opts.seconds),
  ]);
for (let rep = 0; rep < opts.reps; rep++) {
  runs.on.push(await worker(opts.interval));
  runs.off.push(await worker(0));
  runs.mlflow.push(
    await runPythonJson(env, 'system_metrics_mlflow.py', [
      Math.round(opts.seconds / opts.interval),
      opts.interval,
    ]),
  );
  const on = runs.on.at(-1);
  process.stdout.write(
    `  rep ${rep + 1}: ours ${fmt(on.cpuMs)} ms CPU for ${on.samples} samples (off: ${fmt(runs.off.at(-1).cpuMs)} ms); MLflow ${fmt(runs.mlflow.at(-1).cpuMsPerSample)} ms a sample\n`,
  );
}
const perSample = runs.on.map((on, i) => (on.cpuMs - runs.off[i].cpuMs) / on.samples);
const ours = summarize(perSample).median;
const mlflow = summarize(runs.mlflow.map((r) => r.cpuMsPerSample)).median;
const table = printTable(
  `System metrics: CPU time per sample (sampling every ${opts.interval} s for ${opts.seconds} s, ${opts.reps} reps, median)`,
  [
    {
      who: `trackstack (${runs.on[0].keys} keys, sample + log + journal)`,
      ms: ours,
      at10s: `${fmt((100 * ours) / 10_000)} % of a core`,
    },
    {
      who: `MLflow's monitors, psutil (${runs.mlflow[0].keys} keys, collect + aggregate)`,
      ms: mlflow,
      at10s: `${fmt((100 * mlflow) / 10_000)} % of a core`,
    },
  ],
  [
    ['who', 'sampler'],
    ['ms', 'CPU ms per sample'],
    ['at10s', 'at the default 10 s'],
  ],
);
await writeResults('system-metrics', {
  description: 'CPU time per system-metrics sample, ours and MLflow monitors, side by side.',
  options: opts,
  busyBefore,
  runs,
  perSample,
  rates: { ours, mlflow },
  table,
});
