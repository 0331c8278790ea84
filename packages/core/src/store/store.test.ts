import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TrackstackError } from '../contract/errors.js';
import { resolveFlavor } from '../contract/flavor.js';
import { DEFAULT_LIMITS } from '../contract/limits.js';
import { silentLogger } from '../contract/log.js';
import { LocalExperimentTracker } from '../local/local-tracker.js';
import { FlavorRegistry } from '../registry/registry.js';
import { InMemoryTracker } from '../testing/in-memory-tracker.js';
import { getTracker } from '../tracker/get-tracker.js';
import { trackerBackends } from '../tracker/tracker.js';
import { hasReference, resolveReferences, SECRETS_FILE } from './references.js';
import { findProjectStore, resolveStoreDir, STORE_DIR_NAME, userStoreDir } from './store-dir.js';
import {
  FLAVORS_FILE,
  readFlavorsFile,
  readTrackersFile,
  TRACKERS_FILE,
  writeStoreFile,
} from './store-files.js';

let tmp: string;

beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'trackstack-store-'));
});

afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function write(relative: string, content: unknown): Promise<string> {
  const path = join(tmp, relative);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

/** Runs `fn` (sync or async), which must fail with a TrackstackError of this code; returns it. */
async function expectTrackstackError(
  fn: () => unknown,
  code: TrackstackError['code'],
): Promise<TrackstackError> {
  let thrown: unknown;
  try {
    await fn();
  } catch (error) {
    thrown = error;
  }
  expect(thrown, 'expected a TrackstackError').toBeDefined();
  expect(TrackstackError.isInstance(thrown)).toBe(true);
  expect((thrown as TrackstackError).code).toBe(code);
  return thrown as TrackstackError;
}

describe('resolveStoreDir', () => {
  it('uses TRACKSTACK_HOME when it is set', async () => {
    await mkdir(join(tmp, 'project', STORE_DIR_NAME), { recursive: true });
    const home = join(tmp, 'home');
    expect(resolveStoreDir(join(tmp, 'project'), { TRACKSTACK_HOME: home })).toBe(home);
  });

  it('reads a relative TRACKSTACK_HOME from the working directory', () => {
    expect(resolveStoreDir(tmp, { TRACKSTACK_HOME: 'stores/mine' })).toBe(join(tmp, 'stores/mine'));
  });

  it('ignores an empty TRACKSTACK_HOME', async () => {
    await mkdir(join(tmp, STORE_DIR_NAME));
    expect(resolveStoreDir(tmp, { TRACKSTACK_HOME: '' })).toBe(join(tmp, STORE_DIR_NAME));
  });

  it('finds the nearest .trackstack/ walking up from the working directory', async () => {
    await mkdir(join(tmp, 'project', STORE_DIR_NAME), { recursive: true });
    await mkdir(join(tmp, 'project', 'src', 'deep', 'er'), { recursive: true });
    const store = join(tmp, 'project', STORE_DIR_NAME);
    expect(resolveStoreDir(join(tmp, 'project', 'src', 'deep', 'er'), {})).toBe(store);
    expect(resolveStoreDir(join(tmp, 'project'), {})).toBe(store);
    expect(findProjectStore(join(tmp, 'project', 'src'))).toBe(store);
  });

  it('prefers the nearest of several', async () => {
    await mkdir(join(tmp, STORE_DIR_NAME));
    await mkdir(join(tmp, 'inner', STORE_DIR_NAME), { recursive: true });
    await mkdir(join(tmp, 'inner', 'src'));
    expect(resolveStoreDir(join(tmp, 'inner', 'src'), {})).toBe(join(tmp, 'inner', STORE_DIR_NAME));
  });

  it('passes over a .trackstack that is a file', async () => {
    await mkdir(join(tmp, STORE_DIR_NAME));
    await write(`inner/${STORE_DIR_NAME}`, 'not a directory');
    expect(resolveStoreDir(join(tmp, 'inner'), {})).toBe(join(tmp, STORE_DIR_NAME));
  });

  it('falls back to the per-user directory', async () => {
    await mkdir(join(tmp, 'nowhere'));
    expect(findProjectStore(join(tmp, 'nowhere'))).toBeUndefined();
    expect(resolveStoreDir(join(tmp, 'nowhere'), {})).toBe(userStoreDir());
    expect(userStoreDir()).toContain('trackstack');
  });
});

describe('store files', () => {
  it('reads a missing trackers.json as empty', () => {
    expect(readTrackersFile(tmp)).toEqual({ version: 1, trackers: {}, active: [] });
    expect(readTrackersFile(join(tmp, 'no', 'such', 'store'))).toEqual({
      version: 1,
      trackers: {},
      active: [],
    });
    expect(readFlavorsFile(tmp)).toEqual({ version: 1, flavors: {} });
  });

  it('reads a valid trackers.json, with labels defaulted', async () => {
    await write(TRACKERS_FILE, {
      version: 1,
      trackers: { prod: { flavor: 'mlflow', config: { tracking_uri: 'https://x' } } },
      active: ['prod'],
    });
    expect(readTrackersFile(tmp)).toEqual({
      version: 1,
      trackers: { prod: { flavor: 'mlflow', config: { tracking_uri: 'https://x' }, labels: {} } },
      active: ['prod'],
    });
  });

  it('round-trips what writeStoreFile wrote', () => {
    const file = { version: 1 as const, trackers: {}, active: [] };
    writeStoreFile(tmp, TRACKERS_FILE, file);
    expect(readTrackersFile(tmp)).toEqual(file);
  });

  it('refuses corrupt JSON, naming the file', async () => {
    const path = await write(TRACKERS_FILE, '{"version": 1, "trackers": {');
    const error = await expectTrackstackError(() => readTrackersFile(tmp), 'CORRUPT_FILE');
    expect(error.message).toContain(`${path} is not valid JSON`);
    expect(error.hint).toContain('will not overwrite');
  });

  it.each([
    ['an array', [], '(root)'],
    ['a wrong version', { version: 2, trackers: {}, active: [] }, 'version'],
    ['a missing active list', { version: 1, trackers: {} }, 'active'],
    [
      'a tracker without a flavor',
      { version: 1, trackers: { prod: { config: {} } }, active: [] },
      'trackers.prod.flavor',
    ],
    ['an active list of numbers', { version: 1, trackers: {}, active: [1] }, 'active.0'],
  ])('refuses %s, naming the file and the field', async (_name, content, field) => {
    const path = await write(TRACKERS_FILE, content);
    const error = await expectTrackstackError(() => readTrackersFile(tmp), 'CORRUPT_FILE');
    expect(error.message).toContain(`${path} is not a trackstack ${TRACKERS_FILE}: ${field}:`);
  });

  it('refuses a damaged flavors.json, naming it', async () => {
    const path = await write(FLAVORS_FILE, { version: 1, flavors: { x: { source: 1 } } });
    const error = await expectTrackstackError(() => readFlavorsFile(tmp), 'CORRUPT_FILE');
    expect(error.message).toContain(path);
    expect(error.message).toContain('flavors.x.source');
  });
});

describe('resolveReferences', () => {
  const secrets = {
    version: 1,
    secrets: {
      mlflow: { token: 'tok-123', user: 'ada' },
      wandb: { value: 'wb-456' },
    },
  };

  it('resolves env and secret references, nested and inside longer strings', async () => {
    await write(SECRETS_FILE, secrets);
    const resolved = resolveReferences(
      {
        tracking_uri: 'https://{{env.MLFLOW_HOST}}:{{ env.MLFLOW_PORT }}/api',
        tracking_token: '{{secret.mlflow.token}}',
        api_key: '{{secret.wandb}}',
        headers: { 'x-user': '{{secret.mlflow.user}}', plain: 'no reference' },
        hosts: ['{{env.MLFLOW_HOST}}', 'static', 7],
        port: 5000,
        insecure: false,
        nothing: null,
      },
      { env: { MLFLOW_HOST: 'mlflow.internal', MLFLOW_PORT: '5000' }, storeDir: tmp },
    );
    expect(resolved).toEqual({
      tracking_uri: 'https://mlflow.internal:5000/api',
      tracking_token: 'tok-123',
      api_key: 'wb-456',
      headers: { 'x-user': 'ada', plain: 'no reference' },
      hosts: ['mlflow.internal', 'static', 7],
      port: 5000,
      insecure: false,
      nothing: null,
    });
  });

  it('resolves an empty environment variable to an empty string', () => {
    expect(
      resolveReferences({ a: 'x{{env.EMPTY}}y' }, { env: { EMPTY: '' }, storeDir: tmp }),
    ).toEqual({ a: 'xy' });
  });

  it('does not read secrets.json when nothing refers to a secret', async () => {
    await write(SECRETS_FILE, '{ damaged');
    expect(resolveReferences({ a: '{{env.A}}' }, { env: { A: '1' }, storeDir: tmp })).toEqual({
      a: '1',
    });
  });

  it('does not resolve what a resolved value contains', () => {
    expect(
      resolveReferences(
        { a: '{{env.A}}' },
        { env: { A: '{{env.B}}', B: 'should not appear' }, storeDir: tmp },
      ),
    ).toEqual({ a: '{{env.B}}' });
  });

  it('names the field and the variable when an environment variable is missing', async () => {
    const error = await expectTrackstackError(
      () =>
        resolveReferences(
          { nested: { tracking_token: '{{env.MISSING_TOKEN}}' } },
          { env: {}, storeDir: tmp },
        ),
      'INVALID_CONFIG',
    );
    expect(error.message).toBe(
      'config field nested.tracking_token refers to environment variable MISSING_TOKEN, which is not set',
    );
  });

  it('names the field and the secret when a secret is missing', async () => {
    await write(SECRETS_FILE, secrets);
    const error = await expectTrackstackError(
      () =>
        resolveReferences(
          { list: ['x', '{{secret.mlflow.password}}'] },
          { env: {}, storeDir: tmp },
        ),
      'INVALID_CONFIG',
    );
    expect(error.message).toBe(
      `config field list[1] refers to secret mlflow.password, which does not exist in ${join(tmp, SECRETS_FILE)}`,
    );
    expect(error.hint).toContain('trackstack secret create mlflow --password=...');
    expect(error.message).not.toContain('tok-123');
  });

  it('says a secret is missing when there is no secrets.json at all', async () => {
    const error = await expectTrackstackError(
      () => resolveReferences({ api_key: '{{secret.wandb}}' }, { env: {}, storeDir: tmp }),
      'INVALID_CONFIG',
    );
    expect(error.message).toContain('config field api_key refers to secret wandb.value');
  });

  it('refuses a damaged secrets.json, naming it, without printing its content', async () => {
    const path = await write(SECRETS_FILE, {
      version: 1,
      secrets: { mlflow: { token: 12345 } },
    });
    const error = await expectTrackstackError(
      () => resolveReferences({ t: '{{secret.mlflow.token}}' }, { env: {}, storeDir: tmp }),
      'CORRUPT_FILE',
    );
    expect(error.message).toContain(path);
    expect(error.message).not.toContain('12345');
  });

  it('refuses a secrets.json that is not JSON without quoting any of it, even in the cause', async () => {
    // A hand-edited file with an unquoted value: V8's SyntaxError message quotes
    // the text around the error, and Node prints an uncaught error's cause.
    const path = await write(
      SECRETS_FILE,
      '{"version": 1, "secrets": {"mlflow": {"token": sk-SECRET-123}}}',
    );
    const error = await expectTrackstackError(
      () => resolveReferences({ t: '{{secret.mlflow.token}}' }, { env: {}, storeDir: tmp }),
      'CORRUPT_FILE',
    );
    expect(error.message).toContain(path);
    const shown = [error.message, error.hint, inspect(error)].join('\n');
    expect(shown).not.toContain('sk-SECRET');
  });

  it('tells references apart from other values', () => {
    expect(hasReference('{{secret.mlflow.token}}')).toBe(true);
    expect(hasReference('https://{{ env.HOST }}/')).toBe(true);
    expect(hasReference('{{other.X}}')).toBe(false);
    expect(hasReference('{env.X}')).toBe(false);
    expect(hasReference('plain')).toBe(false);
    expect(hasReference(42)).toBe(false);
    // The check has no memory between calls (a global regex would).
    expect(hasReference('{{env.A}}')).toBe(true);
    expect(hasReference('{{env.A}}')).toBe(true);
  });
});

describe('getTracker', () => {
  function memoryRegistry(): FlavorRegistry {
    const registry = new FlavorRegistry();
    registry.register(resolveFlavor(InMemoryTracker));
    return registry;
  }

  it('is the local tracker when there is no trackers.json', async () => {
    const tracker = await getTracker({ storeDir: tmp, logger: silentLogger });
    expect(tracker.name).toBe('local');
    expect(tracker.storeDir).toBe(tmp);
    expect(tracker.flavor).toBe(LocalExperimentTracker.FLAVOR);
    expect(trackerBackends(tracker)).toEqual([]);
  });

  it('is the local tracker when no tracker is active', async () => {
    await write(TRACKERS_FILE, {
      version: 1,
      trackers: { idle: { flavor: 'memory', config: {} } },
      active: [],
    });
    const tracker = await getTracker({ storeDir: tmp, registry: memoryRegistry() });
    expect(tracker.flavor).toBe(LocalExperimentTracker.FLAVOR);
  });

  it('finds the store from cwd when no storeDir is given', async () => {
    await mkdir(join(tmp, STORE_DIR_NAME));
    await mkdir(join(tmp, 'src'));
    const tracker = await getTracker({ cwd: join(tmp, 'src'), logger: silentLogger });
    expect(tracker.storeDir).toBe(join(tmp, STORE_DIR_NAME));
  });

  it('builds the one active tracker with its config, references resolved', async () => {
    await write(TRACKERS_FILE, {
      version: 1,
      trackers: {
        ci: {
          flavor: 'memory',
          config: { backend: '{{env.MEM_BACKEND}}', max_metrics_per_batch: 10 },
        },
      },
      active: ['ci'],
    });
    const tracker = await getTracker({
      storeDir: tmp,
      registry: memoryRegistry(),
      env: { MEM_BACKEND: 'store-test' },
      logger: silentLogger,
    });
    const [backend] = trackerBackends(tracker);
    expect(backend).toBeInstanceOf(InMemoryTracker);
    expect(tracker.name).toBe('ci');
    expect(backend?.name).toBe('ci');
    expect(tracker.storeDir).toBe(tmp);
    expect((backend as InMemoryTracker).config).toEqual({
      backend: 'store-test',
      max_metrics_per_batch: 10,
      ordered_writes: false,
    });
    expect(backend?.limits.request.maxMetrics).toBe(10);
  });

  it('builds a named tracker instead of the active ones', async () => {
    await write(TRACKERS_FILE, {
      version: 1,
      trackers: {
        a: { flavor: 'memory', config: { backend: 'a' } },
        b: { flavor: 'memory', config: { backend: 'b' } },
      },
      active: ['a'],
    });
    const tracker = await getTracker({ storeDir: tmp, registry: memoryRegistry(), name: 'b' });
    expect(tracker.name).toBe('b');
    expect((trackerBackends(tracker)[0] as InMemoryTracker).config.backend).toBe('b');
  });

  it('makes a group of two active trackers', async () => {
    await write(TRACKERS_FILE, {
      version: 1,
      trackers: {
        first: { flavor: 'memory', config: { backend: 'one', ordered_writes: true } },
        second: { flavor: 'memory', config: { backend: 'two', max_metrics_per_batch: 7 } },
      },
      active: ['first', 'second'],
    });
    const tracker = await getTracker({ storeDir: tmp, registry: memoryRegistry() });
    expect(tracker.name).toBe('first+second');
    expect(tracker.storeDir).toBe(tmp);
    expect(tracker.flavor).toBeUndefined();
    expect(tracker.members).toEqual([
      { name: 'first', flavor: 'memory' },
      { name: 'second', flavor: 'memory' },
    ]);
    const backends = trackerBackends(tracker);
    expect(backends.every((m) => m instanceof InMemoryTracker)).toBe(true);
    expect(backends.map((b) => b.limits.request.maxMetrics)).toEqual([1000, 7]);
    expect(tracker.limits).toEqual(DEFAULT_LIMITS.logging);
  });

  it('refuses an unknown tracker name with a typed error', async () => {
    await write(TRACKERS_FILE, {
      version: 1,
      trackers: { ci: { flavor: 'memory', config: {} } },
      active: ['ci'],
    });
    const error = await expectTrackstackError(
      () => getTracker({ storeDir: tmp, registry: memoryRegistry(), name: 'nope' }),
      'UNKNOWN_TRACKER',
    );
    expect(error.message).toBe(`no tracker named 'nope' in ${tmp}`);
    expect(error.hint).toContain('trackstack experiment-tracker list');
  });

  it('refuses an active tracker that is not configured', async () => {
    await write(TRACKERS_FILE, { version: 1, trackers: {}, active: ['ghost'] });
    const error = await expectTrackstackError(
      () => getTracker({ storeDir: tmp, registry: memoryRegistry() }),
      'UNKNOWN_TRACKER',
    );
    expect(error.message).toContain("no tracker named 'ghost'");
  });

  it('refuses a tracker whose flavor is not registered', async () => {
    await write(TRACKERS_FILE, {
      version: 1,
      trackers: { prod: { flavor: 'mlflow', config: {} } },
      active: ['prod'],
    });
    const error = await expectTrackstackError(
      () => getTracker({ storeDir: tmp, registry: memoryRegistry() }),
      'UNKNOWN_FLAVOR',
    );
    expect(error.message).toBe("no flavor named 'mlflow'");
  });

  it('refuses a config that its flavor does not accept, without printing values', async () => {
    await write(TRACKERS_FILE, {
      version: 1,
      trackers: { ci: { flavor: 'memory', config: { backend: '{{secret.mem.key}}' } } },
      active: ['ci'],
    });
    await write(SECRETS_FILE, { version: 1, secrets: { mem: { key: 'sk-SECRET-123' } } });
    // A secret is fine where a string is expected...
    const ok = await getTracker({ storeDir: tmp, registry: memoryRegistry() });
    expect((trackerBackends(ok)[0] as InMemoryTracker).config.backend).toBe('sk-SECRET-123');
    // ...and a bad value is named by field, never shown.
    await write(TRACKERS_FILE, {
      version: 1,
      trackers: { ci: { flavor: 'memory', config: { ordered_writes: '{{secret.mem.key}}' } } },
      active: ['ci'],
    });
    const error = await expectTrackstackError(
      () => getTracker({ storeDir: tmp, registry: memoryRegistry() }),
      'INVALID_CONFIG',
    );
    expect(error.message).toContain('ordered_writes');
    expect(error.message).not.toContain('sk-SECRET-123');
  });

  it('refuses a corrupt trackers.json', async () => {
    await write(TRACKERS_FILE, 'not json');
    await expectTrackstackError(() => getTracker({ storeDir: tmp }), 'CORRUPT_FILE');
  });
});
