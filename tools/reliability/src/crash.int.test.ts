/**
 * Promise: nothing accepted is lost; after a kill, `trackstack sync` delivers it; replays do
 * not duplicate data in the backend.
 *
 * A child process logs a run to a real MLflow server (through a fault proxy that refuses most
 * log-batch requests, so that much is still undelivered) and is SIGKILLed mid-run. The built
 * CLI's `trackstack sync <uid>` must then deliver exactly what the journal holds (everything
 * up to the last flush), mark the run KILLED, and a second sync must change nothing.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import {
  type FaultProxy,
  MlflowOracle,
  type MlflowServer,
  startFaultProxy,
  startMlflowServer,
} from '@trackstack/test-harness';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  FIXTURES,
  PACKAGE_DIR,
  readJournal,
  recordFigures,
  round,
  runCli,
} from './support/util.js';

let server: MlflowServer;
let proxy: FaultProxy;
let oracle: MlflowOracle;
let work: string;

beforeAll(async () => {
  server = await startMlflowServer();
  proxy = await startFaultProxy(server.url);
  oracle = new MlflowOracle(server.env.python, server.url);
  work = await mkdtemp(join(tmpdir(), 'trackstack-crash-'));
});

afterAll(async () => {
  oracle?.close();
  await proxy?.close();
  await server?.stop();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

describe('a SIGKILLed run', () => {
  it('is delivered by `trackstack sync` up to the last journal flush, ends KILLED, and a second sync changes nothing', async () => {
    const store = join(work, 'store');
    const env = { TRACKSTACK_HOME: store, TRACKSTACK_LOG: 'warn' };
    const registered = await runCli(
      [
        'experiment-tracker',
        'register',
        'prod',
        '--flavor',
        'mlflow',
        `--tracking_uri=${proxy.url}`,
        '--request_timeout_s=5',
        '--set',
      ],
      { env },
    );
    expect(registered.code, registered.stderr).toBe(0);

    // Most writes are refused while the child lives: much of the run is only in the journal.
    proxy.randomFaults({ rate: 0.7, seed: 1234, match: /log-batch/, kinds: [{ status: 503 }] });
    const child = spawn(process.execPath, [join(FIXTURES, 'crash-child.mjs')], {
      cwd: PACKAGE_DIR,
      env: { ...process.env, ...env, CRASH_EXPERIMENT: 'crash' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('exit', (_code, signal) => resolve(signal)),
    );
    let uid: string | undefined;
    let lastReport = { step: 0, points: 0 };
    for await (const line of createInterface({ input: child.stdout })) {
      const message = JSON.parse(line) as { uid?: string; step?: number; points?: number };
      if (message.uid !== undefined) uid = message.uid;
      if (message.step !== undefined) lastReport = { step: message.step, points: message.points! };
      if (lastReport.step >= 20_000) {
        child.kill('SIGKILL');
        break;
      }
    }
    expect(await exited, stderr).toBe('SIGKILL');
    expect(uid).toBeDefined();
    proxy.randomFaults(null);

    const runDir = join(store, 'runs', uid!);
    const journal = await readJournal(runDir);
    const meta = JSON.parse(await readFile(join(runDir, 'run.json'), 'utf8'));
    expect(meta.status).toBe('RUNNING');
    expect(journal.ends).toEqual([]);
    const journaled = journal.points.get('loss')?.length ?? 0;
    expect(journaled).toBeGreaterThan(10_000);
    expect(journal.points.get('acc')).toHaveLength(journaled);
    // Up to the last flush: a prefix of what the child logged, with no hole.
    expect(journal.points.get('loss')).toEqual(Array.from({ length: journaled }, (_, i) => i));

    const [runId] = await oracle.find('crash', uid!);
    expect(runId, 'the run was created live').toBeDefined();
    const beforeSync = await oracle.run(runId!);
    const deliveredLive = beforeSync.metrics.loss?.count ?? 0;
    expect(deliveredLive).toBeLessThan(journaled);

    const sync = await runCli(['sync', uid!, '--json'], { env });
    expect(sync.code, sync.stderr).toBe(0);
    const report = (
      JSON.parse(sync.stdout) as {
        delivered: number;
        total: number;
        pendingEvents: number;
        markedAs?: string;
        finished: boolean;
        errors: unknown[];
      }[]
    )[0]!;
    expect(report).toMatchObject({
      pendingEvents: 0,
      markedAs: 'KILLED',
      finished: true,
      errors: [],
    });

    const afterSync = await oracle.run(runId!);
    expect(afterSync.status).toBe('KILLED');
    expect(afterSync.end_time).toEqual(expect.any(Number));
    for (const key of ['loss', 'acc']) {
      const steps = journal.points.get(key)!;
      expect(afterSync.metrics[key], key).toEqual({
        count: steps.length,
        distinct_steps: steps.length,
        duplicates: 0,
        min_step: 0,
        max_step: Math.max(...steps),
      });
    }
    expect(afterSync.params).toEqual({ lr: '0.1', seed: '7', 'model.depth': '4' });
    expect(afterSync.tags).toMatchObject({ kind: 'crash-test', 'trackstack.uid': uid });
    expect(await oracle.find('crash', uid!)).toEqual([runId]);

    // A second sync sends nothing and changes nothing.
    const again = await runCli(['sync', uid!, '--json'], { env });
    expect(again.code, again.stderr).toBe(0);
    const [second] = JSON.parse(again.stdout) as { delivered: number; total: number }[];
    expect(second).toMatchObject({ delivered: 0, total: 0 });
    expect(await oracle.run(runId!)).toEqual(afterSync);
    const shown = await runCli(['runs', 'show', uid!, '--json'], { env });
    expect(JSON.parse(shown.stdout)).toMatchObject({ status: 'KILLED' });

    await recordFigures('crash', {
      childStepsReported: lastReport.step,
      childPointsReported: lastReport.points,
      pointsJournaled: journaled * 2,
      pointsDeliveredBeforeKill: deliveredLive * 2,
      syncDelivered: report.delivered,
      syncTotal: report.total,
      syncSeconds: round(sync.ms / 1000, 2),
      secondSync: second,
    });
  });
});
