/**
 * System metrics against a real `mlflow server`, with MLflow's own client as the oracle: a run
 * of MLflow's client with `log_system_metrics=True` and a run of ours, side by side on this
 * machine, read back through MLflow's client. Ours must log every key MLflow's does (its
 * "System metrics" tab draws `system/*`), at steps 0, 1, 2, … as MLflow numbers them, in the
 * same units.
 */
import { writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTracker, silentLogger } from '@trackstack/core';
import {
  ensurePythonEnv,
  MLFLOW_SYSTEM_METRICS_REQUIREMENTS,
  MlflowOracle,
  type MlflowServer,
  type PythonEnv,
  runPython,
  startMlflowServer,
} from '@trackstack/test-harness';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MlflowExperimentTracker } from './mlflow-tracker.js';

let server: MlflowServer;
let oracle: MlflowOracle;
let client: PythonEnv;
let work: string;

beforeAll(async () => {
  [server, client] = await Promise.all([
    startMlflowServer(),
    ensurePythonEnv({ name: 'mlflow-psutil', requirements: MLFLOW_SYSTEM_METRICS_REQUIREMENTS }),
  ]);
  oracle = new MlflowOracle(server.env.python, server.url);
  work = await mkdtemp(join(tmpdir(), 'trackstack-mlflow-sysmetrics-'));
});

afterAll(async () => {
  oracle?.close();
  await server?.stop();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('MLflow system metrics', () => {
  it("logs every key MLflow's own client logs, in its units, at steps 0, 1, 2, …", async () => {
    const script = join(work, 'their_run.py');
    writeFileSync(
      script,
      [
        'import json, time, mlflow',
        "mlflow.set_experiment('system-metrics')",
        'with mlflow.start_run(log_system_metrics=True) as run:',
        '    time.sleep(3)',
        'print(json.dumps({"run_id": run.info.run_id}))',
        '',
      ].join('\n'),
    );
    const theirs = await runPython(client, script, [], {
      env: { MLFLOW_TRACKING_URI: server.url, MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL: '0.5' },
    });
    expect(theirs.code, theirs.stderr.slice(-2000)).toBe(0);
    const theirId = (
      JSON.parse(theirs.stdout.split('\n').find((l) => l.startsWith('{"run_id"'))!) as {
        run_id: string;
      }
    ).run_id;

    const tracker = createTracker(
      new MlflowExperimentTracker(
        { nested: false, tags: {}, request_timeout_s: 30, tracking_uri: server.url },
        { storeDir: join(work, 'store') },
      ),
      { logger: silentLogger },
    );
    const run = await tracker.startRun({
      experiment: 'system-metrics',
      systemMetrics: { intervalS: 0.5 },
    });
    await sleep(2_700);
    expect((await run.end()).pendingEvents).toBe(0);
    const ourId = (await run.backendRef('mlflow'))!.runId;

    const their = (await oracle.run(theirId, { history: true })).points;
    const our = (await oracle.run(ourId, { history: true })).points;
    const theirKeys = Object.keys(their).filter((k) => k.startsWith('system/'));
    expect(theirKeys.length).toBeGreaterThanOrEqual(8);
    for (const key of theirKeys) expect(Object.keys(our), key).toContain(key);

    for (const [key, points] of Object.entries(our)) {
      expect(key.startsWith('system/'), key).toBe(true);
      expect(
        points.map((p) => p.step),
        key,
      ).toEqual(points.map((_, i) => i));
    }
    // Same machine, a few seconds apart: the same units give values of the same size.
    const last = (points: { value: number | string }[] | undefined) =>
      Number(points!.at(-1)!.value);
    for (const key of ['system/system_memory_usage_megabytes', 'system/disk_usage_megabytes']) {
      const ratio = last(our[key]) / last(their[key]);
      expect(ratio, key).toBeGreaterThan(0.8);
      expect(ratio, key).toBeLessThan(1.25);
    }
    for (const key of ['system/system_memory_usage_percentage', 'system/disk_usage_percentage'])
      expect(Math.abs(last(our[key]) - last(their[key])), key).toBeLessThan(10);
    const cpu = last(our['system/cpu_utilization_percentage']);
    expect(cpu).toBeGreaterThanOrEqual(0);
    expect(cpu).toBeLessThanOrEqual(100);
  }, 120_000);
});
