/**
 * Which store a process uses: `TRACKSTACK_HOME` when set; else the nearest
 * `.trackstack/` directory walking up from the working directory (made by
 * `trackstack init`); else a per-user data directory.
 */
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

export const STORE_DIR_NAME = '.trackstack';

export function resolveStoreDir(
  cwd: string = process.cwd(),
  env: Record<string, string | undefined> = process.env,
): string {
  if (env.TRACKSTACK_HOME !== undefined && env.TRACKSTACK_HOME !== '') {
    return resolve(cwd, env.TRACKSTACK_HOME);
  }
  return findProjectStore(cwd) ?? userStoreDir();
}

/** The nearest `.trackstack/` at or above `from`, if any. */
export function findProjectStore(from: string): string | undefined {
  let dir = resolve(from);
  for (;;) {
    const candidate = join(dir, STORE_DIR_NAME);
    try {
      if (statSync(candidate).isDirectory()) return candidate;
    } catch {
      // not here; keep walking up
    }
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

export function userStoreDir(): string {
  // env-paths (ESM only) loads on first use, synchronously (require(esm), Node >= 20.19):
  // most processes use TRACKSTACK_HOME or a project store and never need it.
  const { default: envPaths } = requireEsm('env-paths') as typeof import('env-paths');
  return envPaths('trackstack', { suffix: '' }).data;
}

const requireEsm = createRequire(import.meta.url);
