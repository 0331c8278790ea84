import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BaseExperimentTracker } from './base-tracker.js';
import { TrackstackError } from './errors.js';
import {
  configJsonSchema,
  defineFlavor,
  defineLazyFlavor,
  FLAVOR_TYPE,
  type Flavor,
  isFlavor,
  isTrackerClass,
  isZodSchema,
  parseConfig,
  resolveFlavor,
  SPECIFICATION_VERSION,
  secret,
  secretFields,
} from './flavor.js';
import type { RunInit, RunRef } from './types.js';

/** Runs `fn`, which must throw a TrackstackError with this code; returns it. */
function expectTrackstackError(fn: () => unknown, code: TrackstackError['code']): TrackstackError {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown, 'expected a TrackstackError to be thrown').toBeDefined();
  expect(TrackstackError.isInstance(thrown)).toBe(true);
  expect((thrown as TrackstackError).code).toBe(code);
  return thrown as TrackstackError;
}

// ---- The two steps a user takes, literally -------------------------------------------------

const myConfigSchema = z.object({
  tracking_uri: z.url(),
  api_key: secret(z.string()),
  project_name: z.string().default('default'),
});

// 1. A class that extends BaseExperimentTracker; 2. a FLAVOR made by defineFlavor.
class MyTracker extends BaseExperimentTracker<z.output<typeof myConfigSchema>> {
  static readonly FLAVOR = defineFlavor({
    name: 'my-tracker',
    displayName: 'My tracker',
    configSchema: myConfigSchema,
    docsUrl: 'https://example.com/docs',
  });

  async createRun(init: RunInit): Promise<RunRef> {
    return { runId: init.uid, url: `${this.config.tracking_uri}/runs/${init.uid}` };
  }
  async writeBatch(): Promise<void> {}
  async uploadArtifact(): Promise<void> {}
  async finishRun(): Promise<void> {}
  async validateConnection(): Promise<void> {}
}

/** A tracker class with every primitive and no FLAVOR, to hang statics on. */
class StubTracker extends BaseExperimentTracker<Record<string, unknown>> {
  async createRun(init: RunInit): Promise<RunRef> {
    return { runId: init.uid };
  }
  async writeBatch(): Promise<void> {}
  async uploadArtifact(): Promise<void> {}
  async finishRun(): Promise<void> {}
  async validateConnection(): Promise<void> {}
}

describe('defineFlavor', () => {
  it('makes a frozen flavor with defaults filled in', () => {
    const flavor = defineFlavor({ name: 'plain', configSchema: z.object({}) });
    expect(isFlavor(flavor)).toBe(true);
    expect(Object.isFrozen(flavor)).toBe(true);
    expect(flavor).toMatchObject({
      type: FLAVOR_TYPE,
      name: 'plain',
      displayName: 'plain',
      specificationVersion: SPECIFICATION_VERSION,
      docsUrl: undefined,
      sdkDocsUrl: undefined,
      logoUrl: undefined,
      implementation: undefined,
    });
    expect(FLAVOR_TYPE).toBe('experiment-tracker');
  });

  it('keeps what it is given', () => {
    const configSchema = z.object({ a: z.string() });
    const implementation = () => MyTracker;
    const flavor = defineFlavor({
      name: 'full',
      displayName: 'Full',
      configSchema,
      docsUrl: 'https://d',
      sdkDocsUrl: 'https://s',
      logoUrl: 'https://l',
      specificationVersion: 'v1',
      implementation,
    });
    expect(flavor.configSchema).toBe(configSchema);
    expect(flavor.implementation).toBe(implementation);
    expect(flavor).toMatchObject({
      displayName: 'Full',
      docsUrl: 'https://d',
      sdkDocsUrl: 'https://s',
      logoUrl: 'https://l',
    });
  });

  it.each(['a', 'mlflow', 'my-flavor_2', `a${'b'.repeat(63)}`])('accepts the name %s', (name) => {
    expect(defineFlavor({ name, configSchema: z.object({}) }).name).toBe(name);
  });

  it.each([
    ['empty', ''],
    ['upper case', 'MLflow'],
    ['a leading digit', '1st'],
    ['a leading dash', '-x'],
    ['a space', 'my flavor'],
    ['a dot', 'my.flavor'],
    ['a slash', 'my/flavor'],
    ['65 characters', `a${'b'.repeat(64)}`],
    ['not a string', 42],
    ['undefined', undefined],
  ])('refuses a name with %s', (_case, name) => {
    const error = expectTrackstackError(
      () => defineFlavor({ name: name as string, configSchema: z.object({}) }),
      'INVALID_FLAVOR',
    );
    expect(error.message).toContain('flavor name');
    expect(error.message).toContain('lower-case');
  });

  it.each([
    ['a plain object', { parse: () => ({}) }],
    ['a JSON Schema', { type: 'object', properties: {} }],
    ['an object with safeParse only', { safeParse: () => ({ success: true, data: {} }) }],
    ['undefined', undefined],
    ['a zod constructor', z.object],
  ])('refuses %s as configSchema', (_case, configSchema) => {
    const error = expectTrackstackError(
      () => defineFlavor({ name: 'bad', configSchema: configSchema as never }),
      'INVALID_FLAVOR',
    );
    expect(error.message).toContain("flavor 'bad'");
    expect(error.message).toContain('zod schema');
  });

  it('tells zod schemas from the rest', () => {
    expect(isZodSchema(z.object({}))).toBe(true);
    expect(isZodSchema(z.string())).toBe(true);
    expect(isZodSchema({})).toBe(false);
    expect(isZodSchema(null)).toBe(false);
  });
});

// Core's own flavors build their schema with the zod core loads on first use.
describe('defineLazyFlavor', () => {
  it('builds the schema on the first read of configSchema, once', () => {
    let builds = 0;
    const schema = z.object({ a: z.string().default('x') });
    const flavor = defineLazyFlavor({
      name: 'lazy',
      configSchema: () => {
        builds += 1;
        return schema;
      },
    });
    expect(builds).toBe(0);
    expect(isFlavor(flavor)).toBe(true);
    expect(Object.isFrozen(flavor)).toBe(true);
    expect(flavor).toMatchObject({ type: FLAVOR_TYPE, name: 'lazy', displayName: 'lazy' });
    expect(builds).toBe(0);
    expect(flavor.configSchema).toBe(schema);
    expect(flavor.configSchema).toBe(schema);
    expect(builds).toBe(1);
    expect(parseConfig(flavor, {})).toEqual({ a: 'x' });
  });

  it('checks the name when defined and the schema when built, as defineFlavor does', () => {
    expectTrackstackError(
      () => defineLazyFlavor({ name: 'Bad Name', configSchema: () => z.object({}) }),
      'INVALID_FLAVOR',
    );
    const flavor = defineLazyFlavor({ name: 'lazy-bad', configSchema: () => ({}) as never });
    const error = expectTrackstackError(() => flavor.configSchema, 'INVALID_FLAVOR');
    expect(error.message).toContain("flavor 'lazy-bad'");
    expect(error.message).toContain('zod schema');
  });
});

describe('resolveFlavor', () => {
  it('resolves a class that extends BaseExperimentTracker with static FLAVOR', () => {
    expect(isTrackerClass(MyTracker)).toBe(true);
    const resolved = resolveFlavor(MyTracker);
    expect(resolved.flavor).toBe(MyTracker.FLAVOR);
    expect(resolved.implementation).toBe(MyTracker);
    expect(resolved.flavor.name).toBe('my-tracker');

    const config = parseConfig(resolved.flavor, {
      tracking_uri: 'https://mlflow.example.com',
      api_key: 'k',
    });
    const tracker = new resolved.implementation(config, { storeDir: '/nonexistent/store' });
    expect(tracker).toBeInstanceOf(MyTracker);
    expect(tracker.name).toBe('my-tracker');
    expect(tracker.flavor).toBe(MyTracker.FLAVOR);
    expect((tracker as MyTracker).config).toEqual({
      tracking_uri: 'https://mlflow.example.com',
      api_key: 'k',
      project_name: 'default',
    });
  });

  it('resolves a flavor value whose implementation() returns the class', () => {
    const flavor = defineFlavor({
      name: 'standalone',
      configSchema: z.object({}),
      implementation: () => StubTracker,
    });
    const resolved = resolveFlavor(flavor);
    expect(resolved.flavor).toBe(flavor);
    expect(resolved.implementation).toBe(StubTracker);
  });

  it('refuses a flavor value without an implementation, and says what to do', () => {
    const flavor = defineFlavor({ name: 'lonely', configSchema: z.object({}) });
    const error = expectTrackstackError(() => resolveFlavor(flavor), 'INVALID_FLAVOR');
    expect(error.message).toContain("flavor 'lonely'");
    expect(error.message).toContain('names no implementation');
    expect(error.hint).toContain('implementation: () =>');
  });

  it('refuses an implementation() that does not return a tracker class', () => {
    const flavor = defineFlavor({
      name: 'wrong-impl',
      configSchema: z.object({}),
      implementation: (() => class NotATracker {}) as never,
    });
    const error = expectTrackstackError(() => resolveFlavor(flavor), 'INVALID_FLAVOR');
    expect(error.message).toContain('must return a class that extends BaseExperimentTracker');
  });

  it('refuses loose statics with a message that names them and shows the one form', () => {
    class LooseTracker extends StubTracker {
      static flavorName = 'loose';
      static configSchema = z.object({ a: z.string() });
    }
    const error = expectTrackstackError(
      () => resolveFlavor(LooseTracker, 'loose.ts#LooseTracker'),
      'INVALID_FLAVOR',
    );
    expect(error.message).toBe(
      'loose.ts#LooseTracker declares its flavor with loose statics (flavorName, configSchema); trackstack reads one form only',
    );
    expect(error.hint).toContain('static readonly FLAVOR = defineFlavor(');
  });

  it('refuses a loose static `flavor` as well', () => {
    class OtherLoose extends StubTracker {
      static flavor = 'x';
    }
    const error = expectTrackstackError(() => resolveFlavor(OtherLoose), 'INVALID_FLAVOR');
    expect(error.message).toContain('loose statics (flavor)');
  });

  it('refuses a tracker class without FLAVOR', () => {
    const error = expectTrackstackError(() => resolveFlavor(StubTracker), 'INVALID_FLAVOR');
    expect(error.message).toBe('the export is a tracker class without a FLAVOR');
    expect(error.hint).toContain('static readonly FLAVOR');
  });

  it('refuses a FLAVOR that defineFlavor did not make', () => {
    class HandMade extends StubTracker {
      static readonly FLAVOR = {
        type: 'experiment-tracker',
        name: 'hand-made',
        configSchema: z.object({}),
      } as unknown as Flavor;
    }
    const error = expectTrackstackError(() => resolveFlavor(HandMade, 'src'), 'INVALID_FLAVOR');
    expect(error.message).toBe('src: FLAVOR is not a flavor made by defineFlavor()');
  });

  it('refuses a flavor of the wrong type, as a class static or as a value', () => {
    const base = defineFlavor({
      name: 'orch',
      configSchema: z.object({}),
      implementation: () => StubTracker,
    });
    const wrong = { ...base, type: 'orchestrator' } as unknown as Flavor;
    expect(isFlavor(wrong)).toBe(true);
    class WrongType extends StubTracker {
      static readonly FLAVOR = wrong;
    }
    for (const exported of [WrongType, wrong]) {
      const error = expectTrackstackError(() => resolveFlavor(exported), 'INVALID_FLAVOR');
      expect(error.message).toContain(
        "flavor 'orch' has type 'orchestrator', expected 'experiment-tracker'",
      );
    }
  });

  it('refuses a flavor whose configSchema was swapped for something else', () => {
    const base = defineFlavor({ name: 'swapped', configSchema: z.object({}) });
    class Swapped extends StubTracker {
      static readonly FLAVOR = { ...base, configSchema: { type: 'object' } } as unknown as Flavor;
    }
    const error = expectTrackstackError(() => resolveFlavor(Swapped), 'INVALID_FLAVOR');
    expect(error.message).toContain('configSchema that is not a zod schema');
  });

  it.each([
    ['a number', 42],
    ['null', null],
    ['undefined', undefined],
    ['a string', 'mlflow'],
    ['a plain object', { name: 'x', configSchema: z.object({}) }],
    ['a zod schema', z.object({})],
    ['a class that does not extend BaseExperimentTracker', class Unrelated {}],
    ['a function', () => MyTracker],
  ])('refuses %s', (_case, exported) => {
    const error = expectTrackstackError(
      () => resolveFlavor(exported, 'pkg#thing'),
      'INVALID_FLAVOR',
    );
    expect(error.message).toBe(
      'pkg#thing is neither a flavor nor a class that extends BaseExperimentTracker',
    );
    expect(error.hint).toContain('defineFlavor');
  });

  it('resolves a subclass of a flavored class to the subclass', () => {
    class Derived extends MyTracker {}
    const resolved = resolveFlavor(Derived);
    expect(resolved.flavor).toBe(MyTracker.FLAVOR);
    expect(resolved.implementation).toBe(Derived);
  });
});

describe('configJsonSchema and secretFields', () => {
  const flavor = defineFlavor({
    name: 'with-secrets',
    configSchema: z.object({
      tracking_uri: z.url(),
      api_key: secret(z.string()),
      token: z.string().meta({ secret: true }),
      optional_key: secret(z.string()).optional(),
      described_key: secret(z.string()).describe('the API key'),
      timeout_s: z.number().default(30),
      insecure: z.boolean().optional(),
    }),
    implementation: () => StubTracker,
  });

  it('marks the secret fields with `secret: true`', () => {
    const schema = configJsonSchema(flavor);
    const properties = schema.properties as Record<string, Record<string, unknown>>;
    expect(properties.api_key).toEqual({ type: 'string', secret: true });
    expect(properties.token).toEqual({ type: 'string', secret: true });
    expect(properties.optional_key?.secret).toBe(true);
    expect(properties.described_key).toMatchObject({
      secret: true,
      description: 'the API key',
    });
    expect(properties.tracking_uri?.secret).toBeUndefined();
    expect(properties.timeout_s).toMatchObject({ type: 'number', default: 30 });
    expect(properties.timeout_s?.secret).toBeUndefined();
  });

  it('lists required fields as a user must give them (input side)', () => {
    const schema = configJsonSchema(flavor);
    expect(schema.type).toBe('object');
    expect(schema.required).toEqual(['tracking_uri', 'api_key', 'token', 'described_key']);
  });

  it('names the secret fields', () => {
    expect(secretFields(flavor)).toEqual(['api_key', 'token', 'optional_key', 'described_key']);
    expect(secretFields(MyTracker.FLAVOR)).toEqual(['api_key']);
    expect(secretFields(defineFlavor({ name: 'none', configSchema: z.object({}) }))).toEqual([]);
  });

  it('keeps existing metadata and leaves the original schema alone', () => {
    const original = z.string().meta({ title: 'Token', description: 'a token' });
    const marked = secret(original);
    expect(marked.meta()).toMatchObject({ title: 'Token', description: 'a token', secret: true });
    expect(original.meta()?.secret).toBeUndefined();
  });
});

describe('parseConfig', () => {
  const SECRET_VALUE = 'sk-SECRET-123';
  const flavor = defineFlavor({
    name: 'strict-flavor',
    configSchema: z
      .object({
        api_key: secret(z.string().min(20)),
        port: z.number().int(),
        mode: z.enum(['online', 'offline']),
        endpoint: z.url(),
        auth: z.object({ token: z.string().regex(/^tok_/) }),
        retries: z.number().default(3),
      })
      .strict(),
    implementation: () => StubTracker,
  });

  it('returns the parsed config with defaults applied', () => {
    expect(
      parseConfig(flavor, {
        api_key: 'k'.repeat(20),
        port: 5000,
        mode: 'online',
        endpoint: 'https://x.example.com',
        auth: { token: 'tok_1' },
      }),
    ).toEqual({
      api_key: 'k'.repeat(20),
      port: 5000,
      mode: 'online',
      endpoint: 'https://x.example.com',
      auth: { token: 'tok_1' },
      retries: 3,
    });
  });

  it('reads a missing config as an empty one', () => {
    const empty = defineFlavor({
      name: 'empty',
      configSchema: z.object({ a: z.string().default('x') }),
    });
    expect(parseConfig(empty, undefined)).toEqual({ a: 'x' });
    expect(parseConfig(empty, null)).toEqual({ a: 'x' });
  });

  it('names every bad field, never its value', () => {
    const error = expectTrackstackError(
      () =>
        parseConfig(flavor, {
          api_key: SECRET_VALUE,
          port: SECRET_VALUE,
          mode: SECRET_VALUE,
          endpoint: SECRET_VALUE,
          auth: { token: SECRET_VALUE },
          retries: SECRET_VALUE,
          extra_field: SECRET_VALUE,
        }),
      'INVALID_CONFIG',
    );
    expect(error.message).toContain("invalid config for flavor 'strict-flavor'");
    expect(error.message).toContain('extra_field');
    for (const field of ['api_key:', 'port:', 'mode:', 'endpoint:', 'auth.token:', 'retries:']) {
      expect(error.message).toContain(field);
    }
    expect(error.message).not.toContain(SECRET_VALUE);
    expect(error.hint).toContain('flavor describe strict-flavor');
    expect(error.hint).not.toContain(SECRET_VALUE);
    expect(String(error.cause ?? '')).not.toContain(SECRET_VALUE);
  });

  it('names missing fields', () => {
    const error = expectTrackstackError(() => parseConfig(flavor, {}), 'INVALID_CONFIG');
    expect(error.message).toContain('api_key:');
    expect(error.message).toContain('port:');
  });

  it('reports a config that is not an object as (config)', () => {
    const error = expectTrackstackError(() => parseConfig(flavor, SECRET_VALUE), 'INVALID_CONFIG');
    expect(error.message).toContain('(config):');
    expect(error.message).not.toContain(SECRET_VALUE);
  });
});
