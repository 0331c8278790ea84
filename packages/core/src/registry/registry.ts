/**
 * The flavor registry. Three sources, in this order: built-in flavors
 * (`local`); installed packages that declare themselves with a `trackstack`
 * field in their package.json; and sources registered with
 * `trackstack experiment-tracker flavor register <source>`. A flavor that
 * fails to load is reported on its own and never hides the others.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TrackstackError } from '../contract/errors.js';
import { type ResolvedFlavor, resolveFlavor } from '../contract/flavor.js';
import { LocalExperimentTracker } from '../local/local-tracker.js';
import { readFlavorsFile } from '../store/store-files.js';

export type FlavorOrigin = 'built-in' | 'package' | 'registered';

export interface RegistryEntry {
  name: string;
  origin: FlavorOrigin;
  source: string;
  resolved?: ResolvedFlavor;
  error?: TrackstackError;
}

export const BUILT_IN_FLAVORS = [LocalExperimentTracker] as const;

export class FlavorRegistry {
  private readonly entries = new Map<string, RegistryEntry>();
  private readonly failures: RegistryEntry[] = [];

  /** Built-in flavors only. */
  constructor() {
    for (const tracker of BUILT_IN_FLAVORS) {
      this.add({
        name: tracker.FLAVOR.name,
        origin: 'built-in',
        source: '@trackstack/core',
        resolved: resolveFlavor(tracker),
      });
    }
  }

  /** Built-ins, then installed packages, then the store's registered sources. */
  static async load(storeDir: string, cwd: string = process.cwd()): Promise<FlavorRegistry> {
    const registry = new FlavorRegistry();
    for (const { source, packageDir } of findFlavorPackages(cwd)) {
      await registry.loadEntry('package', source, packageDir);
    }
    const registered = readFlavorsFile(storeDir);
    for (const [name, { source }] of Object.entries(registered.flavors)) {
      await registry.loadEntry('registered', source, cwd, name);
    }
    return registry;
  }

  /** Adds a flavor in code (tests, programs that bundle their own flavors). */
  register(resolved: ResolvedFlavor, source = '(in code)'): void {
    this.add({ name: resolved.flavor.name, origin: 'registered', source, resolved });
  }

  get(name: string): ResolvedFlavor {
    const entry = this.entries.get(name);
    if (entry?.resolved !== undefined) return entry.resolved;
    if (entry?.error !== undefined) throw entry.error;
    throw new TrackstackError('UNKNOWN_FLAVOR', `no flavor named '${name}'`, {
      hint: `known flavors: ${[...this.entries.keys()].join(', ')}; install a flavor package or register one with \`trackstack experiment-tracker flavor register <source>\``,
    });
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** Every flavor, loaded or not; failures carry their error. */
  list(): RegistryEntry[] {
    return [...this.entries.values(), ...this.failures];
  }

  private add(entry: RegistryEntry): void {
    const existing = this.entries.get(entry.name);
    if (
      existing?.resolved !== undefined &&
      entry.resolved !== undefined &&
      existing.resolved.implementation !== entry.resolved.implementation
    ) {
      this.failures.push({
        ...entry,
        error: new TrackstackError(
          'INVALID_FLAVOR',
          `flavor '${entry.name}' from ${entry.source} collides with the ${existing.origin} flavor of that name from ${existing.source}`,
        ),
      });
      return;
    }
    this.entries.set(entry.name, entry);
  }

  private async loadEntry(
    origin: FlavorOrigin,
    source: string,
    baseDir: string,
    name?: string,
  ): Promise<void> {
    try {
      const resolved = await loadFlavorSource(source, baseDir);
      if (name !== undefined && resolved.flavor.name !== name) {
        throw new TrackstackError(
          'INVALID_FLAVOR',
          `${source} now exports flavor '${resolved.flavor.name}', but it was registered as '${name}'`,
          { hint: 're-register it' },
        );
      }
      this.add({ name: resolved.flavor.name, origin, source, resolved });
    } catch (error) {
      const failure = TrackstackError.isInstance(error)
        ? error
        : new TrackstackError('FLAVOR_LOAD_FAILED', `${source}: ${(error as Error).message}`, {
            cause: error,
          });
      const entry = { name: name ?? source, origin, source, error: failure };
      if (name !== undefined && !this.entries.has(name)) this.entries.set(name, entry);
      else this.failures.push(entry);
    }
  }
}

/**
 * Loads a flavor from a source: a file (`.ts`, `.mts`, `.js`, `.mjs`, loaded
 * without a build step) or an installed package, optionally `#ExportName`.
 * Without an export name, the default export, else the only export that is a
 * flavor or a tracker class.
 */
export async function loadFlavorSource(
  source: string,
  baseDir: string = process.cwd(),
): Promise<ResolvedFlavor> {
  const hash = source.lastIndexOf('#');
  const specifier = hash === -1 ? source : source.slice(0, hash);
  const exportName = hash === -1 ? undefined : source.slice(hash + 1);
  const module = await importSource(specifier, baseDir);
  if (exportName !== undefined) {
    if (!(exportName in module)) {
      throw new TrackstackError(
        'INVALID_FLAVOR',
        `${specifier} has no export named '${exportName}'`,
        {
          hint: `it exports: ${Object.keys(module).join(', ') || '(nothing)'}`,
        },
      );
    }
    return resolveFlavor(module[exportName], `${specifier}#${exportName}`);
  }
  if (module.default !== undefined)
    return resolveFlavor(module.default, `${specifier} (default export)`);
  const candidates = Object.entries(module).filter(([, value]) => {
    try {
      resolveFlavor(value);
      return true;
    } catch {
      return false;
    }
  });
  if (candidates.length === 1)
    return resolveFlavor(candidates[0]![1], `${specifier}#${candidates[0]![0]}`);
  throw new TrackstackError(
    'INVALID_FLAVOR',
    candidates.length === 0
      ? `${specifier} exports no flavor and no tracker class with a FLAVOR`
      : `${specifier} exports several flavors (${candidates.map(([n]) => n).join(', ')})`,
    {
      hint:
        candidates.length === 0
          ? 'export a class that extends BaseExperimentTracker with static FLAVOR'
          : `pick one: ${specifier}#${candidates[0]![0]}`,
    },
  );
}

const FILE_SOURCE = /\.(ts|mts|cts|js|mjs|cjs)$/;

async function importSource(specifier: string, baseDir: string): Promise<Record<string, unknown>> {
  const looksLikeFile =
    specifier.startsWith('.') || isAbsolute(specifier) || FILE_SOURCE.test(specifier);
  if (looksLikeFile) {
    const path = resolve(baseDir, specifier);
    if (!existsSync(path)) {
      throw new TrackstackError('FLAVOR_LOAD_FAILED', `flavor source ${path} does not exist`);
    }
    try {
      if (/\.(ts|mts|cts)$/.test(path)) {
        const { createJiti } = await import('jiti');
        const jiti = createJiti(import.meta.url, { moduleCache: false, interopDefault: false });
        return (await jiti.import(path)) as Record<string, unknown>;
      }
      return (await import(pathToFileURL(path).href)) as Record<string, unknown>;
    } catch (error) {
      throw new TrackstackError(
        'FLAVOR_LOAD_FAILED',
        `cannot load ${path}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
  let resolved: string;
  try {
    // ESM resolution: flavor packages export `import` conditions only.
    // Loaded here, not with the package: only package sources need it.
    const { resolve: resolveModule } = await import('import-meta-resolve');
    resolved = resolveModule(specifier, pathToFileURL(join(baseDir, 'noop.js')).href);
  } catch (error) {
    throw new TrackstackError(
      'FLAVOR_LOAD_FAILED',
      `package '${specifier}' is not installed (from ${baseDir})`,
      { cause: error },
    );
  }
  try {
    return (await import(resolved)) as Record<string, unknown>;
  } catch (error) {
    throw new TrackstackError(
      'FLAVOR_LOAD_FAILED',
      `cannot load package '${specifier}': ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/**
 * Installed packages that declare flavors: `"trackstack": { "flavors": ["./dist/index.js#MyTracker"] }`
 * (or `"trackstack": { "flavor": "..." }`) in their package.json, found in the
 * `node_modules` directories at and above `cwd`.
 */
export function findFlavorPackages(cwd: string): { source: string; packageDir: string }[] {
  const out: { source: string; packageDir: string }[] = [];
  const seen = new Set<string>();
  let dir = resolve(cwd);
  for (;;) {
    const modules = join(dir, 'node_modules');
    for (const packageDir of listPackages(modules)) {
      const manifest = readManifest(packageDir);
      if (manifest === undefined || seen.has(manifest.name)) continue;
      seen.add(manifest.name);
      const declared = manifest.trackstack;
      const entries = typeof declared === 'object' && declared !== null ? declared : undefined;
      const sources = [
        ...(Array.isArray(entries?.flavors) ? entries.flavors : []),
        ...(typeof entries?.flavor === 'string' ? [entries.flavor] : []),
      ].filter((s): s is string => typeof s === 'string');
      for (const entry of sources) out.push({ source: resolve(packageDir, entry), packageDir });
    }
    const parent = dirname(dir);
    if (parent === dir) return out;
    dir = parent;
  }
}

function listPackages(modules: string): string[] {
  let names: string[];
  try {
    names = readdirSync(modules);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const name of names) {
    if (name.startsWith('.')) continue;
    if (name.startsWith('@')) {
      try {
        for (const scoped of readdirSync(join(modules, name)))
          out.push(join(modules, name, scoped));
      } catch {
        // not a directory
      }
    } else {
      out.push(join(modules, name));
    }
  }
  return out;
}

interface Manifest {
  name: string;
  trackstack?: { flavors?: unknown; flavor?: unknown } | null;
}

function readManifest(packageDir: string): Manifest | undefined {
  try {
    const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as Manifest;
    return 'trackstack' in manifest ? manifest : undefined;
  } catch {
    return undefined;
  }
}
