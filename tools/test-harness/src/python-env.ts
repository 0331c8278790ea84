import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import lockfile from 'proper-lockfile';
import { type RunOptions, type RunResult, run, tail } from './process.js';

/**
 * MLflow tracking server pinned for service tests (3.18.0's mlflow-skinny is not installable
 * everywhere). The `auth` extra (Flask-WTF) is what `--app-name basic-auth` needs to import.
 */
export const MLFLOW_REQUIREMENTS: readonly string[] = Object.freeze(['mlflow[auth]==3.17.2']);

/**
 * MLflow with an S3 artifact destination, served by moto's S3 on loopback: MLflow's
 * `mpu/create|complete|abort` (multipart uploads through presigned part URLs) only work
 * with a cloud artifact store. boto3 is what MLflow's S3 artifact repository calls.
 */
export const MLFLOW_S3_REQUIREMENTS: readonly string[] = Object.freeze([
  ...MLFLOW_REQUIREMENTS,
  'boto3==1.44.5',
  'moto[server]==5.2.5',
]);

/**
 * MLflow on PostgreSQL with an S3 artifact store: the S3 environment plus psycopg2 for
 * MLflow's SQLAlchemy store (2.9.10 ships manylinux wheels for CPython 3.9-3.13).
 */
export const MLFLOW_SCALE_REQUIREMENTS: readonly string[] = Object.freeze([
  ...MLFLOW_S3_REQUIREMENTS,
  'psycopg2-binary==2.9.10',
]);

/**
 * MLflow's client with psutil, which `start_run(log_system_metrics=True)` needs: the oracle
 * for the names, units and steps of system metrics.
 */
export const MLFLOW_SYSTEM_METRICS_REQUIREMENTS: readonly string[] = Object.freeze([
  ...MLFLOW_REQUIREMENTS,
  'psutil==7.2.2',
]);

/** The real W&B SDK, the oracle for the W&B wire format and offline files. */
export const WANDB_REQUIREMENTS: readonly string[] = Object.freeze(['wandb==0.30.0']);

/** The W&B SDK with Pillow and numpy, which `wandb.Image` and `wandb.Histogram` need: the media oracle. */
export const WANDB_MEDIA_REQUIREMENTS: readonly string[] = Object.freeze([
  ...WANDB_REQUIREMENTS,
  'pillow==13.0.0',
  'numpy==2.4.6',
]);

/**
 * TensorBoard and tensorboardX, the oracles of the TensorBoard flavor: tensorboardX writes
 * reference event files, TensorBoard's own loaders and server read ours back. numpy and
 * Pillow are what tensorboardX's `add_image`/`add_histogram` and the image checks need;
 * protobuf is pinned to the 6.x line both packages' generated code (6.31.1) was built for
 * (tensorboard 2.21 accepts `>=6.31.1,<8`). No setuptools pin: tensorboard asks for
 * `setuptools>=41`, which the venv's own setuptools satisfies, and never imports
 * `pkg_resources` (it finds plugins through `importlib.metadata`).
 */
export const TENSORBOARD_REQUIREMENTS: readonly string[] = Object.freeze([
  'tensorboard==2.21.0',
  'tensorboardX==2.6.5',
  'protobuf==6.33.6',
  'numpy==2.4.6',
  'pillow==13.0.0',
]);

export interface PythonEnv {
  /** Absolute path of the environment's Python interpreter. */
  python: string;
  /** Absolute path of a console script installed in the environment, e.g. `bin('mlflow')`. */
  bin(name: string): string;
  /** The environment's directory. */
  dir: string;
}

export interface EnsurePythonEnvOptions {
  /** A short name for the environment, part of its directory name (`[A-Za-z0-9._-]+`). */
  name: string;
  /** pip requirement specifiers; pin them so the cache key means something. */
  requirements: readonly string[];
  /** Root of the cache; defaults to TRACKSTACK_VENV_CACHE, else `${XDG_CACHE_HOME ?? ~/.cache}/trackstack/venvs`. */
  cacheDir?: string;
}

/** Written inside the environment only after pip succeeded; its absence means "half made". */
export const PYTHON_ENV_MARKER = '.trackstack-env.json';

let builds = 0;

/** How many environments this process has built (not reused) so far. */
export function pythonEnvBuilds(): number {
  return builds;
}

/** Where cached environments live: TRACKSTACK_VENV_CACHE, else `${XDG_CACHE_HOME ?? ~/.cache}/trackstack/venvs`. */
export function venvCacheRoot(): string {
  const override = process.env.TRACKSTACK_VENV_CACHE;
  if (override) return override;
  const cache = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  return join(cache, 'trackstack', 'venvs');
}

/** The interpreter used to create environments: TRACKSTACK_PYTHON, else `python3`. */
export function basePython(): string {
  return process.env.TRACKSTACK_PYTHON || 'python3';
}

/** The cache key of a requirement list: sha256 of the sorted specifiers, 12 hex digits. */
export function requirementsHash(requirements: readonly string[]): string {
  const sorted = [...requirements].map((r) => r.trim()).sort();
  return createHash('sha256').update(sorted.join('\n')).digest('hex').slice(0, 12);
}

function envFor(dir: string): PythonEnv {
  const binDir = process.platform === 'win32' ? join(dir, 'Scripts') : join(dir, 'bin');
  const exe = process.platform === 'win32' ? '.exe' : '';
  return {
    dir,
    python: join(binDir, `python${exe}`),
    bin: (name) => join(binDir, `${name}${exe}`),
  };
}

async function isReady(dir: string): Promise<boolean> {
  try {
    await readFile(join(dir, PYTHON_ENV_MARKER), 'utf8');
    return existsSync(envFor(dir).python);
  } catch {
    return false;
  }
}

/**
 * A cached virtual environment with `requirements` installed, built once per machine.
 *
 * Concurrent callers (vitest workers, turbo tasks) serialize on a cross-process lock, so the
 * environment is built by exactly one of them; the others wait and reuse it. A directory
 * without the marker file (an interrupted build) is deleted and rebuilt.
 */
export async function ensurePythonEnv(options: EnsurePythonEnvOptions): Promise<PythonEnv> {
  const { name, requirements } = options;
  if (!/^[A-Za-z0-9._-]+$/.test(name)) {
    throw new Error(`ensurePythonEnv: invalid name ${JSON.stringify(name)}`);
  }
  if (requirements.length === 0) throw new Error('ensurePythonEnv: no requirements');
  const root = options.cacheDir ?? venvCacheRoot();
  const dir = join(root, `${name}-${requirementsHash(requirements)}`);
  if (await isReady(dir)) return envFor(dir);

  await mkdir(root, { recursive: true });
  let compromised: Error | undefined;
  // The lock is a sibling directory `<dir>.lock`; it is refreshed every few seconds while
  // held, so a slow pip install never looks stale, and a crashed holder's lock is taken
  // over after `stale` ms.
  const release = await lockfile.lock(dir, {
    realpath: false,
    stale: 30_000,
    update: 5_000,
    // Up to ~10 minutes of waiting: pip can take a minute or more on a cold cache.
    retries: { retries: 600, factor: 1, minTimeout: 1_000, maxTimeout: 1_000 },
    onCompromised: (err) => {
      compromised = err;
    },
  });
  try {
    if (await isReady(dir)) return envFor(dir);
    await build(dir, name, requirements);
    if (compromised) {
      process.stderr.write(
        `[trackstack test-harness] warning: lock on ${dir} was compromised: ${compromised.message}\n`,
      );
    }
    return envFor(dir);
  } finally {
    await release().catch(() => {});
  }
}

async function build(dir: string, name: string, requirements: readonly string[]): Promise<void> {
  builds += 1;
  process.stderr.write(
    `[trackstack test-harness] provisioning python env ${name} (one-time, ~1 min): ${requirements.join(' ')} -> ${dir}\n`,
  );
  await rm(dir, { recursive: true, force: true });
  const env = { ...process.env };
  delete env.VIRTUAL_ENV;
  delete env.PYTHONHOME;
  try {
    await check(basePython(), ['-m', 'venv', dir], { env }, 'create the virtual environment');
    const py = envFor(dir).python;
    await check(
      py,
      ['-m', 'pip', 'install', '--disable-pip-version-check', '-q', ...requirements],
      { env },
      `pip install ${requirements.join(' ')}`,
    );
    const version = (await run(py, ['-c', 'import sys; print(sys.version.split()[0])'], { env }))
      .stdout;
    await writeFile(
      join(dir, PYTHON_ENV_MARKER),
      `${JSON.stringify(
        { requirements, python: version.trim(), createdAt: new Date().toISOString() },
        null,
        2,
      )}\n`,
    );
  } catch (err) {
    await rm(dir, { recursive: true, force: true }).catch(() => {});
    throw err;
  }
}

async function check(
  command: string,
  args: string[],
  options: RunOptions,
  what: string,
): Promise<RunResult> {
  let result: RunResult;
  try {
    result = await run(command, args, options);
  } catch (err) {
    throw new Error(
      `could not ${what}: ${command} failed to start (${(err as Error).message}). ` +
        'Set TRACKSTACK_PYTHON to a Python 3.10+ interpreter.',
    );
  }
  if (result.code !== 0) {
    throw new Error(
      `could not ${what} (exit ${result.code}):\n${tail(result.stderr || result.stdout)}`,
    );
  }
  return result;
}

export interface RunPythonOptions {
  /** Extra environment variables (merged over the current process environment). */
  env?: Record<string, string>;
  /** Text written to the script's standard input. */
  input?: string;
  cwd?: string;
}

/** Runs a Python file with the environment's interpreter; resolves with its output and exit code. */
export function runPython(
  env: Pick<PythonEnv, 'python'>,
  script: string,
  args: string[] = [],
  options: RunPythonOptions = {},
): Promise<RunResult> {
  return run(env.python, [script, ...args], {
    env: { ...process.env, ...options.env },
    input: options.input,
    cwd: options.cwd,
  });
}
