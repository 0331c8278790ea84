// Bundles packages/tracker-template into dist/templates/flavor.json, the file
// `trackstack experiment-tracker flavor init` copies a new flavor package from.
// The CLI's build runs it after tsup (whose `clean` empties dist first).
//
// The bundle is the template made ready to live outside this monorepo; only
// its names stay `template`, for the command to change:
// - package.json: `@trackstack/core` as a peer and a dev dependency, both
//   `^<this core's version>`, `@trackstack/cli` as a dev dependency (`^<this CLI's
//   version>`), no `workspace:` range left; the dev tools
//   (typescript, tsup, vitest, @types/node) with the ranges the root uses;
// - tsconfig.json: the root's tsconfig.base.json inlined (no `extends`);
// - vitest.config.ts: the shared test settings inlined (no vitest.shared import).
// It fails, naming the file, if anything still points into the monorepo.
//
// One JSON file rather than a directory: the published CLI then holds no
// test files, fixtures or nested package.json of the template.
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';

const cliDir = join(import.meta.dirname, '..');
const rootDir = join(cliDir, '../..');
const coreDir = join(rootDir, 'packages/core');
const templateDir = join(rootDir, 'packages/tracker-template');
const outFile = join(cliDir, 'dist/templates/flavor.json');

/** Never copied: build output, installs, caches, release notes, test reports. */
const SKIPPED = new Set(['dist', 'node_modules', '.turbo', 'CHANGELOG.md', '.test-results.json']);

/** The dev tools a flavor package builds and tests with, at the root's ranges. */
const DEV_TOOLS = ['@types/node', 'tsup', 'typescript', 'vitest'];

/** vitest.shared.ts's settings, without its CI report (that belongs to this repository). */
const SHARED_TEST_CONFIG = `
/** Where the tests are, and how long one may take. */
const sharedTestConfig = {
  include: ['src/**/*.test.ts'],
  testTimeout: 20_000,
};`;

function fail(message) {
  console.error(`copy-flavor-template: ${message}`);
  process.exit(1);
}

const readJson = (path) => JSON.parse(readFileSync(path, 'utf8'));

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    if (SKIPPED.has(name) || name.endsWith('.tsbuildinfo')) return [];
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

function standalonePackageJson(text) {
  const manifest = JSON.parse(text);
  const coreRange = `^${readJson(join(coreDir, 'package.json')).version}`;
  const rootDev = readJson(join(rootDir, 'package.json')).devDependencies ?? {};
  manifest.peerDependencies = { ...manifest.peerDependencies, '@trackstack/core': coreRange };
  // The scaffold's README and `flavor init`'s next steps run `npx trackstack ...`: the CLI of
  // this release, beside the core it was made with.
  const cliRange = `^${readJson(join(cliDir, 'package.json')).version}`;
  const dev = {
    ...manifest.devDependencies,
    '@trackstack/core': coreRange,
    '@trackstack/cli': cliRange,
  };
  for (const tool of DEV_TOOLS) {
    if (rootDev[tool] === undefined) fail(`the root package.json has no devDependency ${tool}`);
    dev[tool] = rootDev[tool];
  }
  manifest.devDependencies = Object.fromEntries(
    Object.entries(dev).sort(([a], [b]) => (a < b ? -1 : 1)),
  );
  const out = `${JSON.stringify(manifest, null, 2)}\n`;
  if (out.includes('workspace:')) fail('package.json: a workspace: range is left');
  return out;
}

function standaloneTsconfig(text) {
  const tsconfig = JSON.parse(text);
  if (tsconfig.extends !== '../../tsconfig.base.json') {
    fail(
      `tsconfig.json: expected "extends": "../../tsconfig.base.json", found ${tsconfig.extends}`,
    );
  }
  const base = readJson(join(rootDir, 'tsconfig.base.json'));
  const { extends: _extends, ...rest } = tsconfig;
  const out = {
    ...rest,
    compilerOptions: { ...base.compilerOptions, ...tsconfig.compilerOptions },
  };
  return `${JSON.stringify(out, null, 2)}\n`;
}

function standaloneVitestConfig(text) {
  const line = "import { sharedTestConfig } from '../../vitest.shared.js';";
  if (!text.includes(line)) fail(`vitest.config.ts: expected the line ${line}`);
  return text.replace(line, SHARED_TEST_CONFIG);
}

const files = {};
for (const path of walk(templateDir).sort()) {
  const name = relative(templateDir, path).split(sep).join('/');
  let text = readFileSync(path, 'utf8');
  if (name === 'package.json') text = standalonePackageJson(text);
  else if (name === 'tsconfig.json') text = standaloneTsconfig(text);
  else if (name === 'vitest.config.ts') text = standaloneVitestConfig(text);
  // A path that starts by climbing two levels points into the monorepo (an import, an extends).
  if (/["'`]\.\.\/\.\.\//.test(text)) fail(`${name} still refers to the monorepo ('../../...')`);
  files[name] = text;
}
if (files['package.json'] === undefined) fail(`${templateDir} has no package.json`);

const { name, version } = JSON.parse(files['package.json']);
mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(outFile, `${JSON.stringify({ format: 1, from: `${name}@${version}`, files })}\n`);
console.log(
  `copy-flavor-template: ${Object.keys(files).length} files of ${name}@${version} -> ${relative(cliDir, outFile)}`,
);
