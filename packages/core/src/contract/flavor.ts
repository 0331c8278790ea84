/**
 * The flavor contract: what a kind of tracker declares about itself.
 *
 * One form is supported: `static readonly FLAVOR = defineFlavor({...})` on a
 * class that extends BaseExperimentTracker (or a `defineFlavor` value with
 * `implementation`, exported on its own). A class that declares its flavor
 * through loose statics (`static flavorName`, `static configSchema`) is refused
 * with a message that says how to write it.
 */
import type { z } from 'zod';
import { TrackstackError } from './errors.js';
import type { Logger } from './log.js';
import type { RetryPolicy } from './retry.js';
import { loadZod } from './zod.js';

export const SPECIFICATION_VERSION = 'v1' as const;
export type SpecificationVersion = typeof SPECIFICATION_VERSION;
export const FLAVOR_TYPE = 'experiment-tracker' as const;

const FLAVOR_MARKER = Symbol.for('trackstack.flavor');
const TRACKER_CLASS_MARKER = Symbol.for('trackstack.tracker-class');

export const FLAVOR_NAME = /^[a-z][a-z0-9_-]{0,63}$/;

/** Any zod schema whose output is an object of config fields. */
export type ConfigSchema = z.ZodType<Record<string, unknown>>;

/** What a flavor's class is built with (besides its config). */
export interface TrackerOptions {
  /** The tracker's name in the store (e.g. "prod"); default the flavor's name. */
  name?: string;
  /** The store the tracker belongs to (the local flavor keeps its runs there). */
  storeDir?: string;
  logger?: Logger;
  /** For retries a flavor makes itself (e.g. MLflow's multipart parts); the engine retries the rest. */
  retry?: Partial<RetryPolicy>;
}

/**
 * What every flavor's class makes: a tracker of one configured flavor. Every
 * flavor but `local` makes an `ExperimentBackend` (contract/backend.ts) by
 * extending `BaseExperimentTracker`; the local flavor's store is the journal.
 */
export interface FlavorTracker {
  /** Its name in the store, and the name of its delivery state in a run's directory. */
  readonly name: string;
  readonly flavor: Flavor;
  /** A cheap authenticated call; throws a BackendError when the backend cannot be used. */
  validateConnection(): Promise<void>;
}

export type TrackerClass<C = any> = (abstract new (
  config: C,
  options?: TrackerOptions,
) => FlavorTracker) & { readonly FLAVOR?: Flavor<any> };

export type ConcreteTrackerClass<C = any> = (new (
  config: C,
  options?: TrackerOptions,
) => FlavorTracker) & { readonly FLAVOR?: Flavor<any> };

export interface FlavorDefinition<S extends ConfigSchema> {
  /** Lower-case, `[a-z][a-z0-9_-]*`: what users type after `--flavor`. */
  name: string;
  displayName?: string;
  /** zod schema of the tracker's config. Field names are snake_case, as in ZenML. */
  configSchema: S;
  docsUrl?: string;
  sdkDocsUrl?: string;
  logoUrl?: string;
  /** The contract version the flavor was written against; core adapts older ones. */
  specificationVersion?: SpecificationVersion;
  /**
   * The tracker class, for a flavor value exported on its own. Leave it out for
   * `static FLAVOR = defineFlavor(...)`: the class it sits on is the implementation.
   */
  implementation?: () => ConcreteTrackerClass;
}

export interface Flavor<S extends ConfigSchema = ConfigSchema> {
  readonly [FLAVOR_MARKER]: true;
  readonly type: typeof FLAVOR_TYPE;
  readonly name: string;
  readonly displayName: string;
  readonly configSchema: S;
  readonly docsUrl: string | undefined;
  readonly sdkDocsUrl: string | undefined;
  readonly logoUrl: string | undefined;
  readonly specificationVersion: SpecificationVersion;
  readonly implementation: (() => ConcreteTrackerClass) | undefined;
}

export function defineFlavor<S extends ConfigSchema>(definition: FlavorDefinition<S>): Flavor<S> {
  checkFlavorName(definition.name);
  checkConfigSchema(definition.name, definition.configSchema);
  return makeFlavor(definition, { value: definition.configSchema });
}

/**
 * `defineFlavor` for core's own flavors, whose schema is built with the zod
 * core loads on first use: `configSchema` is a function, called (and its
 * result checked as `defineFlavor` checks a schema) on the first read of the
 * flavor's `configSchema`, so defining the flavor does not load zod.
 */
export function defineLazyFlavor<S extends ConfigSchema>(
  definition: Omit<FlavorDefinition<S>, 'configSchema'> & { configSchema: () => S },
): Flavor<S> {
  checkFlavorName(definition.name);
  let schema: S | undefined;
  return makeFlavor(definition, {
    get: () => {
      if (schema === undefined) {
        const built = definition.configSchema();
        checkConfigSchema(definition.name, built);
        schema = built;
      }
      return schema;
    },
  });
}

function checkFlavorName(name: unknown): void {
  if (typeof name !== 'string' || !FLAVOR_NAME.test(name)) {
    throw new TrackstackError(
      'INVALID_FLAVOR',
      `flavor name ${JSON.stringify(name)} is not valid: use lower-case letters, digits, '-' and '_', starting with a letter`,
    );
  }
}

function checkConfigSchema(name: string, schema: unknown): void {
  if (!isZodSchema(schema)) {
    throw new TrackstackError(
      'INVALID_FLAVOR',
      `flavor '${name}': configSchema must be a zod schema (z.object({...}))`,
    );
  }
}

/** The frozen flavor; `configSchema` is a value or, for a lazy flavor, a getter. */
function makeFlavor<S extends ConfigSchema>(
  definition: Omit<FlavorDefinition<S>, 'configSchema'>,
  configSchema: Pick<PropertyDescriptor, 'value' | 'get'>,
): Flavor<S> {
  const flavor = {
    [FLAVOR_MARKER]: true as const,
    type: FLAVOR_TYPE,
    name: definition.name,
    displayName: definition.displayName ?? definition.name,
    configSchema: undefined as unknown as S,
    docsUrl: definition.docsUrl,
    sdkDocsUrl: definition.sdkDocsUrl,
    logoUrl: definition.logoUrl,
    specificationVersion: definition.specificationVersion ?? SPECIFICATION_VERSION,
    implementation: definition.implementation,
  };
  Object.defineProperty(flavor, 'configSchema', { ...configSchema, enumerable: true });
  return Object.freeze(flavor);
}

export function isFlavor(value: unknown): value is Flavor {
  return typeof value === 'object' && value !== null && FLAVOR_MARKER in value;
}

/** Marks a class as a tracker class (set once on BaseExperimentTracker, and on the local flavor's). */
export function markTrackerClass(target: object): void {
  Object.defineProperty(target, TRACKER_CLASS_MARKER, { value: true });
}

export function isTrackerClass(value: unknown): value is TrackerClass {
  return typeof value === 'function' && TRACKER_CLASS_MARKER in value;
}

export function isZodSchema(value: unknown): value is z.ZodType {
  return (
    typeof value === 'object' &&
    value !== null &&
    '_zod' in value &&
    typeof (value as { safeParse?: unknown }).safeParse === 'function'
  );
}

/** Marks a config field secret: shown redacted, never printed, warned about when given as plain text. */
export function secret<T extends z.ZodType>(schema: T): T {
  return schema.meta({ ...(schema.meta() ?? {}), secret: true }) as T;
}

/** A flavor bound to the class that implements it. */
export interface ResolvedFlavor<S extends ConfigSchema = ConfigSchema> {
  flavor: Flavor<S>;
  implementation: ConcreteTrackerClass;
}

/**
 * Turns what a source exports into a flavor bound to its implementation, or
 * says exactly what is wrong with it.
 */
export function resolveFlavor(exported: unknown, from = 'the export'): ResolvedFlavor {
  if (isTrackerClass(exported)) {
    const flavor = (exported as { FLAVOR?: unknown }).FLAVOR;
    if (flavor === undefined) {
      const loose = ['flavorName', 'configSchema', 'flavor'].filter((name) => name in exported);
      throw new TrackstackError(
        'INVALID_FLAVOR',
        loose.length > 0
          ? `${from} declares its flavor with loose statics (${loose.join(', ')}); trackstack reads one form only`
          : `${from} is a tracker class without a FLAVOR`,
        {
          hint: "add `static readonly FLAVOR = defineFlavor({ name: 'my-flavor', configSchema })`",
        },
      );
    }
    checkFlavor(flavor, from);
    return { flavor, implementation: exported as ConcreteTrackerClass };
  }
  if (isFlavor(exported)) {
    checkFlavor(exported, from);
    if (exported.implementation === undefined) {
      throw new TrackstackError(
        'INVALID_FLAVOR',
        `flavor '${exported.name}' (${from}) names no implementation`,
        { hint: 'export the tracker class instead, or set implementation: () => MyTracker' },
      );
    }
    const implementation = exported.implementation();
    if (!isTrackerClass(implementation)) {
      throw new TrackstackError(
        'INVALID_FLAVOR',
        `flavor '${exported.name}' (${from}): implementation() must return a class that extends BaseExperimentTracker`,
      );
    }
    return { flavor: exported, implementation };
  }
  throw new TrackstackError(
    'INVALID_FLAVOR',
    `${from} is neither a flavor nor a class that extends BaseExperimentTracker`,
    { hint: 'export a tracker class with `static readonly FLAVOR = defineFlavor({...})`' },
  );
}

function checkFlavor(value: unknown, from: string): asserts value is Flavor {
  if (!isFlavor(value)) {
    throw new TrackstackError(
      'INVALID_FLAVOR',
      `${from}: FLAVOR is not a flavor made by defineFlavor()`,
    );
  }
  if (value.type !== FLAVOR_TYPE) {
    throw new TrackstackError(
      'INVALID_FLAVOR',
      `${from}: flavor '${value.name}' has type '${String(value.type)}', expected '${FLAVOR_TYPE}'`,
    );
  }
  if (!isZodSchema(value.configSchema)) {
    throw new TrackstackError(
      'INVALID_FLAVOR',
      `${from}: flavor '${value.name}' has a configSchema that is not a zod schema`,
    );
  }
}

/** The config schema as JSON Schema (draft 2020-12); secret fields carry `"secret": true`. */
export function configJsonSchema(flavor: Flavor): Record<string, unknown> {
  return loadZod().toJSONSchema(flavor.configSchema, {
    unrepresentable: 'any',
    io: 'input',
  }) as Record<string, unknown>;
}

/** Names of the top-level config fields marked secret. */
export function secretFields(flavor: Flavor): string[] {
  const schema = configJsonSchema(flavor);
  const properties = (schema.properties ?? {}) as Record<string, { secret?: unknown }>;
  return Object.keys(properties).filter((name) => properties[name]?.secret === true);
}

/**
 * Validates a raw config against the flavor's schema. Messages name each field
 * and what is wrong, never the value (it may be a secret).
 */
export function parseConfig<S extends ConfigSchema>(flavor: Flavor<S>, raw: unknown): z.output<S> {
  const result = flavor.configSchema.safeParse(raw ?? {});
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const field = issue.path.length > 0 ? issue.path.join('.') : '(config)';
    return `${field}: ${issue.message}`;
  });
  throw new TrackstackError(
    'INVALID_CONFIG',
    `invalid config for flavor '${flavor.name}': ${problems.join('; ')}`,
    { hint: `see \`trackstack experiment-tracker flavor describe ${flavor.name}\`` },
  );
}
