/**
 * Dataset inputs in W&B's own form, with the real SDK as the oracle: a W&B user records a
 * dataset a run read with `run.use_artifact(Artifact(name, type="dataset"))` whose source is a
 * reference; ours must leave the service holding the same: a committed `dataset` artifact made
 * by no run, pointing at the source, used by the run (and the run config's `datasets`).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ensurePythonEnv,
  type PythonEnv,
  runPython,
  startWandbServer,
  WANDB_REQUIREMENTS,
  type WandbArtifact,
  type WandbServer,
} from '@trackstack/test-harness';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wandbTracker } from './__fixtures__/test-tracker.js';

let py: PythonEnv;
let server: WandbServer;
let work: string;

beforeAll(async () => {
  py = await ensurePythonEnv({ name: 'wandb', requirements: WANDB_REQUIREMENTS });
  server = await startWandbServer();
  work = mkdtempSync(join(tmpdir(), 'trackstack-wandb-inputs-'));
}, 600_000);
afterAll(async () => {
  await server?.stop();
  rmSync(work, { recursive: true, force: true });
});

/** What the service holds of a used dataset, without the ids and digests each client makes. */
function held(artifact: WandbArtifact, runId: string) {
  const contents = (artifact.manifest?.contents ?? {}) as Record<string, Record<string, unknown>>;
  return {
    type: artifact.type,
    state: artifact.state,
    aliases: artifact.aliases,
    createdBy: artifact.createdBy,
    // Each run that used it, once (a use recorded again is the same lineage edge).
    usedBy: [...new Set(artifact.usedBy.map((use) => use.run === runId))],
    entries: Object.entries(contents).map(([path, entry]) => ({ path, ref: entry.ref })),
  };
}

describe('W&B dataset inputs', () => {
  it("are used dataset artifacts, as the SDK's use_artifact of a referenced dataset leaves them", async () => {
    const csv = join(work, 'iris.csv');
    writeFileSync(csv, 'sepal,petal\n5.1,1.4\n');
    const script = join(work, 'sdk_use.py');
    writeFileSync(
      script,
      [
        'import sys, wandb',
        "run = wandb.init(project='inputs', id='sdkinputs1')",
        "artifact = wandb.Artifact('iris-sdk', type='dataset')",
        "artifact.add_reference('file://' + sys.argv[1], checksum=False)",
        'run.use_artifact(artifact)',
        'run.finish()',
        '',
      ].join('\n'),
    );
    const sdk = await runPython(py, script, [csv], {
      env: { ...server.sdkEnv, WANDB_DIR: work, WANDB_SILENT: 'true' },
    });
    expect(sdk.code, sdk.stderr.slice(-2000)).toBe(0);
    const theirs = held(server.artifact('iris-sdk'), 'sdkinputs1');

    const tracker = wandbTracker(server, {}, join(work, 'store'));
    const run = await tracker.startRun({ experiment: 'inputs', systemMetrics: false });
    await run.logInput({ name: 'iris-ours', path: csv, context: 'training' });
    // Logged again: the same artifact version, used again.
    await run.logInput({ name: 'iris-ours', path: csv, context: 'training' });
    await run.logInput({ name: 'no-source', digest: 'abc' });
    expect((await run.end()).pendingEvents).toBe(0);
    const runId = (await run.backendRef('wandb'))!.runId;
    const ours = server.artifact('iris-ours');
    expect(theirs.usedBy).toEqual([true]);
    expect(held(ours, runId)).toEqual(theirs);
    expect(theirs.entries).toEqual([{ path: 'iris.csv', ref: `file://${csv}` }]);
    expect(ours.usedBy[0]?.usedAs).toBe('training');
    expect(server.artifacts.filter((a) => a.name === 'iris-ours')).toHaveLength(1);
    expect(JSON.parse(ours.metadataJson!)).toMatchObject({ source_type: 'local' });
    // Without a source there is nothing to reference: the config alone has it.
    expect(server.artifacts.some((a) => a.name === 'no-source')).toBe(false);
    expect(server.run(runId).configValues).toMatchObject({
      datasets: { 'iris-ours': { context: 'training' }, 'no-source': { digest: 'abc' } },
    });
    expect(server.unknownOperations).toEqual([]);
  }, 300_000);
});
