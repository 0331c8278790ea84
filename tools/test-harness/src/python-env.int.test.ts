import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ensurePythonEnv,
  PYTHON_ENV_MARKER,
  pythonEnvBuilds,
  requirementsHash,
  runPython,
  venvCacheRoot,
} from './python-env.js';

const SIX = { name: 'six', requirements: ['six==1.16.0'] };

let cache: string;
const saved = process.env.TRACKSTACK_VENV_CACHE;

beforeAll(async () => {
  cache = await mkdtemp(join(tmpdir(), 'trackstack-venvs-'));
  process.env.TRACKSTACK_VENV_CACHE = cache;
});

afterAll(async () => {
  if (saved === undefined) delete process.env.TRACKSTACK_VENV_CACHE;
  else process.env.TRACKSTACK_VENV_CACHE = saved;
  await rm(cache, { recursive: true, force: true });
});

describe('venvCacheRoot / requirementsHash', () => {
  it('honours TRACKSTACK_VENV_CACHE, then XDG_CACHE_HOME, then ~/.cache', () => {
    expect(venvCacheRoot()).toBe(cache);
    const xdg = process.env.XDG_CACHE_HOME;
    try {
      delete process.env.TRACKSTACK_VENV_CACHE;
      process.env.XDG_CACHE_HOME = '/x/cache';
      expect(venvCacheRoot()).toBe('/x/cache/trackstack/venvs');
      delete process.env.XDG_CACHE_HOME;
      expect(venvCacheRoot()).toBe(join(homedir(), '.cache', 'trackstack', 'venvs'));
    } finally {
      process.env.TRACKSTACK_VENV_CACHE = cache;
      if (xdg === undefined) delete process.env.XDG_CACHE_HOME;
      else process.env.XDG_CACHE_HOME = xdg;
    }
  });

  it('hashes the sorted requirements to 12 hex digits', () => {
    expect(requirementsHash(['b==1', 'a==2'])).toBe(requirementsHash(['a==2', 'b==1']));
    expect(requirementsHash(['a==2'])).toMatch(/^[0-9a-f]{12}$/);
    expect(requirementsHash(['a==2'])).not.toBe(requirementsHash(['a==3']));
  });
});

describe('ensurePythonEnv', () => {
  it('builds once for two concurrent callers, under the cache root', async () => {
    const before = pythonEnvBuilds();
    const [a, b] = await Promise.all([ensurePythonEnv(SIX), ensurePythonEnv(SIX)]);
    expect(pythonEnvBuilds() - before).toBe(1);
    expect(a.dir).toBe(b.dir);
    expect(a.dir).toBe(join(cache, `six-${requirementsHash(SIX.requirements)}`));
    expect(a.python).toBe(join(a.dir, 'bin', 'python'));
    expect(a.bin('pip')).toBe(join(a.dir, 'bin', 'pip'));
    expect(existsSync(a.python)).toBe(true);
    const marker = JSON.parse(await readFile(join(a.dir, PYTHON_ENV_MARKER), 'utf8'));
    expect(marker.requirements).toEqual(['six==1.16.0']);
    // The lock is released (proper-lockfile's `<dir>.lock` is gone).
    expect(existsSync(`${a.dir}.lock`)).toBe(false);
  }, 180_000);

  it('reuses a built environment quickly', async () => {
    const before = pythonEnvBuilds();
    const started = performance.now();
    const env = await ensurePythonEnv({ name: 'six', requirements: ['six==1.16.0'] });
    expect(performance.now() - started).toBeLessThan(500);
    expect(pythonEnvBuilds()).toBe(before);
    expect(env.dir).toBe(join(cache, `six-${requirementsHash(SIX.requirements)}`));
  });

  it('deletes and rebuilds a half-made environment (no marker)', async () => {
    const env = await ensurePythonEnv(SIX);
    await unlink(join(env.dir, PYTHON_ENV_MARKER));
    await writeFile(join(env.dir, 'leftover'), 'from an interrupted build');
    const before = pythonEnvBuilds();
    const again = await ensurePythonEnv(SIX);
    expect(pythonEnvBuilds() - before).toBe(1);
    expect(again.dir).toBe(env.dir);
    expect(existsSync(join(env.dir, PYTHON_ENV_MARKER))).toBe(true);
    expect(existsSync(join(env.dir, 'leftover'))).toBe(false);
  }, 180_000);

  it('fails with pip’s message and leaves nothing behind when a requirement cannot install', async () => {
    const bad = { name: 'bad', requirements: ['trackstack-no-such-package-xyz==0.0.1'] };
    await expect(ensurePythonEnv(bad)).rejects.toThrow(/could not pip install/);
    expect(existsSync(join(cache, `bad-${requirementsHash(bad.requirements)}`))).toBe(false);
  }, 180_000);

  it('rejects odd names', async () => {
    await expect(ensurePythonEnv({ name: '../x', requirements: ['six'] })).rejects.toThrow(
      /invalid name/,
    );
  });
});

describe('runPython', () => {
  it('runs a file with the environment’s interpreter, args, env and stdin', async () => {
    const env = await ensurePythonEnv(SIX);
    const script = join(cache, 'probe.py');
    await writeFile(
      script,
      [
        'import json, os, sys, six',
        'data = sys.stdin.read()',
        'print(json.dumps({"exe": sys.executable, "args": sys.argv[1:], "six": six.__version__,',
        '                  "env": os.environ.get("PROBE"), "stdin": data}))',
        'print("to stderr", file=sys.stderr)',
        'sys.exit(3)',
      ].join('\n'),
    );
    const result = await runPython(env, script, ['a b', '--flag'], {
      env: { PROBE: 'yes' },
      input: 'hello\n',
    });
    expect(result.code).toBe(3);
    expect(result.stderr).toContain('to stderr');
    const out = JSON.parse(result.stdout);
    expect(out).toEqual({
      exe: env.python,
      args: ['a b', '--flag'],
      six: '1.16.0',
      env: 'yes',
      stdin: 'hello\n',
    });
  }, 60_000);
});
