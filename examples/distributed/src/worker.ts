/**
 * One rank of the distributed example, as torchrun starts it: RANK and WORLD_SIZE in the
 * environment, and the run's uid (TRACKSTACK_RUN_ID) shared by every rank. Rank 0 starts the
 * run; the others attach to it (each process writes its own journal segment, delivered by
 * that process), train their shard and log under their node id, `rank-<n>/…` (system metrics
 * under `system/rank-<n>/…`). Only rank 0 ends the run, once every rank is done.
 *
 * The tracker: MLflow when MLFLOW_TRACKING_URI is set, else the store's active one (the local
 * default when none is configured).
 */
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  createTracker,
  getTracker,
  type Run,
  type Tracker,
  TrackstackError,
} from '@trackstack/core';
import { MlflowExperimentTracker, mlflowConfigSchema } from '@trackstack/tracker-mlflow';
import { epoch, type Model, shard } from './shard.js';

const EPOCHS = 20;
const EXAMPLES = 2000;
const LR = 0.05;

function env(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '')
    throw new Error(`${name} is not set: start ranks with launch.js`);
  return value;
}

const rank = Number(env('RANK'));
const worldSize = Number(env('WORLD_SIZE'));
const uid = env('TRACKSTACK_RUN_ID');
const rendezvous = env('RENDEZVOUS_DIR');
const node = `rank-${rank}`;

async function tracker(): Promise<Tracker> {
  const uri = process.env.MLFLOW_TRACKING_URI;
  if (uri === undefined || uri === '') return getTracker();
  return createTracker(
    new MlflowExperimentTracker(mlflowConfigSchema.parse({ tracking_uri: uri })),
  );
}

/** Rank 0 starts the run; another rank attaches once it exists (a rendezvous, as init_process_group). */
async function open(t: Tracker): Promise<Run> {
  const options = { systemMetrics: { nodeId: node } };
  if (rank === 0) {
    return t.startRun({
      ...options,
      id: uid,
      attach: false,
      experiment: 'distributed',
      name: `shards-x${worldSize}`,
      params: { world_size: worldSize, lr: LR, epochs: EPOCHS, examples: EXAMPLES },
    });
  }
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      return await t.startRun({ ...options, id: uid, attach: true });
    } catch (error) {
      const waiting = TrackstackError.isInstance(error) && error.code === 'RUN_NOT_FOUND';
      if (!waiting || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** Waits for every other rank's `done-<n>` file (a barrier, as dist.barrier()). */
async function barrier(): Promise<void> {
  const deadline = Date.now() + 300_000;
  for (;;) {
    const done = (await readdir(rendezvous)).filter((name) => name.startsWith('done-')).length;
    if (done >= worldSize - 1) return;
    if (Date.now() > deadline) throw new Error(`only ${done} of ${worldSize - 1} ranks finished`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const run = await open(await tracker());
const data = shard(EXAMPLES, rank, worldSize);
const model: Model = { w: [0, 0], b: 0 };
for (let step = 0; step < EPOCHS; step++) {
  const { loss, accuracy } = epoch(model, data, LR);
  run.logMetrics({ [`${node}/loss`]: loss, [`${node}/accuracy`]: accuracy }, { step });
}
if (rank === 0) {
  await run.flush();
  await barrier();
  const report = await run.end();
  if (report.hint !== undefined) process.stderr.write(`rank 0: ${report.hint}\n`);
} else {
  // An attached rank's end() delivers its own segment and leaves the run running.
  await run.end();
  await writeFile(join(rendezvous, `done-${rank}`), '');
}
