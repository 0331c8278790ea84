/**
 * The scale-out path (issue 21): MLflow as a team runs it (4 workers, PostgreSQL started by
 * the test, a moto S3 artifact store), 8 client processes at once, each logging 2,000 points
 * as fast as it can, first each to its own run, then each its shard of one run (the first
 * client owns and ends it; the others attach by its uid, each writing and delivering its own
 * journal segment). Every point is read back once with MLflow's own Python client; one run
 * has exactly one MLflow run. With the defaults: no longer end() wait.
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
import { scaleRound } from './support/scale.js';

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
    for (const report of round.reports) expect(report).toMatchObject({ pending: 0, errors: [] });
    expect(await oracle!.runs('scale-separate')).toHaveLength(CLIENTS);
    for (const report of round.reports) {
      expect(await oracle!.find('scale-separate', report.uid)).toEqual([report.runId]);
      const run = await oracle!.run(report.runId!);
      expect(run.status).toBe('FINISHED');
      for (let k = 0; k < KEYS; k++) {
        expect(run.metrics[`metric_${k}`]).toMatchObject({ count: POINTS / KEYS, duplicates: 0 });
      }
    }
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
