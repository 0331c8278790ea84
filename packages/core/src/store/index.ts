/**
 * @trackstack/core/store: the store as the CLI and the viewer read and change
 * it (trackers, flavors, secrets under a lock; runs' metadata), for tools
 * built on core. Programs that only log need none of it.
 */
import { RunDir, type RunMeta } from '../engine/run-dir.js';

export { assertDestinationName as checkTrackerName, type RunMeta } from '../engine/run-dir.js';
export { hasReference, resolveReferences } from './references.js';
export {
  type FilterableRun,
  matchesRunFilter,
  parseRunFilter,
  type RunFilterClause,
} from './run-filter.js';
export { Store, type StoreFileContent, type StoreFileName } from './store.js';
export { findProjectStore, resolveStoreDir, STORE_DIR_NAME } from './store-dir.js';
export type { FlavorsFile, TrackersFile } from './store-files.js';

/** What a run of the store is (its run.json): experiment, name, status, destinations, owner. */
export function readRunMeta(storeDir: string, uid: string): RunMeta {
  return new RunDir(storeDir, uid).readMeta();
}
