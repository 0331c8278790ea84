// Exercises the process hooks: argv[2] says how the process ends.
import { createJiti } from 'jiti';

const jiti = createJiti(import.meta.url);
const { LocalExperimentTracker } = await jiti.import('../local/local-tracker.ts');
const { silentLogger } = await jiti.import('../contract/log.ts');
const { createTracker } = await jiti.import('../tracker/tracker.ts');

const [how, storeDir] = process.argv.slice(2);
const tracker = createTracker(new LocalExperimentTracker({}, { storeDir }), {
  logger: silentLogger,
});
const run = await tracker.startRun({ experiment: 'hooks', flushIntervalMs: 60_000 });
for (let step = 0; step < 10; step++) run.logMetric('m', step, { step });
process.stdout.write(`${JSON.stringify({ uid: run.uid })}\n`);
switch (how) {
  case 'return':
    // The event loop empties without end(): beforeExit ends the run.
    break;
  case 'exit-code':
    process.exitCode = 3;
    break;
  case 'throw':
    setTimeout(() => {
      throw new Error('training crashed');
    }, 10);
    break;
  case 'exit':
    process.exit(0);
    break;
  case 'signal':
    setInterval(() => {}, 1000);
    break;
}
