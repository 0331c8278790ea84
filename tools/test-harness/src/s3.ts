import { delay, type ManagedChild, spawnManaged } from './children.js';
import { freePort } from './free-port.js';
import { tail } from './process.js';
import { ensurePythonEnv, MLFLOW_S3_REQUIREMENTS, type PythonEnv } from './python-env.js';

/** Fake credentials moto accepts (it checks no signature); also what boto3 needs to sign at all. */
export const S3_FAKE_CREDENTIALS = Object.freeze({
  AWS_ACCESS_KEY_ID: 'trackstack-test',
  AWS_SECRET_ACCESS_KEY: 'trackstack-test-secret',
  AWS_DEFAULT_REGION: 'us-east-1',
});

export interface S3Server {
  /** `http://127.0.0.1:<port>`, no trailing slash: the S3 endpoint (path-style). */
  url: string;
  port: number;
  /** The Python environment moto (and MLflow with boto3) runs from. */
  env: PythonEnv;
  /** Creates a bucket (us-east-1, no body). */
  createBucket(name: string): Promise<void>;
  /**
   * Environment variables for an S3 client (MLflow's server, boto3) of this store:
   * `MLFLOW_S3_ENDPOINT_URL` (`endpoint`, default {@link url}, e.g. a fault proxy in front)
   * and fake AWS credentials.
   */
  clientEnv(endpoint?: string): Record<string, string>;
  /** Kills moto's process group (SIGTERM, SIGKILL after 5 s). */
  stop(): Promise<void>;
  /** moto's output so far (last ~256 KiB). */
  logs(): string;
}

/** The cached Python environment with MLflow, boto3 and moto ({@link MLFLOW_S3_REQUIREMENTS}). */
export function ensureMlflowS3Env(): Promise<PythonEnv> {
  return ensurePythonEnv({ name: 'mlflow-s3', requirements: MLFLOW_S3_REQUIREMENTS });
}

/**
 * Starts moto's S3 server (`moto_server`, pinned, from PyPI) on 127.0.0.1 on a free port:
 * a real S3 wire protocol (multipart uploads, presigned URLs, ETags) with state in memory.
 */
export async function startS3Server(options: { startTimeoutMs?: number } = {}): Promise<S3Server> {
  const env = await ensureMlflowS3Env();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const proc: ManagedChild = spawnManaged(
    env.bin('moto_server'),
    ['-H', '127.0.0.1', '-p', String(port)],
    {
      env: { ...process.env, ...S3_FAKE_CREDENTIALS, PYTHONUNBUFFERED: '1' },
    },
  );
  try {
    await waitForS3(url, proc, options.startTimeoutMs ?? 60_000);
  } catch (err) {
    await proc.kill();
    throw err;
  }
  return {
    url,
    port,
    env,
    async createBucket(name) {
      const res = await fetch(`${url}/${encodeURIComponent(name)}`, { method: 'PUT' });
      const body = await res.text();
      if (res.status !== 200) throw new Error(`S3 CreateBucket ${name}: ${res.status} ${body}`);
    },
    clientEnv: (endpoint = url) => ({ MLFLOW_S3_ENDPOINT_URL: endpoint, ...S3_FAKE_CREDENTIALS }),
    stop: () => proc.kill(),
    logs: () => proc.output(),
  };
}

async function waitForS3(url: string, proc: ManagedChild, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (proc.hasExited) {
      const code = proc.child.exitCode ?? proc.child.signalCode;
      throw new Error(
        `moto_server exited (${code}) before it answered. Log tail:\n${tail(proc.output())}`,
      );
    }
    try {
      const res = await fetch(`${url}/moto-api/`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer().catch(() => undefined);
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() >= deadline) {
      throw new Error(
        `moto_server at ${url} not answering after ${Math.round(timeoutMs / 1000)} s. Log tail:\n${tail(proc.output())}`,
      );
    }
    await delay(200);
  }
}
