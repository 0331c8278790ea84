/**
 * The built-in `local` flavor: the journal alone. Runs live in the store and
 * are read back with `LocalRuns` (and `trackstack runs ...`); nothing is sent
 * anywhere, and any local run can later be synced to another tracker.
 */
import { access, constants, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { z } from 'zod';
import { BaseExperimentTracker } from '../base-tracker.js';
import type { Destination } from '../engine/open-run.js';
import { RunDir } from '../engine/run-dir.js';
import { BackendError } from '../errors.js';
import { defineLazyFlavor } from '../flavor.js';
import type { FlavorCapabilities, RunInit, RunRef } from '../types.js';
import { lazySchema } from '../zod.js';
import { LocalRuns } from './local-runs.js';

// Built on the first read of FLAVOR.configSchema: importing core does not load zod.
export const localConfigSchema = lazySchema((z) => z.object({}).strict());
export type LocalConfig = z.output<ReturnType<typeof localConfigSchema>>;

export class LocalExperimentTracker extends BaseExperimentTracker<LocalConfig> {
  static readonly FLAVOR = defineLazyFlavor({
    name: 'local',
    displayName: 'Local (journal only)',
    configSchema: localConfigSchema,
    docsUrl: 'https://github.com/trackstack/trackstack/tree/main/packages/core#the-local-flavor',
  });

  override get capabilities(): FlavorCapabilities {
    return {
      orderedWrites: false,
      maxConcurrency: 1,
      nestedRuns: true,
      artifacts: true,
      resume: true,
    };
  }

  /** Reads this tracker's runs back. */
  get runs(): LocalRuns {
    return new LocalRuns(this.storeDir);
  }

  /** The journal is the whole of a local run: there is nothing to deliver. */
  override destinations(): Destination[] {
    return [];
  }

  // The primitives only run when another store's run is synced here; the journal
  // already holds the data, so they acknowledge what exists.
  async createRun(init: RunInit): Promise<RunRef> {
    const dir = new RunDir(this.storeDir, init.uid);
    return { runId: init.uid, url: `file://${dir.path}` };
  }

  async writeBatch(): Promise<void> {}

  async uploadArtifact(): Promise<void> {}

  async finishRun(): Promise<void> {}

  async validateConnection(): Promise<void> {
    const runs = join(this.storeDir, 'runs');
    try {
      await mkdir(runs, { recursive: true, mode: 0o700 });
      await access(runs, constants.W_OK);
    } catch (error) {
      throw new BackendError('BACKEND_UNREACHABLE', `store ${this.storeDir} is not writable`, {
        retryable: false,
        cause: error,
      });
    }
  }
}
