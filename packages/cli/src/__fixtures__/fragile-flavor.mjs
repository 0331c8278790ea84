// A flavor in plain JavaScript, registered by path, whose file the CLI test then breaks.
import { BaseExperimentTracker, defineFlavor } from '@trackstack/core';
import { z } from 'zod';

export class FragileTracker extends BaseExperimentTracker {
  static FLAVOR = defineFlavor({ name: 'fragile', configSchema: z.object({}) });
  async createRun(init) {
    return { runId: init.uid };
  }
  async writeBatch() {}
  async uploadArtifact() {}
  async finishRun() {}
  async validateConnection() {}
}
