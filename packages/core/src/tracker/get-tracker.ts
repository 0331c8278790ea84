/**
 * `getTracker()`: the active tracker(s) of the store, else the local default.
 * Several active trackers make a group: one run, one journal, delivered to each.
 */
import { TrackstackError } from '../contract/errors.js';
import { type FlavorTracker, parseConfig } from '../contract/flavor.js';
import { LocalExperimentTracker } from '../local/local-tracker.js';
import { FlavorRegistry } from '../registry/registry.js';
import { resolveReferences } from '../store/references.js';
import { resolveStoreDir } from '../store/store-dir.js';
import { readTrackersFile } from '../store/store-files.js';
import { type CreateTrackerOptions, createTracker, type Tracker } from './tracker.js';

export interface GetTrackerOptions extends Omit<CreateTrackerOptions, 'name'> {
  /** A configured tracker by name, instead of the active one(s). */
  name?: string;
  /** Where flavor packages are looked for; default the working directory. */
  cwd?: string;
  /** A registry to use instead of loading one from the store. */
  registry?: FlavorRegistry;
  env?: Record<string, string | undefined>;
}

/** Names the tracker(s) `getTracker()` uses, comma-separated, instead of the active ones. */
export const TRACKER_ENV = 'TRACKSTACK_TRACKER';

export async function getTracker(options: GetTrackerOptions = {}): Promise<Tracker> {
  const storeDir = options.storeDir ?? resolveStoreDir(options.cwd);
  const file = readTrackersFile(storeDir);
  const env = options.env ?? process.env;
  // TRACKSTACK_TRACKER (set by `trackstack run --tracker`) picks trackers for child processes.
  const fromEnv = env[TRACKER_ENV]?.split(',').filter((name) => name !== '');
  const names =
    options.name !== undefined
      ? [options.name]
      : fromEnv !== undefined && fromEnv.length > 0
        ? fromEnv
        : file.active;
  const { logger } = options;
  const made: CreateTrackerOptions = { storeDir, logger, runDefaults: options.runDefaults };
  if (names.length === 0) {
    return createTracker(new LocalExperimentTracker({}, { storeDir, logger, name: 'local' }), made);
  }
  const registry = options.registry ?? (await FlavorRegistry.load(storeDir, options.cwd));
  const trackers: FlavorTracker[] = names.map((name) => {
    const entry = file.trackers[name];
    if (entry === undefined) {
      throw new TrackstackError('UNKNOWN_TRACKER', `no tracker named '${name}' in ${storeDir}`, {
        hint: 'list them with `trackstack experiment-tracker list`',
      });
    }
    const { flavor, implementation } = registry.get(entry.flavor);
    const config = parseConfig(flavor, resolveReferences(entry.config, { env, storeDir }));
    return new implementation(config, {
      name,
      storeDir,
      ...(logger === undefined ? {} : { logger }),
      ...(options.runDefaults?.retry === undefined ? {} : { retry: options.runDefaults.retry }),
    });
  });
  return createTracker(trackers, made);
}
