/**
 * `getTracker()`: the active tracker(s) of the store, else the local default.
 * Several active trackers make a group: one run, one journal, delivered to each.
 */
import { BaseExperimentTracker, type TrackerOptions } from './base-tracker.js';
import type { Destination } from './engine/open-run.js';
import { TrackstackError } from './errors.js';
import { parseConfig } from './flavor.js';
import { LocalExperimentTracker } from './local/local-tracker.js';
import { FlavorRegistry } from './registry.js';
import { resolveReferences } from './store/references.js';
import { resolveStoreDir } from './store/store-dir.js';
import { readTrackersFile } from './store/store-files.js';
import { DEFAULT_LIMITS, type FlavorCapabilities, type FlavorLimits } from './types.js';
import { strictestLimits } from './validation.js';

export interface GetTrackerOptions extends Omit<TrackerOptions, 'name'> {
  /** A configured tracker by name, instead of the active one(s). */
  name?: string;
  /** Where flavor packages are looked for; default the working directory. */
  cwd?: string;
  /** A registry to use instead of loading one from the store. */
  registry?: FlavorRegistry;
  env?: NodeJS.ProcessEnv;
}

/** Names the tracker(s) `getTracker()` uses, comma-separated, instead of the active ones. */
export const TRACKER_ENV = 'TRACKSTACK_TRACKER';

export async function getTracker(options: GetTrackerOptions = {}): Promise<BaseExperimentTracker> {
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
  if (names.length === 0) {
    return new LocalExperimentTracker({}, { ...options, storeDir, name: 'local' });
  }
  const registry = options.registry ?? (await FlavorRegistry.load(storeDir, options.cwd));
  const trackers = names.map((name) => {
    const entry = file.trackers[name];
    if (entry === undefined) {
      throw new TrackstackError('UNKNOWN_TRACKER', `no tracker named '${name}' in ${storeDir}`, {
        hint: 'list them with `trackstack experiment-tracker list`',
      });
    }
    const { flavor, implementation } = registry.get(entry.flavor);
    const config = parseConfig(flavor, resolveReferences(entry.config, { env, storeDir }));
    return new implementation(config, { ...options, storeDir, name });
  });
  return trackers.length === 1
    ? trackers[0]!
    : new TrackerGroup(trackers, { ...options, storeDir });
}

/** Several trackers as one: each run goes to every member (fan-out). */
export class TrackerGroup extends BaseExperimentTracker<Record<string, never>> {
  readonly members: BaseExperimentTracker[];

  constructor(members: BaseExperimentTracker[], options: TrackerOptions = {}) {
    super({}, { ...options, name: options.name ?? members.map((m) => m.name).join('+') });
    this.members = members;
  }

  override get limits(): FlavorLimits {
    return strictestLimits(
      this.members.map((m) => m.limits),
      DEFAULT_LIMITS,
    );
  }

  override get capabilities(): FlavorCapabilities {
    const all = this.members.map((m) => m.capabilities);
    return {
      orderedWrites: all.some((c) => c.orderedWrites),
      maxConcurrency: Math.min(...all.map((c) => c.maxConcurrency)),
      nestedRuns: all.every((c) => c.nestedRuns),
      artifacts: all.some((c) => c.artifacts),
      resume: all.every((c) => c.resume),
    };
  }

  override destinations(): Destination[] {
    return this.members.flatMap((member) => member.destinations());
  }

  async createRun(): Promise<never> {
    throw groupHasNoBackend();
  }
  async writeBatch(): Promise<never> {
    throw groupHasNoBackend();
  }
  async uploadArtifact(): Promise<never> {
    throw groupHasNoBackend();
  }
  async finishRun(): Promise<never> {
    throw groupHasNoBackend();
  }

  async validateConnection(): Promise<void> {
    await Promise.all(this.members.map((m) => m.validateConnection()));
  }
}

function groupHasNoBackend(): TrackstackError {
  return new TrackstackError(
    'INVALID_FLAVOR',
    'a tracker group has no backend of its own; its members do',
  );
}
