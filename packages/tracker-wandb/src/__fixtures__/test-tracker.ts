/**
 * What the W&B integration tests share: a tracker of the flavor against a loopback W&B
 * server with the flavor's defaults (online unless told otherwise), the directory of the
 * offline run a W&B `dir` holds, and an offline run of the real SDK.
 */
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTracker, silentLogger } from '@trackstack/core';
import { type PythonEnv, runPython, type WandbServer } from '@trackstack/test-harness';
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

/**
 * Runs a script of the real SDK offline in `<work>/<name>/` (the script's lines, then its
 * arguments) and returns its offline run's directory; throws with the SDK's stderr if it fails.
 */
export async function sdkOfflineRun(
  py: PythonEnv,
  work: string,
  name: string,
  lines: readonly string[],
  args: string[] = [],
): Promise<string> {
  const dir = join(work, name);
  mkdirSync(dir);
  const script = join(work, `${name}.py`);
  writeFileSync(script, [...lines, ''].join('\n'));
  const result = await runPython(py, script, args, {
    env: { WANDB_MODE: 'offline', WANDB_DIR: dir, WANDB_SILENT: 'true' },
  });
  if (result.code !== 0)
    throw new Error(`${name}.py exited ${result.code}: ${result.stderr.slice(-2000)}`);
  return offlineRunDir(dir);
}
