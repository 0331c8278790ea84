// Logs a run to the loopback HTTP backend, then waits to be killed.
// argv: <storeDir> <url> <points-before-flush> <points-after-flush>
// Loads the TypeScript sources through jiti, so it needs no build.
import { createJiti } from 'jiti';

const jiti = createJiti(import.meta.url);
const { HttpJsonTracker } = await jiti.import('./http-json-backend.ts');
const { silentLogger } = await jiti.import('../contract/log.ts');
const { createTracker } = await jiti.import('../tracker/tracker.ts');
const { journalNow } = await jiti.import('../testing/journal-now.ts');

const [storeDir, url, before, after] = process.argv.slice(2);
const tracker = createTracker(
  new HttpJsonTracker({ url, timeout_ms: 2000, max_metrics_per_batch: 1000 }, { storeDir }),
  { logger: silentLogger },
);
const run = await tracker.startRun({
  experiment: 'crash',
  flushIntervalMs: 0,
  bufferSize: 100_000,
});
run.logParams({ lr: 0.5 });
for (let step = 0; step < Number(before); step++)
  run.logMetric('m', step, { step, timestamp: 1_700_000_000_000 + step });
journalNow(run);
// Points after the last journal flush live only in memory: a SIGKILL loses them, by design.
for (let step = Number(before); step < Number(before) + Number(after); step++) {
  run.logMetric('m', step, { step, timestamp: 1_700_000_000_000 + step });
}
process.stdout.write(`${JSON.stringify({ uid: run.uid })}\n`);
setInterval(() => {}, 1000);
