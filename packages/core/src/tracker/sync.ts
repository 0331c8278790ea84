/**
 * `syncRun`: delivers what a run's journal holds and a tracker has not
 * acknowledged yet (after an outage, a crash, offline mode, or to a tracker
 * the run was never sent to). Running it twice sends nothing the second time.
 */
import { TrackstackError } from '../contract/errors.js';
import {
  type SyncOptions as EngineSyncOptions,
  type SyncReport,
  syncToBackend,
} from '../engine/sync.js';
import { type Tracker, trackerBackends } from './tracker.js';

export type { SyncReport };

export interface SyncOptions extends Omit<EngineSyncOptions, 'storeDir'> {
  /** One tracker of one flavor (not a group, not the local flavor). */
  tracker: Tracker;
  /** Defaults to the tracker's store. */
  storeDir?: string;
}

export async function syncRun(options: SyncOptions): Promise<SyncReport> {
  const { tracker } = options;
  const backends = trackerBackends(tracker);
  if (backends.length !== 1 || tracker.members.length !== 1) {
    throw new TrackstackError(
      'INVALID_CONFIG',
      backends.length === 0 && tracker.members.length === 1
        ? `tracker '${tracker.name}' keeps runs in the journal itself: there is nothing to sync to it`
        : `tracker '${tracker.name}' is a group: sync to each of its members`,
    );
  }
  return syncToBackend(backends[0]!, {
    ...options,
    storeDir: options.storeDir ?? tracker.storeDir,
  });
}
