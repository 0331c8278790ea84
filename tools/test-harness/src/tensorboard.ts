import { delay, type ManagedChild, spawnManaged } from './children.js';
import { freePort } from './free-port.js';
import { tail } from './process.js';
import { ensurePythonEnv, type PythonEnv, TENSORBOARD_REQUIREMENTS } from './python-env.js';

export interface TensorboardServerOptions {
  /** The directory TensorBoard watches (`--logdir`); every directory under it with an event file is a run. */
  logdir: string;
  /** The Python environment to run TensorBoard from (default {@link ensureTensorboardEnv}). */
  pythonEnv?: PythonEnv;
  /**
   * `--load_fast`: `'auto'` (TensorBoard's default, and ours) reads the logdir with the Rust
   * data server shipped in `tensorboard-data-server`; `'false'` with the Python
   * `EventAccumulator` path. They differ on damaged files: the Rust reader does not check a
   * record's data CRC unless the proto fails to parse, the Python reader stops at a bad CRC.
   */
  loadFast?: 'auto' | 'true' | 'false';
  /**
   * `--samples_per_plugin`, e.g. `{ scalars: 0, images: 0 }` (0 keeps every point). Without it
   * TensorBoard keeps a reservoir sample per tag (scalars 1000, images 10, text 10 or 100, ...).
   */
  samplesPerPlugin?: Record<string, number>;
  /** Extra `tensorboard` arguments, appended last (a repeated flag overrides the harness's). */
  extraArgs?: string[];
  /** How long to wait for `GET /data/runs` (default 120 s). */
  startTimeoutMs?: number;
}

export interface TensorboardServer {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  url: string;
  port: number;
  /** The Python environment TensorBoard runs from. */
  env: PythonEnv;
  /** `GET url + path` (or `POST` with a JSON body), the answer parsed as JSON; throws on a non-2xx status. */
  json<T = unknown>(path: string, body?: unknown): Promise<T>;
  /**
   * Polls {@link json} until `until(answer)` holds (TensorBoard loads the logdir in the
   * background, every `--reload_interval` = 1 s); resolves with that answer, rejects with the
   * last one after `timeoutMs` (default 30 s).
   */
  waitForJson<T = unknown>(
    path: string,
    until: (answer: T) => boolean,
    options?: { body?: unknown; timeoutMs?: number },
  ): Promise<T>;
  /** Kills the server's process group (SIGTERM, SIGKILL after 5 s), the data server with it; idempotent. */
  stop(): Promise<void>;
  /** The server's output so far (last ~256 KiB). */
  logs(): string;
}

/** The cached Python environment with the pinned TensorBoard and tensorboardX ({@link TENSORBOARD_REQUIREMENTS}). */
export function ensureTensorboardEnv(): Promise<PythonEnv> {
  return ensurePythonEnv({ name: 'tensorboard', requirements: TENSORBOARD_REQUIREMENTS });
}

/**
 * Starts the real TensorBoard on 127.0.0.1 over `logdir`
 * (`tensorboard --logdir <dir> --host 127.0.0.1 --port <free> --reload_interval 1`) and
 * resolves once `GET /data/runs` answers 200. That is before the first load has finished:
 * wait for the runs you expect with `waitForJson('/data/runs', ...)`. The Rust data server
 * that `--load_fast auto` starts is bound to 127.0.0.1 too.
 */
export async function startTensorboard(
  options: TensorboardServerOptions,
): Promise<TensorboardServer> {
  const env = options.pythonEnv ?? (await ensureTensorboardEnv());
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const args = [
    '--logdir',
    options.logdir,
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--reload_interval',
    '1',
    '--load_fast',
    options.loadFast ?? 'auto',
    // The data server's gRPC port (chosen by itself) on 127.0.0.1 rather than `localhost`.
    '--extra_data_server_flags=--host=127.0.0.1',
  ];
  const samples = Object.entries(options.samplesPerPlugin ?? {});
  if (samples.length > 0) {
    args.push('--samples_per_plugin', samples.map(([k, v]) => `${k}=${v}`).join(','));
  }
  args.push(...(options.extraArgs ?? []));
  const childEnv: NodeJS.ProcessEnv = { ...process.env, PYTHONUNBUFFERED: '1' };
  const proc = spawnManaged(env.bin('tensorboard'), args, { env: childEnv });
  try {
    await waitForRuns(url, proc, options.startTimeoutMs ?? 120_000);
  } catch (err) {
    await proc.kill();
    throw err;
  }

  const json = async <T>(path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${url}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: body === undefined ? undefined : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    if (!res.ok) {
      throw new Error(`TensorBoard ${path}: HTTP ${res.status}: ${text.slice(0, 500)}`);
    }
    return JSON.parse(text) as T;
  };

  let stopped: Promise<void> | undefined;
  return {
    url,
    port,
    env,
    json,
    async waitForJson<T>(
      path: string,
      until: (answer: T) => boolean,
      opts: { body?: unknown; timeoutMs?: number } = {},
    ): Promise<T> {
      const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
      let last: unknown;
      for (;;) {
        try {
          const answer = await json<T>(path, opts.body);
          if (until(answer)) return answer;
          last = answer;
        } catch (err) {
          last = err instanceof Error ? err.message : err;
        }
        if (proc.hasExited) {
          throw new Error(
            `TensorBoard exited while waiting for ${path}. Log tail:\n${tail(proc.output())}`,
          );
        }
        if (Date.now() >= deadline) {
          throw new Error(
            `TensorBoard ${path}: condition not met in time; last answer: ${JSON.stringify(last)?.slice(0, 1000)}`,
          );
        }
        await delay(250);
      }
    },
    logs: () => proc.output(),
    stop() {
      stopped ??= proc.kill();
      return stopped;
    },
  };
}

async function waitForRuns(url: string, proc: ManagedChild, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.hasExited) {
      const code = proc.child.exitCode ?? proc.child.signalCode;
      throw new Error(
        `TensorBoard exited (${code}) before it answered /data/runs. Log tail:\n${tail(proc.output())}`,
      );
    }
    try {
      const res = await fetch(`${url}/data/runs`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer().catch(() => undefined);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() >= deadline) {
      throw new Error(
        `TensorBoard at ${url} did not answer /data/runs after ${Math.round(timeoutMs / 1000)} s. Log tail:\n${tail(proc.output())}`,
      );
    }
    await delay(200);
  }
}
