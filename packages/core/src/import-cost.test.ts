/**
 * Importing the built core does not load zod: zod's ~95 modules would be most
 * of the import's cost. A fresh node process records every URL its ESM loader
 * resolves (a resolve hook, node:module `register`), imports dist/index.js,
 * then does what needs zod and checks that core then uses the app's zod, the
 * instance `import('zod')` gives, not another copy.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';

const packageDir = resolve(import.meta.dirname, '..');
const entry = join(packageDir, 'dist/index.js');
/** zod's package directory (its real path: that is what the loader resolves to), as a URL prefix. */
const zodDir = `${pathToFileURL(dirname(createRequire(import.meta.url).resolve('zod/package.json'))).href}/`;

// Runs as an ES module with cwd = this package, so 'zod' resolves as it does for an app here.
const CHILD = `
import { register } from 'node:module';
import { readFileSync, writeFileSync } from 'node:fs';
const { ENTRY, LOG, ZOD_DIR, STORE } = process.env;
writeFileSync(LOG, '');
const hook = \`import { appendFileSync } from 'node:fs';
let log;
export function initialize(data) { log = data.log; }
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(log, result.url + '\\\\n');
  return result;
}\`;
register('data:text/javascript,' + encodeURIComponent(hook), { data: { log: LOG } });
const resolved = () => readFileSync(LOG, 'utf8').split('\\n').filter((url) => url !== '');
// zod sets this global when it is evaluated, whichever way it is loaded (require(esm) of
// its ESM entry goes past the resolve hook for zod's inner modules).
const zodEvaluated = () => globalThis.__zod_globalRegistry !== undefined;

const core = await import(ENTRY);
const atImport = {
  entryResolved: resolved().some((url) => url.endsWith('/dist/index.js')),
  zodUrls: resolved().filter((url) => url.startsWith(ZOD_DIR)),
  zodEvaluated: zodEvaluated(),
};

new core.LocalExperimentTracker({}, { storeDir: STORE });
const flavor = core.LocalExperimentTracker.FLAVOR;
const parsed = core.parseConfig(flavor, {});
let strict = false;
try {
  core.parseConfig(flavor, { unknown_field: 1 });
} catch (error) {
  strict = error.code === 'INVALID_CONFIG';
}
const afterParse = { zodEvaluated: zodEvaluated(), parsed, strict };

const { z } = await import('zod');
const appSchema = z.object({ token: core.secret(z.string()) });
const sameZod = {
  coreSchemaIsAppZod: flavor.configSchema instanceof z.ZodType,
  jsonSchemaAgrees:
    JSON.stringify(core.configJsonSchema(flavor)) ===
    JSON.stringify(z.toJSONSchema(flavor.configSchema, { unrepresentable: 'any', io: 'input' })),
  secretFields: core.secretFields(core.defineFlavor({ name: 'app', configSchema: appSchema })),
};
console.log(JSON.stringify({ atImport, afterParse, sameZod }));
`;

let work: string;

beforeAll(async () => {
  if (!existsSync(entry)) throw new Error(`${entry} is missing: build first (pnpm build)`);
  work = await mkdtemp(join(tmpdir(), 'trackstack-import-cost-'));
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

it('importing the built core loads no zod module; core loads the app’s zod on first use', () => {
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', CHILD], {
    cwd: packageDir,
    encoding: 'utf8',
    env: {
      ...process.env,
      ENTRY: pathToFileURL(entry).href,
      LOG: join(work, 'resolved.log'),
      ZOD_DIR: zodDir,
      STORE: join(work, 'store'),
    },
    timeout: 30_000,
  });
  expect(result.status, result.stderr).toBe(0);
  const report = JSON.parse(result.stdout);
  // The hook saw the import (else an empty list would prove nothing), and nothing of zod.
  expect(report.atImport).toEqual({ entryResolved: true, zodUrls: [], zodEvaluated: false });
  // The first config parse loads zod, and the schema core built rejects an unknown field.
  expect(report.afterParse).toEqual({ zodEvaluated: true, parsed: {}, strict: true });
  // ... with the app's zod: one instance, core's schema is the app's ZodType.
  expect(report.sameZod).toEqual({
    coreSchemaIsAppZod: true,
    jsonSchemaAgrees: true,
    secretFields: ['token'],
  });
});
