/**
 * For tests that watch the journal: journals what a run holds in memory now,
 * without waiting for any delivery (what the process hooks do at exit).
 */
import type { Run } from '../tracker/run.js';
import { RunImpl } from '../tracker/run-impl.js';

export function journalNow(run: Run): void {
  if (!(run instanceof RunImpl)) throw new TypeError('not a run made by this copy of core');
  run.flushToJournal();
}
