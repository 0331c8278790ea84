/**
 * Dataset inputs against a real `mlflow server`, with MLflow's own client as the oracle: a
 * dataset logged by MLflow's client (`mlflow.log_input`) and the same dataset logged by ours
 * must be held alike, field by field, and listed under each run's inputs.
 */
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTracker, silentLogger } from '@trackstack/core';
import { type MlflowServer, runPython, startMlflowServer } from '@trackstack/test-harness';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MlflowExperimentTracker } from './mlflow-tracker.js';

let server: MlflowServer;
let work: string;

beforeAll(async () => {
  server = await startMlflowServer();
  work = await mkdtemp(join(tmpdir(), 'trackstack-mlflow-inputs-'));
});

afterAll(async () => {
  await server?.stop();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

interface HeldInput {
  dataset: {
    name: string;
    digest: string;
    source_type: string;
    source: string;
    schema: string;
    profile: string;
  };
  tags: { key: string; value: string }[];
}

/** What MLflow's client reads back of a run's dataset inputs. */
async function inputsOf(runId: string): Promise<HeldInput[]> {
  const script = join(work, `read_${runId}.py`);
  writeFileSync(
    script,
    [
      'import json, sys',
      'from mlflow import MlflowClient',
      'run = MlflowClient().get_run(sys.argv[1])',
      'out = []',
      'for i in run.inputs.dataset_inputs:',
      '    d = i.dataset',
      '    out.append({"dataset": {"name": d.name, "digest": d.digest, "source_type": d.source_type,',
      '        "source": d.source, "schema": d.schema, "profile": d.profile},',
      '        "tags": [{"key": t.key, "value": t.value} for t in i.tags]})',
      'print(json.dumps(out))',
      '',
    ].join('\n'),
  );
  const result = await runPython(server.env, script, [runId], {
    env: { MLFLOW_TRACKING_URI: server.url },
  });
  expect(result.code, result.stderr.slice(-2000)).toBe(0);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!) as HeldInput[];
}

describe('MLflow dataset inputs', () => {
  it("holds ours as it holds the same dataset logged by MLflow's own client", async () => {
    const csv = join(work, 'iris.csv');
    writeFileSync(csv, 'sepal,petal\n5.1,1.4\n4.9,1.4\n');
    const script = join(work, 'their_input.py');
    writeFileSync(
      script,
      [
        'import json, sys, mlflow, pandas as pd',
        "mlflow.set_experiment('inputs')",
        'df = pd.read_csv(sys.argv[1])',
        "dataset = mlflow.data.from_pandas(df, source=sys.argv[1], name='iris')",
        'with mlflow.start_run() as run:',
        "    mlflow.log_input(dataset, context='training')",
        'print(json.dumps({"run_id": run.info.run_id}))',
        '',
      ].join('\n'),
    );
    const theirs = await runPython(server.env, script, [csv], {
      env: { MLFLOW_TRACKING_URI: server.url },
    });
    expect(theirs.code, theirs.stderr.slice(-2000)).toBe(0);
    const theirId = (
      JSON.parse(theirs.stdout.split('\n').find((l) => l.startsWith('{"run_id"'))!) as {
        run_id: string;
      }
    ).run_id;
    const [their] = await inputsOf(theirId);
    expect(their?.dataset.source_type).toBe('local');

    const tracker = createTracker(
      new MlflowExperimentTracker(
        { nested: false, tags: {}, request_timeout_s: 30, tracking_uri: server.url },
        { storeDir: join(work, 'store') },
      ),
      { logger: silentLogger },
    );
    const run = await tracker.startRun({ experiment: 'inputs' });
    // The same dataset: MLflow computed its digest, schema and profile from the DataFrame.
    const same = {
      name: 'iris',
      digest: their!.dataset.digest,
      schema: their!.dataset.schema,
      profile: their!.dataset.profile,
      context: 'training',
    };
    await run.logInput({ ...same, source: csv });
    // Logged twice: MLflow keeps one input.
    await run.logInput({ ...same, source: csv });
    // A file: its digest comes from its bytes.
    await run.logInput({ name: 'iris-file', path: csv, context: 'validation' });
    expect((await run.end()).pendingEvents).toBe(0);
    const ours = await inputsOf((await run.backendRef('mlflow'))!.runId);

    expect(ours).toHaveLength(2);
    expect(ours.find((i) => i.dataset.name === 'iris')).toEqual(their);
    const file = ours.find((i) => i.dataset.name === 'iris-file')!;
    expect(file.dataset).toMatchObject({
      source_type: 'local',
      source: JSON.stringify({ uri: csv }),
      digest: expect.stringMatching(/^[0-9a-f]{16}$/),
    });
    expect(file.tags).toEqual([{ key: 'mlflow.data.context', value: 'validation' }]);
  }, 120_000);
});
