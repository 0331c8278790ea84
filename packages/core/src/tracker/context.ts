/** The current run, without passing it around: set inside `withRun` and `runStep`. */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Run } from './run.js';

const storage = new AsyncLocalStorage<Run>();

/** The run of the enclosing `withRun` / `runStep`, or undefined outside one. */
export function currentRun(): Run | undefined {
  return storage.getStore();
}

/**
 * Calls `fn` with `run` as the current run. With `endOnExit` (the default) the
 * run ends FINISHED when `fn` returns and FAILED when it throws.
 */
export async function runInContext<T>(
  run: Run,
  fn: (run: Run) => Promise<T> | T,
  { endOnExit = true }: { endOnExit?: boolean } = {},
): Promise<T> {
  let value: T;
  try {
    value = await storage.run(run, () => fn(run));
  } catch (error) {
    if (endOnExit) await run.end('FAILED');
    throw error;
  }
  if (endOnExit) await run.end('FINISHED');
  return value;
}
