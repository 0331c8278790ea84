/**
 * Core's zod, loaded on first use rather than with the package: zod's ~95
 * modules are most of what importing core would cost, and many processes
 * (a training script with no tracker configured, `trackstack --help`) never
 * need it.
 *
 * It must be the app's zod, the very instance the app's `import { z } from
 * 'zod'` gives (zod is a peer dependency: one copy per app), not zod's
 * CommonJS build, which a plain `require('zod')` would pick. So the specifier
 * is resolved as ESM (`import` conditions) and that file is required:
 * require(esm), unflagged on Node >= 20.19, returns the namespace of the
 * module the ESM loader already holds, or loads it into that same cache.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { z } from 'zod';

export type Zod = typeof z;

let loaded: Zod | undefined;

/** The app's zod (its `z` namespace), loaded synchronously on the first call. */
export function loadZod(): Zod {
  loaded ??= (requireEsm(resolveEsm('zod')) as { z: Zod }).z;
  return loaded;
}

/** A schema built with the app's zod on the first call, then the same one on every call. */
export function lazySchema<S>(build: (zod: Zod) => S): () => S {
  let schema: S | undefined;
  return () => {
    schema ??= build(loadZod());
    return schema;
  };
}

const requireEsm = createRequire(import.meta.url);

function resolveEsm(specifier: string): string {
  // import.meta.resolve is synchronous in Node >= 20.6 (and in vitest); a runtime or
  // bundler that lacks it gets the same resolution from import-meta-resolve.
  if (typeof import.meta.resolve === 'function') {
    return fileURLToPath(import.meta.resolve(specifier));
  }
  const { resolve } = requireEsm('import-meta-resolve') as typeof import('import-meta-resolve');
  return fileURLToPath(resolve(specifier, import.meta.url));
}
