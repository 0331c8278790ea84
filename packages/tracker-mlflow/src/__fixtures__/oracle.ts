/**
 * The test oracle: MLflow's Python client in a long-lived process (importing
 * mlflow takes seconds; one process answers every question of a test file).
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import type { BackendRunView } from '@trackstack/core/testing';

export interface OracleRun {
  run_id: string;
  experiment_id: string;
  run_name: string;
  status: string;
  start_time: number;
  end_time: number | null;
  artifact_uri: string;
  params: Record<string, string>;
  tags: Record<string, string>;
  metrics: Record<string, { value: number | string; step: number; timestamp: number }[]>;
  artifacts: Record<string, string>;
  artifact_sizes: Record<string, number>;
}

export class MlflowOracle {
  private readonly process: ChildProcessWithoutNullStreams;
  private readonly lines: Interface;
  private queue: Promise<unknown> = Promise.resolve();
  private stderr = '';

  constructor(python: string, trackingUri: string, env: Record<string, string> = {}) {
    this.process = spawn(python, [join(import.meta.dirname, 'mlflow_oracle.py'), trackingUri], {
      env: { ...process.env, ...env, PYTHONUNBUFFERED: '1' },
    });
    this.process.stderr.on('data', (chunk) => {
      this.stderr = (this.stderr + chunk).slice(-4000);
    });
    this.lines = createInterface({ input: this.process.stdout });
  }

  /** The run as MLflow's Python client reads it (artifacts: list and hash them; default true). */
  run(runId: string, { artifacts = true }: { artifacts?: boolean } = {}): Promise<OracleRun> {
    return this.ask({ op: 'run', run_id: runId, artifacts }) as Promise<OracleRun>;
  }

  /** Ids of the runs of an experiment that match a filter. */
  runs(experiment: string, filter = ''): Promise<string[]> {
    return this.ask({ op: 'runs', experiment, filter }) as Promise<string[]>;
  }

  /** The run in the conformance kit's terms. */
  async view(runId: string): Promise<BackendRunView> {
    const run = await this.run(runId);
    const metrics: BackendRunView['metrics'] = {};
    for (const [key, points] of Object.entries(run.metrics)) {
      metrics[key] = points
        .map((p) => ({ value: toNumber(p.value), step: p.step, timestamp: p.timestamp }))
        .sort((a, b) => a.step - b.step);
    }
    return {
      status: run.status as BackendRunView['status'],
      params: run.params,
      tags: run.tags,
      metrics,
      artifacts: run.artifacts,
      parentRunId: run.tags['mlflow.parentRunId'],
    };
  }

  close(): void {
    this.process.stdin.end();
    this.process.kill();
  }

  private ask(request: unknown): Promise<unknown> {
    const next = this.queue.then(
      () =>
        new Promise((resolve, reject) => {
          const onExit = () => reject(new Error(`the MLflow oracle exited: ${this.stderr}`));
          this.process.once('exit', onExit);
          this.lines.once('line', (line) => {
            this.process.off('exit', onExit);
            const answer = JSON.parse(line) as { ok?: unknown; error?: string };
            if (answer.error !== undefined) reject(new Error(`MLflow's client: ${answer.error}`));
            else resolve(answer.ok);
          });
          this.process.stdin.write(`${JSON.stringify(request)}\n`);
        }),
    );
    this.queue = next.catch(() => undefined);
    return next;
  }
}

function toNumber(value: number | string): number {
  if (typeof value === 'number') return value;
  return value === 'nan'
    ? Number.NaN
    : value === 'inf'
      ? Number.POSITIVE_INFINITY
      : Number.NEGATIVE_INFINITY;
}
