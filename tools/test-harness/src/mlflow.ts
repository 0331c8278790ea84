import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { delay, type ManagedChild, removeAtExit, spawnManaged } from './children.js';
import { freePort } from './free-port.js';
import { tail } from './process.js';
import { ensurePythonEnv, MLFLOW_REQUIREMENTS, type PythonEnv } from './python-env.js';

/**
 * The admin user the basic-auth app creates on first start (`admin_username` in MLflow's
 * `mlflow/server/auth/basic_auth.ini`; the harness writes its own copy with the same name).
 */
export const MLFLOW_ADMIN_USERNAME = 'admin';

export interface MlflowServerOptions {
  /**
   * Start the basic-auth app (`--app-name basic-auth`) with admin user
   * {@link MLFLOW_ADMIN_USERNAME} / `adminPassword` (MLflow requires 12+ characters).
   */
  auth?: {
    adminPassword: string;
    /** Permission every user has on resources they did not create (default `READ`). */
    defaultPermission?: 'READ' | 'EDIT' | 'MANAGE' | 'NO_PERMISSIONS';
  };
  /** Extra environment variables for the server, over the harness defaults. */
  env?: Record<string, string>;
  /**
   * Where the server keeps proxied artifacts (`--artifacts-destination`), e.g.
   * `s3://bucket/prefix` with {@link startS3Server}'s `clientEnv()` in `env`; default a
   * directory in the server's temp dir.
   */
  artifactsDestination?: string;
  /**
   * The Python environment to run MLflow from (default {@link ensureMlflowEnv}); an S3
   * destination needs boto3 in it ({@link ensureMlflowS3Env}).
   */
  pythonEnv?: PythonEnv;
  /** Extra `mlflow server` arguments, appended last (a repeated option overrides the harness's). */
  extraArgs?: string[];
  /** How long to wait for `/health` (default 120 s). */
  startTimeoutMs?: number;
}

export interface MlflowServer {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  url: string;
  port: number;
  /** Temp directory holding `mlflow.db`, `artifacts/` (and the auth files); removed by `stop()`. */
  dir: string;
  /** The Python environment MLflow runs from. */
  env: PythonEnv;
  /** Admin credentials when started with `auth`. */
  auth: { username: string; password: string } | undefined;
  /** Kills the server's process group (SIGTERM, SIGKILL after 5 s) and deletes `dir`. */
  stop(): Promise<void>;
  /** Stops the process (keeping `dir` and the database) and starts it again on the same port. */
  restart(): Promise<void>;
  /** The server's output so far (last ~256 KiB). */
  logs(): string;
  /**
   * The process ids of the server's uvicorn workers now (uvicorn spawns them through
   * multiprocessing, and starts a new one when one dies).
   */
  workerPids(): number[];
}

/** The cached Python environment with the pinned MLflow ({@link MLFLOW_REQUIREMENTS}). */
export function ensureMlflowEnv(): Promise<PythonEnv> {
  return ensurePythonEnv({ name: 'mlflow', requirements: MLFLOW_REQUIREMENTS });
}

/** `Basic base64(user:password)`, for an `Authorization` header. */
export function basicAuthHeader(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

/**
 * Starts a real MLflow tracking server on 127.0.0.1 (SQLite backend, proxied artifacts in a
 * temp directory) and resolves once `GET /health` answers 200.
 */
export async function startMlflowServer(options: MlflowServerOptions = {}): Promise<MlflowServer> {
  const { auth } = options;
  if (auth && auth.adminPassword.length < 12) {
    throw new Error(
      'startMlflowServer: MLflow requires an admin password of at least 12 characters',
    );
  }
  const env = options.pythonEnv ?? (await ensureMlflowEnv());
  const dir = await mkdtemp(join(tmpdir(), 'trackstack-mlflow-'));
  const cleanupAtExit = removeAtExit(dir);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const args = [
    'server',
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--backend-store-uri',
    `sqlite:///${join(dir, 'mlflow.db')}`,
    '--artifacts-destination',
    options.artifactsDestination ?? join(dir, 'artifacts'),
    '--workers',
    '1',
  ];
  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    // Server-side job execution (GenAI scorers etc.) spawns huey consumers and a /dev/shm
    // queue per start; nothing in trackstack uses it.
    MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false',
    PYTHONUNBUFFERED: '1',
  };
  if (auth) {
    args.push('--app-name', 'basic-auth');
    // Our own copy of basic_auth.ini: the shipped one keeps its user database at the
    // relative path `sqlite:///basic_auth.db`, i.e. in whatever the working directory is.
    const configPath = join(dir, 'basic_auth.ini');
    await writeFile(
      configPath,
      [
        '[mlflow]',
        `default_permission = ${auth.defaultPermission ?? 'READ'}`,
        `database_uri = sqlite:///${join(dir, 'basic_auth.db')}`,
        `admin_username = ${MLFLOW_ADMIN_USERNAME}`,
        'authorization_function = mlflow.server.auth:authenticate_request_basic_auth',
        '',
      ].join('\n'),
    );
    childEnv.MLFLOW_AUTH_CONFIG_PATH = configPath;
    childEnv.MLFLOW_AUTH_ADMIN_USERNAME = MLFLOW_ADMIN_USERNAME;
    childEnv.MLFLOW_AUTH_ADMIN_PASSWORD = auth.adminPassword;
    childEnv.MLFLOW_FLASK_SERVER_SECRET_KEY = randomBytes(16).toString('hex');
  }
  Object.assign(childEnv, options.env);
  args.push(...(options.extraArgs ?? []));
  const timeoutMs = options.startTimeoutMs ?? 120_000;

  let proc: ManagedChild | undefined;
  let previousLogs = '';
  let stopped = false;

  const launch = async () => {
    proc = spawnManaged(env.bin('mlflow'), args, { cwd: dir, env: childEnv, orphanDir: dir });
    try {
      await waitForHealth(url, proc, timeoutMs);
    } catch (err) {
      await proc.kill();
      throw err;
    }
  };
  const halt = async () => {
    if (!proc) return;
    const p = proc;
    proc = undefined;
    await p.kill();
    previousLogs += p.output();
  };

  try {
    await launch();
  } catch (err) {
    await halt();
    await rm(dir, { recursive: true, force: true });
    cleanupAtExit.keep();
    throw err;
  }

  return {
    url,
    port,
    dir,
    env,
    auth: auth ? { username: MLFLOW_ADMIN_USERNAME, password: auth.adminPassword } : undefined,
    logs: () => previousLogs + (proc?.output() ?? ''),
    async stop() {
      if (stopped) return;
      stopped = true;
      await halt();
      await rm(dir, { recursive: true, force: true });
      cleanupAtExit.keep();
    },
    workerPids: () => (proc ? uvicornWorkers(proc.child.pid!) : []),
    async restart() {
      if (stopped) throw new Error('MlflowServer.restart: the server was stopped');
      await halt();
      previousLogs += '\n[test-harness] --- restart ---\n';
      await launch();
    },
  };
}

async function waitForHealth(url: string, proc: ManagedChild, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.hasExited) {
      const code = proc.child.exitCode ?? proc.child.signalCode;
      throw new Error(
        `MLflow server exited (${code}) before it became healthy. Log tail:\n${tail(proc.output())}`,
      );
    }
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer().catch(() => undefined);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() >= deadline) {
      throw new Error(
        `MLflow server at ${url} not healthy after ${Math.round(timeoutMs / 1000)} s. Log tail:\n${tail(proc.output())}`,
      );
    }
    await delay(200);
  }
}

/** The descendants of `root` that are multiprocessing's spawned children (uvicorn's workers). */
function uvicornWorkers(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    const pid = Number(name);
    if (!Number.isInteger(pid)) continue;
    try {
      // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ')'.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), pid]);
    } catch {
      // the process ended while we looked
    }
  }
  const workers: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const pid of children.get(queue.shift()!) ?? []) {
      queue.push(pid);
      try {
        if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('multiprocessing.spawn')) {
          workers.push(pid);
        }
      } catch {
        // gone
      }
    }
  }
  return workers;
}
