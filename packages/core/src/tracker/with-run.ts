import { getTracker } from './get-tracker.js';
import type { Run, StartRunOptions } from './run.js';

/**
 * Runs `fn` inside a new run of the active tracker (else the local default):
 * `currentRun()` returns it inside, and it ends FINISHED, or FAILED when `fn` throws.
 */
export async function withRun<T>(
  options: StartRunOptions,
  fn: (run: Run) => Promise<T> | T,
): Promise<T> {
  const tracker = await getTracker();
  return tracker.withRun(options, fn);
}
