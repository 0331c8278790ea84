import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FaultyServer, HttpJsonTracker } from '../__fixtures__/http-json-backend.js';
import { silentLogger } from '../contract/log.js';
import { LocalRuns } from '../local/local-runs.js';
import { LocalExperimentTracker } from '../local/local-tracker.js';
import { syncRun } from './sync.js';
import { createTracker } from './tracker.js';

const fixtures = join(import.meta.dirname, '../__fixtures__');
const server = new FaultyServer();
let url: string;
let storeDir: string;

beforeAll(async () => {
  url = await server.start();
  storeDir = await mkdtemp(join(tmpdir(), 'trackstack-sync-'));
});
afterAll(async () => {
  await server.stop();
  await rm(storeDir, { recursive: true, force: true });
});

/** Starts a child process and resolves with its first line of output (JSON) and the process. */
async function child(script: string, args: string[]) {
  const proc = spawn(process.execPath, [join(fixtures, script), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: proc.stdout }).once('line', resolve);
    void exited.then(() => reject(new Error(`child exited before printing: ${stderr}`)));
  });
  return { proc, exited, info: JSON.parse(line) as { uid: string }, stderr: () => stderr };
}

const tracker = () =>
  createTracker(
    new HttpJsonTracker({ url, timeout_ms: 2000, max_metrics_per_batch: 1000 }, { storeDir }),
    { logger: silentLogger },
  );

describe('syncRun after a crash', () => {
  it('delivers everything up to the last journal flush exactly once, marks the run KILLED, and a second sync sends nothing', async () => {
    // Two of the child's three concurrent batches never get an answer (the client gives up
    // after 2 s), so when it is killed part of the journal reached the backend and the rest
    // did not.
    server.faults.push(
      ...Array.from({ length: 2 }, () => ({ match: '/batch', fault: 'stall' as const })),
    );
    const { proc, exited, info } = await child('crash-child.mjs', [storeDir, url, '2500', '700']);
    for (let i = 0; i < 100 && (server.byUid(info.uid)?.metrics.length ?? 0) === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    proc.kill('SIGKILL');
    expect((await exited).signal).toBe('SIGKILL');
    const deliveredBeforeCrash = server.byUid(info.uid)!.metrics.length;
    expect(deliveredBeforeCrash).toBeGreaterThan(0);
    expect(deliveredBeforeCrash).toBeLessThan(2500);

    const local = await new LocalRuns(storeDir).get(info.uid);
    expect(local.status).toBe('RUNNING');

    const progress: number[] = [];
    const report = await syncRun({
      uid: info.uid,
      tracker: tracker(),
      logger: silentLogger,
      onProgress: ({ delivered }) => progress.push(delivered),
    });
    expect(report.markedAs).toBe('KILLED');
    expect(report.finished).toBe(true);
    expect(report.pendingEvents).toBe(0);
    expect(progress.at(-1)).toBe(report.delivered);

    const stored = server.byUid(info.uid)!;
    expect([...server.runs.values()].filter((r) => r.uid === info.uid)).toHaveLength(1);
    expect(stored.status).toBe('KILLED');
    expect(stored.params.get('lr')).toBe('0.5');
    expect(stored.metrics.map((m) => m.step).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 2500 }, (_, i) => i),
    );
    expect((await new LocalRuns(storeDir).get(info.uid)).status).toBe('KILLED');

    const requests = server.requests;
    const again = await syncRun({ uid: info.uid, tracker: tracker(), logger: silentLogger });
    expect(again.total).toBe(0);
    expect(again.delivered).toBe(0);
    expect(again.markedAs).toBeUndefined();
    // Only the resume lookup reaches the server.
    expect(server.requests - requests).toBeLessThanOrEqual(1);
    expect(stored.metrics).toHaveLength(2500);
  });

  it('syncs a local run to a tracker it was never sent to', async () => {
    const local = createTracker(new LocalExperimentTracker({}, { storeDir }), {
      logger: silentLogger,
    });
    const run = await local.startRun({ experiment: 'offline' });
    run.logParams({ a: 1 });
    for (let step = 0; step < 100; step++) run.logMetric('x', step, { step });
    await run.end();
    const report = await syncRun({ uid: run.uid, tracker: tracker(), logger: silentLogger });
    expect(report.delivered).toBe(102);
    const stored = server.byUid(run.uid)!;
    expect(stored.status).toBe('FINISHED');
    expect(stored.metrics).toHaveLength(100);
    expect((await new LocalRuns(storeDir).get(run.uid)).destinations).toContain('http-json');
  });

  it('refuses to sync a run whose process is still writing it', async () => {
    const run = await tracker().startRun({ experiment: 'live', mode: 'offline' });
    await expect(
      syncRun({ uid: run.uid, tracker: tracker(), logger: silentLogger }),
    ).rejects.toMatchObject({ code: 'RUN_ACTIVE' });
    await run.end();
    await expect(
      syncRun({ uid: run.uid, tracker: tracker(), logger: silentLogger }),
    ).resolves.toMatchObject({ finished: true });
  });
});

describe('process hooks', () => {
  const status = async (uid: string) => (await new LocalRuns(storeDir).get(uid)).status;

  it('ends a run FINISHED when the program returns without end()', async () => {
    const { exited, info } = await child('signal-child.mjs', ['return', storeDir]);
    expect((await exited).code).toBe(0);
    expect(await status(info.uid)).toBe('FINISHED');
    expect(await new LocalRuns(storeDir).metricHistory(info.uid, 'm')).toHaveLength(10);
  });

  it('ends it FAILED when the program sets a failing exit code', async () => {
    const { exited, info } = await child('signal-child.mjs', ['exit-code', storeDir]);
    expect((await exited).code).toBe(3);
    expect(await status(info.uid)).toBe('FAILED');
  });

  it('ends it FAILED when the program dies of an uncaught error', async () => {
    const { exited, info, stderr } = await child('signal-child.mjs', ['throw', storeDir]);
    expect((await exited).code).toBe(1);
    expect(stderr()).toContain('training crashed');
    expect(await status(info.uid)).toBe('FAILED');
    expect(await new LocalRuns(storeDir).metricHistory(info.uid, 'm')).toHaveLength(10);
  });

  it('journals the buffer on process.exit()', async () => {
    const { exited, info } = await child('signal-child.mjs', ['exit', storeDir]);
    expect((await exited).code).toBe(0);
    expect(await new LocalRuns(storeDir).metricHistory(info.uid, 'm')).toHaveLength(10);
  });

  it.each(['SIGINT', 'SIGTERM'] as const)(
    'ends it KILLED on %s and still dies of the signal',
    async (signal) => {
      const { proc, exited, info } = await child('signal-child.mjs', ['signal', storeDir]);
      proc.kill(signal);
      expect((await exited).signal).toBe(signal);
      expect(await status(info.uid)).toBe('KILLED');
      expect(await new LocalRuns(storeDir).metricHistory(info.uid, 'm')).toHaveLength(10);
    },
  );
});
