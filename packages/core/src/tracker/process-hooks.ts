/**
 * What happens to live runs when the process ends without calling `end()`:
 *
 * - the event loop empties (`beforeExit`): each run is ended, FINISHED, or
 *   FAILED when `process.exitCode` is non-zero (MLflow ends its active run at
 *   exit the same way);
 * - an uncaught error: each run's final status FAILED is journaled at once;
 * - SIGINT / SIGTERM: buffers are journaled with status KILLED, delivery gets a
 *   short grace period, then the signal is raised again so the process ends as
 *   it would have. A program that handles the signal itself decides how its
 *   runs end: core only journals their buffers;
 * - `exit` (anything else, e.g. `process.exit()`): buffers are journaled
 *   synchronously, so `trackstack sync` can deliver them.
 */
import type { RunImpl } from './run-impl.js';

const live = new Set<RunImpl>();
let installed = false;
const SIGNAL_GRACE_MS = 3000;

export function trackRun(run: RunImpl): void {
  live.add(run);
  if (!installed) install();
}

export function forgetRun(run: RunImpl): void {
  live.delete(run);
}

function install(): void {
  installed = true;
  process.on('beforeExit', () => {
    if (live.size === 0) return;
    const status = process.exitCode !== undefined && process.exitCode !== 0 ? 'FAILED' : 'FINISHED';
    for (const run of [...live]) void run.end(status);
  });
  process.on('exit', () => {
    for (const run of live) run.flushToJournal();
  });
  process.on('uncaughtExceptionMonitor', () => {
    for (const run of live) {
      run.failedByProcess = true;
      run.endInJournalNow('FAILED');
    }
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const handler = () => {
      const runs = [...live];
      const others = process.listeners(signal).filter((listener) => listener !== handler);
      if (others.length > 0) {
        // The program handles this signal itself and decides how its runs end;
        // make sure nothing buffered is lost if it exits abruptly.
        for (const run of runs) run.flushToJournal();
        return;
      }
      for (const run of runs) run.endInJournalNow('KILLED');
      process.removeListener(signal, handler);
      const grace = setTimeout(() => process.kill(process.pid, signal), SIGNAL_GRACE_MS);
      void Promise.all(
        runs.map((run) => run.end('KILLED', { timeoutMs: SIGNAL_GRACE_MS - 200 })),
      ).then(() => {
        clearTimeout(grace);
        process.kill(process.pid, signal);
      });
    };
    process.on(signal, handler);
  }
}
