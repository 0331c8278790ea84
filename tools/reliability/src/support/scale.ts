/**
 * The scale-out path driven from one place (the scale test; bench/scale.mjs runs the same
 * clients): N client processes (fixtures/scale-child.mjs) logging to one MLflow server at
 * once, each its own run ("separate"), or each its shard of one run ("shard": the first
 * client owns and ends the run, the others attach to it by its uid).
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FIXTURES, runNode } from './util.js';

interface ScaleClientReport {
  uid: string;
  runId: string | undefined;
  pending: number;
  errors: string[];
  cpuMs: number;
  loggedMs: number;
  seconds: number;
  /** What the run and tracker told the user ("warn: ..." / "info: ..."), in order. */
  messages: string[];
}

export interface ScaleRound {
  mode: 'separate' | 'shard';
  clients: number;
  pointsPerClient: number;
  /** Spawn of the first client to the exit of the last. */
  seconds: number;
  reports: ScaleClientReport[];
  /** The shared run's uid (shard mode). */
  sharedUid: string | undefined;
}

export async function scaleRound(options: {
  trackingUri: string;
  experiment: string;
  mode: 'separate' | 'shard';
  clients: number;
  points: number;
  keys: number;
  storeDir: string;
  endTimeoutMs?: number;
}): Promise<ScaleRound> {
  const rendezvous = await mkdtemp(join(tmpdir(), 'trackstack-scale-rendezvous-'));
  const sharedUid = options.mode === 'shard' ? randomUUID() : undefined;
  const started = performance.now();
  try {
    const reports = await Promise.all(
      Array.from({ length: options.clients }, (_, index) =>
        client(options, index, sharedUid, rendezvous),
      ),
    );
    return {
      mode: options.mode,
      clients: options.clients,
      pointsPerClient: options.points,
      seconds: (performance.now() - started) / 1000,
      reports,
      sharedUid,
    };
  } finally {
    await rm(rendezvous, { recursive: true, force: true });
  }
}

async function client(
  options: Parameters<typeof scaleRound>[0],
  index: number,
  sharedUid: string | undefined,
  rendezvous: string,
): Promise<ScaleClientReport> {
  const result = await runNode(
    [
      join(FIXTURES, 'scale-child.mjs'),
      options.trackingUri,
      options.experiment,
      String(index),
      options.storeDir,
    ],
    {
      env: {
        SCALE_POINTS: String(options.points),
        SCALE_KEYS: String(options.keys),
        SCALE_CLIENTS: String(options.clients),
        ...(sharedUid === undefined
          ? {}
          : {
              SCALE_RUN_ID: sharedUid,
              SCALE_OWNER: index === 0 ? '1' : '0',
              SCALE_RENDEZVOUS: rendezvous,
            }),
        ...(options.endTimeoutMs === undefined
          ? {}
          : { SCALE_END_TIMEOUT_MS: String(options.endTimeoutMs) }),
      },
      // A bound on the process, beyond any wait of its own.
      timeoutMs: (options.endTimeoutMs ?? 0) + 300_000,
    },
  );
  if (result.code !== 0) {
    throw new Error(
      `scale client ${index} exited ${result.code ?? result.signal}: ${result.stderr.slice(-2000)}`,
    );
  }
  return JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '') as ScaleClientReport;
}
