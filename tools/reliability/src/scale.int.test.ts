/**
 * The scale-out path (issue 21): MLflow as a team runs it (4 workers, PostgreSQL started by
 * the test, a moto S3 artifact store), 8 client processes at once, each logging 2,000 points
 * as fast as it can, first each to its own run, then each its shard of one run (the first
 * client owns and ends it; the others attach by its uid, each writing and delivering its own
 * journal segment). Every point is read back once with MLflow's own Python client; one run
 * has exactly one MLflow run. With the defaults: no longer end() wait.
 *
 * Then the server at its limits, where a user must read a message, not wait on a hang: one
 * of its workers stuck under load (uvicorn kills and replaces it), and, on a second server, a
 * PostgreSQL whose connections the server's pools overrun. Every point still lands once.
 *
 * Without PostgreSQL binaries the test is skipped with a message; under CI=true it fails.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  findPostgresBin,
  MlflowOracle,
  type MlflowStack,
  startMlflowStack,
} from '@trackstack/test-harness';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ScaleRound, scaleRound } from './support/scale.js';
import { sleep } from './support/util.js';

const CLIENTS = 8;
const POINTS = 2000;
const KEYS = 10;

let stack: MlflowStack | undefined;
let oracle: MlflowOracle | undefined;
let store: string;
let unavailable: string | undefined;

beforeAll(async () => {
  store = await mkdtemp(join(tmpdir(), 'trackstack-scale-'));
  if (findPostgresBin() === undefined) {
    unavailable = 'no PostgreSQL server binaries: `apt-get install -y postgresql`';
    return;
  }
  stack = await startMlflowStack({ store: 'postgres', workers: 4 });
  oracle = new MlflowOracle(stack.server.env.python, stack.server.url, stack.s3.clientEnv());
}, 300_000);

afterAll(async () => {
  oracle?.close();
  await stack?.stop();
  if (store !== undefined) await rm(store, { recursive: true, force: true });
});

/** Skips the test where this machine has no PostgreSQL; under CI that fails instead. */
function needsPostgres(context: { skip(note?: string): never }): void {
  if (unavailable === undefined) return;
  if (process.env.CI === 'true') throw new Error(unavailable);
  context.skip(unavailable);
}

describe('the scale-out path: MLflow on PostgreSQL and S3, 4 workers', () => {
  it(`delivers every point of ${CLIENTS} clients, each logging its own run`, async (context) => {
    needsPostgres(context);
    const round = await scaleRound({
      trackingUri: stack!.server.url,
      experiment: 'scale-separate',
      mode: 'separate',
      clients: CLIENTS,
      points: POINTS,
      keys: KEYS,
      storeDir: store,
    });
    expect(await oracle!.runs('scale-separate')).toHaveLength(CLIENTS);
    await expectEveryPointOnce(round, 'scale-separate', oracle!);
  }, 300_000);

  it(`delivers every point of ${CLIENTS} clients logging their shards of one run, to one MLflow run`, async (context) => {
    needsPostgres(context);
    const round = await scaleRound({
      trackingUri: stack!.server.url,
      experiment: 'scale-shard',
      mode: 'shard',
      clients: CLIENTS,
      points: POINTS,
      keys: KEYS,
      storeDir: store,
    });
    for (const report of round.reports) expect(report).toMatchObject({ pending: 0, errors: [] });
    const ids = await oracle!.find('scale-shard', round.sharedUid!);
    expect(ids).toHaveLength(1);
    const run = await oracle!.run(ids[0]!);
    expect(run.status).toBe('FINISHED');
    let points = 0;
    for (let rank = 0; rank < CLIENTS; rank++) {
      for (let k = 0; k < KEYS; k++) {
        const summary = run.metrics[`rank-${rank}/metric_${k}`];
        expect(summary, `rank ${rank} key ${k}`).toMatchObject({
          count: POINTS / KEYS,
          duplicates: 0,
        });
        points += summary!.count;
      }
    }
    expect(points).toBe(CLIENTS * POINTS);
  }, 300_000);
});

/** Every client's points are in its own MLflow run, once each, and the run finished. */
async function expectEveryPointOnce(
  round: ScaleRound,
  experiment: string,
  peer: MlflowOracle,
): Promise<void> {
  for (const report of round.reports) expect(report).toMatchObject({ pending: 0, errors: [] });
  for (const report of round.reports) {
    expect(await peer.find(experiment, report.uid)).toEqual([report.runId]);
    const run = await peer.run(report.runId!);
    expect(run.status).toBe('FINISHED');
    for (let k = 0; k < KEYS; k++) {
      expect(run.metrics[`metric_${k}`]).toMatchObject({
        count: round.pointsPerClient / KEYS,
        duplicates: 0,
      });
    }
  }
}

/** How many metric points the server's database holds. */
const storedPoints = () => Number(stack!.postgres!.query('mlflow', 'SELECT count(*) FROM metrics'));

describe('the server at its limits: a message, not a hang', () => {
  it('workers killed under load and restarted by uvicorn: the clients say what it was, and every point lands once', async (context) => {
    needsPostgres(context);
    const server = stack!.server;
    const workers = server.workerPids();
    expect(workers).toHaveLength(4);
    // 8 clients log 8,000 points each as fast as they can (up to 4 requests in flight each);
    // once the server is busy with them, one worker dies, as one the OOM killer picks does, and
    // a few seconds later another. uvicorn starts new ones; the requests that were on them are
    // cut (a client or two each time: two deaths so that some client surely had one).
    const before = storedPoints();
    const round = scaleRound({
      trackingUri: server.url,
      experiment: 'scale-worker-restart',
      mode: 'separate',
      clients: CLIENTS,
      points: 4 * POINTS,
      keys: KEYS,
      storeDir: store,
    });
    const deadline = Date.now() + 60_000;
    for (const [i, points] of [8_000, 24_000].entries()) {
      while (storedPoints() - before < points && Date.now() < deadline) await sleep(20);
      process.kill(workers[i]!, 'SIGKILL');
    }
    const result = await round;
    await expectEveryPointOnce(result, 'scale-worker-restart', oracle!);
    // The clients whose requests the dead worker held were told what it most often is, and
    // that delivery goes on; and when it did.
    const told = result.reports.filter((report) =>
      report.messages.some((m) => m.includes('closed the connection before answering')),
    );
    expect(told.length, 'a client saw a request cut').toBeGreaterThan(0);
    for (const report of told) {
      const at = report.messages.findIndex((m) => m.includes('closed the connection'));
      const warning = report.messages[at]!;
      expect(warning).toMatch(/^warn: mlflow: cannot reach the backend/);
      expect(warning).toContain('one of its workers restarting');
      expect(warning).toContain('delivery resumes as soon as it answers');
      expect(report.messages.slice(at)).toContain(
        'info: mlflow: backend reachable again, delivering',
      );
    }
    const now = server.workerPids();
    expect(now, 'uvicorn replaced the workers').toHaveLength(4);
    expect(now).not.toContain(workers[0]);
    expect(now).not.toContain(workers[1]);
  }, 300_000);

  it("a database whose connections the server's pools overrun: the clients name the settings, and every point lands once", async (context) => {
    needsPostgres(context);
    // A second server, as a team might first run one: 4 workers whose pools may open 2 + 20
    // connections each, on a PostgreSQL that takes 16.
    const small = await startMlflowStack({
      store: 'postgres',
      workers: 4,
      postgres: { maxConnections: 16 },
      env: { MLFLOW_SQLALCHEMYSTORE_POOL_SIZE: '2', MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW: '20' },
    });
    const peer = new MlflowOracle(small.server.env.python, small.server.url, small.s3.clientEnv());
    try {
      const round = await scaleRound({
        trackingUri: small.server.url,
        experiment: 'scale-connection-limit',
        mode: 'separate',
        clients: CLIENTS,
        points: POINTS,
        keys: KEYS,
        storeDir: store,
      });
      const said = round.reports.flatMap((report) =>
        report.messages.filter((m) => m.includes('too many clients already')),
      );
      expect(said.length, "a client was told of PostgreSQL's refusal").toBeGreaterThan(0);
      for (const message of said) {
        expect(message).toMatch(/^warn: mlflow: the backend cannot take requests now/);
        expect(message).toContain('max_connections');
        expect(message).toContain('MLFLOW_SQLALCHEMYSTORE_POOL_SIZE');
      }
      // Said once per client (the server fails and recovers many times), not once per failure.
      for (const report of round.reports) {
        expect(
          report.messages.filter((m) => m.includes('too many clients')).length,
        ).toBeLessThanOrEqual(1);
      }
      await expectEveryPointOnce(round, 'scale-connection-limit', peer);
    } finally {
      peer.close();
      await small.stop();
    }
  }, 600_000);
});
