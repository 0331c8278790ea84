/**
 * The distributed example as `npm start` runs it (the built launcher, WORLD_SIZE=4): four
 * rank processes log one run, each in its own journal segment and under its node id; only
 * rank 0 ends it. On the local default, read back from the store; given MLFLOW_TRACKING_URI,
 * on a real MLflow server, read back with MLflow's own Python client.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { LocalRuns } from '@trackstack/core';
import { MlflowOracle, type MlflowServer, startMlflowServer } from '@trackstack/test-harness';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const launcher = resolve(import.meta.dirname, '../dist/launch.js');
const RANKS = [0, 1, 2, 3];
let home: string;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'trackstack-distributed-'));
});
afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

function launch(env: Record<string, string> = {}): string {
  const result = spawnSync(process.execPath, [launcher], {
    encoding: 'utf8',
    env: { ...process.env, TRACKSTACK_HOME: home, WORLD_SIZE: '4', ...env },
    timeout: 120_000,
  });
  expect(result.status, result.stderr).toBe(0);
  const uid = result.stdout.trim().split('\n').at(-1)!;
  expect(uid).toMatch(/^[0-9a-f-]{36}$/);
  return uid;
}

describe('examples/distributed', () => {
  it('logs four ranks to one run on the local default, each in its own segment, told apart by rank', async () => {
    const uid = launch();
    const runs = new LocalRuns(home);
    const { snapshot, summaries } = await runs.view(uid);
    expect(snapshot.status).toBe('FINISHED');
    expect(snapshot.params).toMatchObject({ world_size: '4' });
    for (const rank of RANKS) {
      expect(summaries[`rank-${rank}/loss`]?.count, `rank ${rank}`).toBe(20);
      expect(summaries[`rank-${rank}/accuracy`]?.latest.step).toBe(19);
    }
    // Every point once: 4 ranks × 2 keys × 20 epochs.
    expect(Object.values(summaries).reduce((n, s) => n + s.count, 0)).toBe(160);
    const segments = (await readdir(join(snapshot.dir, 'journal'))).filter((f) =>
      f.endsWith('.jsonl'),
    );
    expect(segments).toHaveLength(4);
  });

  describe('given a tracking URI', () => {
    let server: MlflowServer;
    let oracle: MlflowOracle;
    beforeAll(async () => {
      server = await startMlflowServer();
      oracle = new MlflowOracle(server.env.python, server.url);
    }, 180_000);
    afterAll(async () => {
      oracle?.close();
      await server?.stop();
    });

    it('logs the same run to MLflow: one MLflow run, every rank’s points, ended once', async () => {
      const uid = launch({ MLFLOW_TRACKING_URI: server.url });
      const found = await oracle.find('distributed', uid);
      const [runId] = found;
      const run = await oracle.run(runId!, { history: true });
      expect(run.status).toBe('FINISHED');
      expect(run.params).toMatchObject({ world_size: '4', epochs: '20' });
      for (const rank of RANKS) {
        expect(run.points[`rank-${rank}/loss`]?.map((p) => p.step)).toEqual(
          Array.from({ length: 20 }, (_, i) => i),
        );
      }
      expect(await oracle.find('distributed', uid)).toHaveLength(1);
    }, 180_000);
  });
});
