/**
 * The test oracle: MLflow's Python client (`python/mlflow_oracle.py`) in one long-lived
 * process per test file (importing mlflow takes seconds), asked one question at a time.
 * Every read summarises each metric (counts, distinct steps, exact duplicates) so that tens
 * of thousands of points are checked without shipping them as JSON; full histories and
 * artifact hashes are read only when asked for.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface, type Interface } from 'node:readline';

const SCRIPT = join(import.meta.dirname, '..', 'python', 'mlflow_oracle.py');

export interface MlflowOracleMetricSummary {
  count: number;
  distinct_steps: number;
  /** Points that repeat another point's (step, timestamp, value) exactly. */
  duplicates: number;
  min_step: number | null;
  max_step: number | null;
}

/** A metric point as MLflow's client returns it; non-finite values are `'nan'`, `'inf'`, `'-inf'`. */
export interface MlflowOraclePoint {
  value: number | string;
  step: number;
  timestamp: number;
}

export interface MlflowOracleRun {
  run_id: string;
  experiment_id: string;
  run_name: string;
  status: string;
  start_time: number;
  end_time: number | null;
  artifact_uri: string;
  params: Record<string, string>;
  tags: Record<string, string>;
  /** Per metric key, always. */
  metrics: Record<string, MlflowOracleMetricSummary>;
  /** Per metric key, every point in MLflow's order; empty unless `history: true`. */
  points: Record<string, MlflowOraclePoint[]>;
  /** Artifact path → sha256 hex; empty unless `artifacts: true`. */
  artifacts: Record<string, string>;
  /** Artifact path → size in bytes as listed; empty unless `artifacts: true`. */
  artifact_sizes: Record<string, number>;
}

export interface MlflowOracleRunOptions {
  /** Also return every metric point (`points`). Default false. */
  history?: boolean;
  /** List, download and hash the run's artifacts. Default false. */
  artifacts?: boolean;
}

export class MlflowOracle {
  private readonly process: ChildProcessWithoutNullStreams;
  private readonly lines: Interface;
  private queue: Promise<unknown> = Promise.resolve();
  private stderr = '';

  /** `python`: an interpreter with mlflow (e.g. `server.env.python`); `env`: e.g. credentials. */
  constructor(python: string, trackingUri: string, env: Record<string, string> = {}) {
    this.process = spawn(python, [SCRIPT, trackingUri], {
      env: { ...process.env, ...env, PYTHONUNBUFFERED: '1' },
    });
    this.process.stderr.on('data', (chunk) => {
      this.stderr = (this.stderr + chunk).slice(-4000);
    });
    this.lines = createInterface({ input: this.process.stdout });
  }

  /** The run as MLflow's Python client reads it. */
  run(runId: string, options: MlflowOracleRunOptions = {}): Promise<MlflowOracleRun> {
    return this.ask({ op: 'run', run_id: runId, ...options }) as Promise<MlflowOracleRun>;
  }

  /** Ids of the runs of `experiment` matching an MLflow filter string (deleted ones included). */
  runs(experiment: string, filter = ''): Promise<string[]> {
    return this.ask({ op: 'runs', experiment, filter }) as Promise<string[]>;
  }

  /** Ids of the runs of `experiment` tagged `trackstack.uid = uid` (deleted ones included). */
  find(experiment: string, uid: string): Promise<string[]> {
    return this.ask({ op: 'find', experiment, uid }) as Promise<string[]>;
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
