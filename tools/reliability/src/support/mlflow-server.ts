/**
 * `mlflow server` started by hand, for a backend store the harness does not offer
 * (PostgreSQL): the harness's flags (127.0.0.1, a free port, --artifacts-destination in a
 * temp dir, --workers 1, job execution off), its own process group, killed at exit.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, type PythonEnv } from '@trackstack/test-harness';
import { sleep } from './util.js';

export interface ManualMlflow {
  url: string;
  port: number;
  logs(): string;
  stop(): Promise<void>;
}

const groups = new Set<number>();
let exitHook = false;

function killGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

export async function startMlflowOn(
  env: PythonEnv,
  backendStoreUri: string,
  extraEnv: Record<string, string> = {},
  timeoutMs = 180_000,
): Promise<ManualMlflow> {
  const dir = await mkdtemp(join(tmpdir(), 'trackstack-mlflow-pg-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    env.bin('mlflow'),
    [
      'server',
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--backend-store-uri',
      backendStoreUri,
      '--artifacts-destination',
      join(dir, 'artifacts'),
      '--workers',
      '1',
    ],
    {
      cwd: dir,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false',
        PYTHONUNBUFFERED: '1',
        ...extraEnv,
      },
    },
  );
  let output = '';
  const append = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-200_000);
  };
  child.stdout.on('data', append);
  child.stderr.on('data', append);
  const pgid = child.pid!;
  groups.add(pgid);
  if (!exitHook) {
    exitHook = true;
    process.on('exit', () => {
      for (const group of groups) killGroup(group, 'SIGKILL');
    });
  }
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });

  const stop = async () => {
    if (!groups.has(pgid)) return;
    killGroup(pgid, 'SIGTERM');
    const deadline = Date.now() + 5_000;
    while (killGroup(pgid, 0) && Date.now() < deadline) await sleep(50);
    killGroup(pgid, 'SIGKILL');
    groups.delete(pgid);
    await rm(dir, { recursive: true, force: true });
  };

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) {
      await stop();
      throw new Error(`mlflow server exited before it was healthy:\n${output.slice(-4000)}`);
    }
    try {
      const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
      await response.arrayBuffer();
      if (response.status === 200) break;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`mlflow server not healthy after ${timeoutMs} ms:\n${output.slice(-4000)}`);
    }
    await sleep(250);
  }
  return { url, port, logs: () => output, stop };
}
