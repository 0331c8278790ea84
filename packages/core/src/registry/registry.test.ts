import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BaseExperimentTracker } from '../contract/base-tracker.js';
import { TrackstackError } from '../contract/errors.js';
import { isTrackerClass, resolveFlavor } from '../contract/flavor.js';
import { LocalExperimentTracker } from '../local/local-tracker.js';
import { InMemoryTracker } from '../testing/in-memory-tracker.js';
import {
  BUILT_IN_FLAVORS,
  FlavorRegistry,
  findFlavorPackages,
  loadFlavorSource,
} from './registry.js';

const CORE_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
const PACKAGE_DIR = dirname(CORE_DIR);
const TS_FIXTURE = join(CORE_DIR, '__fixtures__', 'ts-flavor.ts');

/**
 * Temp `.mjs` fixtures live outside the repository, where '@trackstack/core'
 * and 'zod' do not resolve; they import core's source by its absolute file URL
 * instead (vitest's module runner compiles the TypeScript), and zod's ESM
 * entry, the one core loads, by its own (ZOD_URL below).
 */
const CORE_URL = new URL('../index.ts', import.meta.url).href;

function trackerClass(exportName: string, flavorName: string, isDefault = false): string {
  return `
export ${isDefault ? 'default ' : ''}class ${exportName} extends BaseExperimentTracker {
  static FLAVOR = defineFlavor({ name: '${flavorName}', configSchema: z.object({ x: z.number().default(1) }) });
  async createRun(init) { return { runId: init.uid }; }
  async writeBatch() {}
  async uploadArtifact() {}
  async finishRun() {}
  async validateConnection() {}
}
`;
}

function moduleText(...parts: string[]): string {
  return [
    `import { BaseExperimentTracker, defineFlavor } from '${CORE_URL}';`,
    `import { z } from '${ZOD_URL}';`,
    ...parts,
  ].join('\n');
}

/**
 * Files under `node_modules` are loaded by Node itself, not by vitest, so they
 * cannot import core's TypeScript source. These fixtures are self-contained:
 * they carry the Symbol.for markers that any copy of core puts on its tracker
 * classes and flavors (which is also what makes a flavor built against another
 * copy of core acceptable), with a real zod schema.
 */
const ZOD_URL = pathToFileURL(
  join(dirname(createRequire(import.meta.url).resolve('zod/package.json')), 'index.js'),
).href;

function selfContainedModule(...classes: [exportName: string, flavorName: string][]): string {
  const lines = [
    `import { z } from '${ZOD_URL}';`,
    "const TRACKER_CLASS = Symbol.for('trackstack.tracker-class');",
    "const FLAVOR = Symbol.for('trackstack.flavor');",
  ];
  for (const [exportName, flavorName] of classes) {
    lines.push(`
export class ${exportName} {
  static FLAVOR = Object.freeze({
    [FLAVOR]: true,
    type: 'experiment-tracker',
    name: '${flavorName}',
    displayName: '${flavorName}',
    configSchema: z.object({}),
    specificationVersion: 'v1',
  });
}
Object.defineProperty(${exportName}, TRACKER_CLASS, { value: true });
`);
  }
  return lines.join('\n');
}

let tmp: string;

beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'trackstack-registry-'));
});

afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function write(relative: string, text: string): Promise<string> {
  const path = join(tmp, relative);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text);
  return path;
}

/** Awaits `promise`, which must reject with a TrackstackError of this code; returns it. */
async function expectRejection(
  promise: Promise<unknown>,
  code: TrackstackError['code'],
): Promise<TrackstackError> {
  const thrown = await promise.then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(thrown, 'expected a rejection').toBeDefined();
  expect(TrackstackError.isInstance(thrown)).toBe(true);
  expect((thrown as TrackstackError).code).toBe(code);
  return thrown as TrackstackError;
}

describe('FlavorRegistry', () => {
  it('holds the built-in local flavor', () => {
    expect(BUILT_IN_FLAVORS).toContain(LocalExperimentTracker);
    const registry = new FlavorRegistry();
    expect(registry.has('local')).toBe(true);
    const local = registry.get('local');
    expect(local.implementation).toBe(LocalExperimentTracker);
    expect(local.flavor).toBe(LocalExperimentTracker.FLAVOR);
    expect(registry.list()).toEqual([
      expect.objectContaining({ name: 'local', origin: 'built-in', source: '@trackstack/core' }),
    ]);
  });

  it('says an unknown flavor is unknown and how to get one', () => {
    const registry = new FlavorRegistry();
    expect(registry.has('mlflow')).toBe(false);
    let thrown: unknown;
    try {
      registry.get('mlflow');
    } catch (error) {
      thrown = error;
    }
    expect(TrackstackError.isInstance(thrown)).toBe(true);
    const error = thrown as TrackstackError;
    expect(error.code).toBe('UNKNOWN_FLAVOR');
    expect(error.message).toBe("no flavor named 'mlflow'");
    expect(error.hint).toContain('known flavors: local');
    expect(error.hint).toContain('trackstack experiment-tracker flavor register <source>');
  });

  it('registers a flavor in code', () => {
    const registry = new FlavorRegistry();
    registry.register(resolveFlavor(InMemoryTracker));
    expect(registry.get('memory').implementation).toBe(InMemoryTracker);
    expect(registry.list().map((e) => [e.name, e.origin, e.source])).toEqual([
      ['local', 'built-in', '@trackstack/core'],
      ['memory', 'registered', '(in code)'],
    ]);
    // The same class again is not a collision.
    registry.register(resolveFlavor(InMemoryTracker), 'again');
    expect(registry.list().filter((e) => e.error !== undefined)).toEqual([]);
  });

  it('reports a flavor whose name collides, and keeps the first', () => {
    class Impostor extends InMemoryTracker {
      static override readonly FLAVOR = { ...InMemoryTracker.FLAVOR, name: 'local' };
    }
    const registry = new FlavorRegistry();
    registry.register(resolveFlavor(Impostor), 'impostor.ts');
    expect(registry.get('local').implementation).toBe(LocalExperimentTracker);
    const failures = registry.list().filter((e) => e.error !== undefined);
    expect(failures).toHaveLength(1);
    expect(failures[0]!.source).toBe('impostor.ts');
    expect(failures[0]!.error!.code).toBe('INVALID_FLAVOR');
    expect(failures[0]!.error!.message).toContain('collides with the built-in flavor');
  });
});

describe('loadFlavorSource', () => {
  it('loads a .mjs file by absolute path', async () => {
    const path = await write('flavor.mjs', moduleText(trackerClass('MjsTracker', 'mjs-flavor')));
    const resolved = await loadFlavorSource(path);
    expect(resolved.flavor.name).toBe('mjs-flavor');
    expect(resolved.implementation.name).toBe('MjsTracker');
    expect(isTrackerClass(resolved.implementation)).toBe(true);
  });

  it('loads a file relative to the base directory', async () => {
    await write('sub/flavor.js', moduleText(trackerClass('JsTracker', 'js-flavor')));
    const resolved = await loadFlavorSource('./sub/flavor.js', tmp);
    expect(resolved.flavor.name).toBe('js-flavor');
  });

  it('prefers the default export', async () => {
    const path = await write(
      'default.mjs',
      moduleText(trackerClass('Main', 'main-flavor', true), trackerClass('Other', 'other-flavor')),
    );
    expect((await loadFlavorSource(path)).flavor.name).toBe('main-flavor');
  });

  it('loads a TypeScript file without a build step', async () => {
    const resolved = await loadFlavorSource(TS_FIXTURE);
    expect(resolved.flavor.name).toBe('ts-fixture');
    expect(resolved.implementation.name).toBe('TsFixtureTracker');
    expect(isTrackerClass(resolved.implementation)).toBe(true);
    const tracker = new resolved.implementation(
      { endpoint: 'http://example.test' },
      { storeDir: tmp },
    );
    await expect(
      (tracker as BaseExperimentTracker).createRun({
        uid: 'u1',
        experiment: 'e',
        name: 'n',
        tags: {},
        startTime: 0,
      }),
    ).resolves.toEqual({ runId: 'u1', url: 'http://example.test/runs/u1' });
  });

  it('loads a TypeScript file by a relative path and #ExportName', async () => {
    const resolved = await loadFlavorSource(
      './src/__fixtures__/ts-flavor.ts#TsFixtureTracker',
      PACKAGE_DIR,
    );
    expect(resolved.flavor.name).toBe('ts-fixture');
  });

  it('refuses an #ExportName that is not a flavor', async () => {
    const error = await expectRejection(
      loadFlavorSource(`${TS_FIXTURE}#FIXTURE_NOTE`),
      'INVALID_FLAVOR',
    );
    expect(error.message).toContain('#FIXTURE_NOTE is neither a flavor nor a class');
  });

  it('picks a flavor by #ExportName among several', async () => {
    const path = await write(
      'two.mjs',
      moduleText(trackerClass('First', 'first'), trackerClass('Second', 'second')),
    );
    expect((await loadFlavorSource(`${path}#Second`)).flavor.name).toBe('second');
    expect((await loadFlavorSource(`${path}#First`)).flavor.name).toBe('first');
  });

  it('refuses several flavors without an #ExportName, and says how to pick one', async () => {
    const path = await write(
      'two.mjs',
      moduleText(trackerClass('First', 'first'), trackerClass('Second', 'second')),
    );
    const error = await expectRejection(loadFlavorSource(path), 'INVALID_FLAVOR');
    expect(error.message).toBe(`${path} exports several flavors (First, Second)`);
    expect(error.hint).toBe(`pick one: ${path}#First`);
  });

  it('refuses a missing #ExportName and lists the exports', async () => {
    const path = await write('one.mjs', moduleText(trackerClass('Only', 'only')));
    const error = await expectRejection(loadFlavorSource(`${path}#Missing`), 'INVALID_FLAVOR');
    expect(error.message).toBe(`${path} has no export named 'Missing'`);
    expect(error.hint).toBe('it exports: Only');
  });

  it('refuses a module that exports no flavor', async () => {
    const path = await write('none.mjs', 'export const answer = 42;\nexport function f() {}\n');
    const error = await expectRejection(loadFlavorSource(path), 'INVALID_FLAVOR');
    expect(error.message).toBe(`${path} exports no flavor and no tracker class with a FLAVOR`);
    expect(error.hint).toContain('BaseExperimentTracker');
  });

  it('passes over exports that are not flavors when one is', async () => {
    const path = await write(
      'mixed.mjs',
      moduleText(
        trackerClass('Real', 'real'),
        'export const helper = () => 1;',
        "export const lonely = defineFlavor({ name: 'lonely', configSchema: z.object({}) });",
      ),
    );
    expect((await loadFlavorSource(path)).flavor.name).toBe('real');
  });

  it('reports a file that does not exist', async () => {
    const path = join(tmp, 'nope.mjs');
    const error = await expectRejection(loadFlavorSource(path), 'FLAVOR_LOAD_FAILED');
    expect(error.message).toBe(`flavor source ${path} does not exist`);
  });

  it('reports a .mjs file with a syntax error', async () => {
    const path = await write('broken.mjs', 'export const = ;\n');
    const error = await expectRejection(loadFlavorSource(path), 'FLAVOR_LOAD_FAILED');
    expect(error.message).toContain(`cannot load ${path}`);
    expect(error.cause).toBeDefined();
  });

  it('reports a .ts file with a syntax error', async () => {
    const path = await write('broken.ts', 'export class { static FLAVOR = ;\n');
    const error = await expectRejection(loadFlavorSource(path), 'FLAVOR_LOAD_FAILED');
    expect(error.message).toContain(`cannot load ${path}`);
  });

  it('reports a module that throws while loading', async () => {
    const path = await write('throws.mjs', "throw new Error('exploded at import');\n");
    const error = await expectRejection(loadFlavorSource(path), 'FLAVOR_LOAD_FAILED');
    expect(error.message).toContain('exploded at import');
  });

  it('reports a package that is not installed', async () => {
    const error = await expectRejection(
      loadFlavorSource('trackstack-flavor-that-is-not-installed', tmp),
      'FLAVOR_LOAD_FAILED',
    );
    expect(error.message).toBe(
      `package 'trackstack-flavor-that-is-not-installed' is not installed (from ${tmp})`,
    );
  });

  it('loads an installed package by name, with #ExportName', async () => {
    await write(
      'node_modules/named-flavor/package.json',
      JSON.stringify({ name: 'named-flavor', type: 'module', main: 'index.mjs' }),
    );
    await write(
      'node_modules/named-flavor/index.mjs',
      selfContainedModule(['NamedTracker', 'named'], ['Spare', 'spare']),
    );
    const resolved = await loadFlavorSource('named-flavor#NamedTracker', tmp);
    expect(resolved.flavor.name).toBe('named');
  });

  it('loads a package whose exports map has only an import condition, as flavor packages do', async () => {
    await write(
      'node_modules/esm-only-flavor/package.json',
      JSON.stringify({
        name: 'esm-only-flavor',
        type: 'module',
        exports: { '.': { types: './index.d.ts', import: './index.mjs' } },
      }),
    );
    await write(
      'node_modules/esm-only-flavor/index.mjs',
      selfContainedModule(['EsmTracker', 'esm-only']),
    );
    expect((await loadFlavorSource('esm-only-flavor', tmp)).flavor.name).toBe('esm-only');
  });
});

describe('installed flavor packages', () => {
  async function installPackages(): Promise<void> {
    await write(
      'project/node_modules/my-flavor/package.json',
      JSON.stringify({
        name: 'my-flavor',
        type: 'module',
        trackstack: { flavors: ['./index.mjs#MyTracker'] },
      }),
    );
    await write(
      'project/node_modules/my-flavor/index.mjs',
      selfContainedModule(['MyTracker', 'pkg-flavor'], ['Extra', 'pkg-extra']),
    );
    await write(
      'project/node_modules/@acme/scoped-flavor/package.json',
      JSON.stringify({ name: '@acme/scoped-flavor', trackstack: { flavor: './flavor.mjs' } }),
    );
    await write(
      'project/node_modules/@acme/scoped-flavor/flavor.mjs',
      selfContainedModule(['AcmeTracker', 'acme']),
    );
    await write(
      'project/node_modules/unrelated/package.json',
      JSON.stringify({ name: 'unrelated', main: 'index.js' }),
    );
    await write('project/node_modules/damaged/package.json', '{ not json');
    await mkdir(join(tmp, 'project/src/deep'), { recursive: true });
  }

  it('finds packages that declare themselves, walking up from cwd', async () => {
    await installPackages();
    const found = findFlavorPackages(join(tmp, 'project/src/deep'));
    const modules = join(tmp, 'project/node_modules');
    expect(found).toEqual(
      expect.arrayContaining([
        {
          source: join(modules, 'my-flavor/index.mjs#MyTracker'),
          packageDir: join(modules, 'my-flavor'),
        },
        {
          source: join(modules, '@acme/scoped-flavor/flavor.mjs'),
          packageDir: join(modules, '@acme/scoped-flavor'),
        },
      ]),
    );
    expect(found).toHaveLength(2);
  });

  it('finds nothing where there are no node_modules', () => {
    expect(findFlavorPackages(tmp)).toEqual([]);
  });

  it('loads them into the registry', async () => {
    await installPackages();
    const registry = await FlavorRegistry.load(join(tmp, 'store'), join(tmp, 'project/src/deep'));
    expect(registry.get('pkg-flavor').implementation.name).toBe('MyTracker');
    expect(registry.get('acme').implementation.name).toBe('AcmeTracker');
    expect(registry.has('pkg-extra')).toBe(false);
    const entry = registry.list().find((e) => e.name === 'pkg-flavor');
    expect(entry).toMatchObject({ origin: 'package' });
    expect(registry.get('local').implementation).toBe(LocalExperimentTracker);
  });

  it('reports a package whose flavor does not load, without hiding the others', async () => {
    await installPackages();
    await write(
      'project/node_modules/broken-flavor/package.json',
      JSON.stringify({ name: 'broken-flavor', trackstack: { flavors: ['./index.mjs'] } }),
    );
    await write('project/node_modules/broken-flavor/index.mjs', 'export default {{;\n');
    const registry = await FlavorRegistry.load(join(tmp, 'store'), join(tmp, 'project'));
    expect(registry.get('pkg-flavor').flavor.name).toBe('pkg-flavor');
    expect(registry.get('acme').flavor.name).toBe('acme');
    const failed = registry.list().filter((e) => e.error !== undefined);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ origin: 'package' });
    expect(failed[0]!.source).toContain('broken-flavor');
    expect(failed[0]!.error!.code).toBe('FLAVOR_LOAD_FAILED');
  });
});

describe('FlavorRegistry.load with registered sources', () => {
  it('lists the good source and reports the broken one beside it', async () => {
    const good = await write('flavors/good.mjs', moduleText(trackerClass('Good', 'good-one')));
    const broken = await write('flavors/broken.mjs', 'export class Broken extends {}\n');
    await write(
      'store/flavors.json',
      JSON.stringify({
        version: 1,
        flavors: {
          'broken-one': { source: broken, registeredAt: 1 },
          'good-one': { source: good, registeredAt: 2 },
        },
      }),
    );
    const registry = await FlavorRegistry.load(join(tmp, 'store'), tmp);

    expect(registry.get('good-one').implementation.name).toBe('Good');
    expect(registry.get('local').implementation).toBe(LocalExperimentTracker);

    const entries = registry.list();
    expect(entries.find((e) => e.name === 'good-one')).toMatchObject({
      origin: 'registered',
      source: good,
    });
    const brokenEntry = entries.find((e) => e.name === 'broken-one');
    expect(brokenEntry).toMatchObject({ origin: 'registered', source: broken });
    expect(brokenEntry!.resolved).toBeUndefined();
    expect(brokenEntry!.error!.code).toBe('FLAVOR_LOAD_FAILED');
    expect(brokenEntry!.error!.message).toContain(broken);

    // Asking for the broken flavor gives its own error, not "unknown flavor".
    let thrown: unknown;
    try {
      registry.get('broken-one');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBe(brokenEntry!.error);
    expect(registry.has('broken-one')).toBe(true);
  });

  it('loads registered sources relative to cwd', async () => {
    await write('flavors/rel.mjs', moduleText(trackerClass('Rel', 'rel')));
    await write(
      'store/flavors.json',
      JSON.stringify({
        version: 1,
        flavors: { rel: { source: './flavors/rel.mjs', registeredAt: 1 } },
      }),
    );
    const registry = await FlavorRegistry.load(join(tmp, 'store'), tmp);
    expect(registry.get('rel').implementation.name).toBe('Rel');
  });

  it('reports a source that now exports a flavor of another name', async () => {
    const path = await write('flavors/renamed.mjs', moduleText(trackerClass('R', 'new-name')));
    await write(
      'store/flavors.json',
      JSON.stringify({ version: 1, flavors: { 'old-name': { source: path, registeredAt: 1 } } }),
    );
    const registry = await FlavorRegistry.load(join(tmp, 'store'), tmp);
    expect(registry.has('new-name')).toBe(false);
    const entry = registry.list().find((e) => e.name === 'old-name');
    expect(entry!.error!.code).toBe('INVALID_FLAVOR');
    expect(entry!.error!.message).toContain("now exports flavor 'new-name'");
    expect(entry!.error!.hint).toBe('re-register it');
  });

  it('works with no flavors.json at all', async () => {
    const registry = await FlavorRegistry.load(join(tmp, 'store'), tmp);
    expect(registry.list().map((e) => e.name)).toEqual(['local']);
  });

  it('refuses a damaged flavors.json, naming it', async () => {
    const path = await write('store/flavors.json', '{"version": 1, "flavors": ');
    const error = await expectRejection(
      FlavorRegistry.load(join(tmp, 'store'), tmp),
      'CORRUPT_FILE',
    );
    expect(error.message).toContain(path);
  });
});
