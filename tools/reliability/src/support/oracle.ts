/**
 * The oracle: MLflow's Python client in one long-lived process per test file (importing
 * mlflow takes seconds). The same idea as tracker-mlflow's `__fixtures__/oracle.ts`, with
 * summaries (counts, distinct steps, exact duplicates) so that tens of thousands of points
 * are checked without shipping them all as JSON.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';

export interface MetricSummary {
  count: number;
  distinct_steps: number;
  /** Points that repeat another point's (step, timestamp, value) exactly. */
  duplicates: number;
  min_step: number | null;
  max_step: number | null;
}

export interface OracleRun {
  run_id: string;
  experiment_id: string;
  run_name: string;
  status: string;
  start_time: number;
  end_time: number | null;
  params: Record<string, string>;
  tags: Record<string, string>;
  metrics: Record<string, MetricSummary>;
  points: Record<string, { value: number | string; step: number; timestamp: number }[]>;
  artifacts: Record<string, string>;
}

export class Oracle {
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

  run(runId: string, options: { history?: boolean; artifacts?: boolean } = {}): Promise<OracleRun> {
    return this.ask({ op: 'run', run_id: runId, ...options }) as Promise<OracleRun>;
  }

  /** Ids of the runs of `experiment` tagged `trackstack.uid = uid` (deleted ones included). */
  find(experiment: string, uid: string): Promise<string[]> {
    return this.ask({ op: 'find', experiment, uid }) as Promise<string[]>;
  }

  runs(experiment: string): Promise<string[]> {
    return this.ask({ op: 'runs', experiment }) as Promise<string[]>;
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
