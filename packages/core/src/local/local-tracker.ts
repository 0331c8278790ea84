/**
 * The built-in `local` flavor: the journal alone. Its runs live in the store
 * and are read back with `LocalRuns` (and `trackstack runs ...`); nothing is
 * sent anywhere, so it has no backend and no primitives, and any local run
 * can later be synced to another tracker.
 */
import { access, constants, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { z } from 'zod';
import { TrackstackError } from '../contract/errors.js';
import {
  defineLazyFlavor,
  type Flavor,
  type FlavorTracker,
  markTrackerClass,
  type TrackerOptions,
} from '../contract/flavor.js';
import { consoleLogger, type Logger } from '../contract/log.js';
import { lazySchema } from '../contract/zod.js';
import { resolveStoreDir } from '../store/store-dir.js';
import { LocalRuns } from './local-runs.js';

// Built on the first read of FLAVOR.configSchema: importing core does not load zod.
const localConfigSchema = lazySchema((z) => z.object({}).strict());
export type LocalConfig = z.output<ReturnType<typeof localConfigSchema>>;

export class LocalExperimentTracker implements FlavorTracker {
  static {
    markTrackerClass(LocalExperimentTracker);
  }

  static readonly FLAVOR = defineLazyFlavor({
    name: 'local',
    displayName: 'Local (journal only)',
    configSchema: localConfigSchema,
    docsUrl:
      'https://github.com/trackstack/trackstack/tree/main/packages/core#the-local-flavor-and-localruns',
  });

  readonly config: LocalConfig;
  readonly name: string;
  /** The store its runs live in. */
  readonly storeDir: string;
  readonly logger: Logger;

  constructor(config: LocalConfig = {}, options: TrackerOptions = {}) {
    this.config = config;
    this.name = options.name ?? 'local';
    this.storeDir = options.storeDir ?? resolveStoreDir();
    this.logger = options.logger ?? consoleLogger;
  }

  get flavor(): Flavor {
    return LocalExperimentTracker.FLAVOR;
  }

  /** Reads this tracker's runs back. */
  get runs(): LocalRuns {
    return new LocalRuns(this.storeDir);
  }

  /** The store must be writable: that is all a local run needs. */
  async validateConnection(): Promise<void> {
    const runs = join(this.storeDir, 'runs');
    try {
      await mkdir(runs, { recursive: true, mode: 0o700 });
      await access(runs, constants.W_OK);
    } catch (error) {
      throw new TrackstackError('STORE_NOT_WRITABLE', `store ${this.storeDir} is not writable`, {
        cause: error,
        hint: 'check its permissions, or pick another store with TRACKSTACK_HOME',
      });
    }
  }
}
