/**
 * What the W&B integration tests share: a tracker of the flavor against a loopback W&B
 * server with the flavor's defaults (online unless told otherwise), and the directory of the
 * offline run a W&B `dir` holds.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { createTracker, silentLogger } from '@trackstack/core';
import type { WandbServer } from '@trackstack/test-harness';
import type { WandbConfig } from '../wandb-config.js';
import { WandbExperimentTracker } from '../wandb-tracker.js';

export function wandbTracker(
  server: Pick<WandbServer, 'apiKey' | 'url'>,
  overrides: Partial<WandbConfig>,
  storeDir: string,
) {
  const config: WandbConfig = {
    api_key: server.apiKey,
    base_url: server.url,
    mode: 'online',
    tags: [],
    file_stream_interval_s: 15,
    request_timeout_s: 10,
    ...overrides,
  };
  return createTracker(new WandbExperimentTracker(config, { storeDir }), { logger: silentLogger });
}

/** The one offline run under `<dir>/wandb/` (the SDK's layout, and ours). */
export function offlineRunDir(dir: string): string {
  const name = readdirSync(join(dir, 'wandb')).find((n) => n.startsWith('offline-run-'));
  if (name === undefined) throw new Error(`no offline run in ${join(dir, 'wandb')}`);
  return join(dir, 'wandb', name);
}
