/**
 * A flavor written in TypeScript, loaded by the registry tests without a build
 * step (through jiti). It imports core the way a user's file imports
 * '@trackstack/core'.
 */
import { z } from 'zod';
import { BaseExperimentTracker, defineFlavor, type RunInit, type RunRef } from '../index.js';

const configSchema = z.object({
  endpoint: z.string().default('http://127.0.0.1:5000'),
});

type Config = z.output<typeof configSchema>;

interface Shown {
  url: string;
}

export class TsFixtureTracker extends BaseExperimentTracker<Config> {
  static readonly FLAVOR = defineFlavor({ name: 'ts-fixture', configSchema });

  async createRun(init: RunInit): Promise<RunRef> {
    const shown = { url: `${this.config.endpoint}/runs/${init.uid}` } satisfies Shown;
    return { runId: init.uid, url: shown.url };
  }
  async writeBatch(): Promise<void> {}
  async uploadArtifact(): Promise<void> {}
  async finishRun(): Promise<void> {}
  async validateConnection(): Promise<void> {}
}

/** Not a flavor: a second export that the registry must pass over. */
export const FIXTURE_NOTE: string = 'loaded from TypeScript';
