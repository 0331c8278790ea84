/**
 * One repetition of the system-metrics benchmark, ours: a fresh process starts a local run
 * with system metrics every `--interval` s (or off, `--interval 0`), idles `--seconds`, ends
 * the run, and prints its own CPU time, the samples taken and the journal's bytes for them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTracker, LocalExperimentTracker, LocalRuns, silentLogger } from '@trackstack/core';
import { options } from './lib.mjs';

const { interval, seconds } = options({ interval: 0.1, seconds: 10 });
const storeDir = mkdtempSync(join(tmpdir(), 'trackstack-bench-sysmetrics-'));
try {
  const tracker = createTracker(new LocalExperimentTracker({}, { storeDir }), {
    logger: silentLogger,
  });
  const run = await tracker.startRun({
    systemMetrics: interval > 0 ? { intervalS: interval } : false,
  });
  const c0 = process.cpuUsage();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  const cpu = process.cpuUsage(c0);
  await run.end();
  const histories = await new LocalRuns(storeDir).metricHistories(run.uid);
  const samples = histories['system/system_memory_usage_megabytes']?.length ?? 0;
  const keys = Object.keys(histories).length;
  process.stdout.write(
    `${JSON.stringify({ cpuMs: (cpu.user + cpu.system) / 1000, samples, keys, seconds })}\n`,
  );
} finally {
  rmSync(storeDir, { recursive: true, force: true });
}
