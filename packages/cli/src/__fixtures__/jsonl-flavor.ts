/**
 * A custom flavor as a user writes it: one .ts file, registered by path.
 * (The CLI tests copy it out of the repository and import '@trackstack/core'.)
 * It appends every event as a JSON line to a file.
 */
import { appendFile, readFile } from 'node:fs/promises';
import {
  type ArtifactUpload,
  BaseExperimentTracker,
  defineFlavor,
  type FinalRunStatus,
  type RunInit,
  type RunRef,
  secret,
  type WriteBatch,
} from '@trackstack/core';
import { z } from 'zod';

const configSchema = z.object({
  path: z.string().describe('file the JSON lines are appended to'),
  max_lines: z
    .number()
    .int()
    .positive()
    .default(1_000_000)
    .describe('refuse to write past this many lines'),
  api_key: secret(z.string()).optional().describe('not used; shows how a secret field looks'),
});

export class JsonlTracker extends BaseExperimentTracker<z.output<typeof configSchema>> {
  static readonly FLAVOR = defineFlavor({
    name: 'jsonl',
    displayName: 'JSON lines file',
    configSchema,
    docsUrl: 'https://example.com/jsonl-flavor',
  });

  private async write(event: Record<string, unknown>): Promise<void> {
    await appendFile(this.config.path, `${JSON.stringify(event)}\n`);
  }

  async createRun(init: RunInit): Promise<RunRef> {
    await this.write({
      event: 'create',
      uid: init.uid,
      experiment: init.experiment,
      name: init.name,
      tags: init.tags,
    });
    return { runId: init.uid, url: `file://${this.config.path}` };
  }

  async writeBatch(run: RunRef, batch: WriteBatch): Promise<void> {
    await this.write({ event: 'batch', run: run.runId, ...batch });
  }

  async uploadArtifact(run: RunRef, artifact: ArtifactUpload): Promise<void> {
    await this.write({
      event: 'artifact',
      run: run.runId,
      path: artifact.path,
      sha256: artifact.sha256,
    });
  }

  async finishRun(run: RunRef, status: FinalRunStatus): Promise<void> {
    await this.write({ event: 'finish', run: run.runId, status });
  }

  async validateConnection(): Promise<void> {
    await appendFile(this.config.path, '');
    await readFile(this.config.path);
  }
}
