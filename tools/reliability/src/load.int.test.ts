/**
 * Promise: nothing accepted is lost, under load.
 *
 * A PostgreSQL server started by the test (Debian's server binaries, initdb into a temp
 * directory, 127.0.0.1 only), an MLflow server on it, then 32 processes at once, each
 * logging one run (params, 2000 points over 10 keys). Every point must arrive: counted with
 * MLflow's Python client per run and key, and with SQL over the whole database.
 *
 * Without PostgreSQL binaries the test is skipped with a message (`apt-get install -y
 * postgresql`, or PG_BIN=<dir of initdb>); under CI=true it fails instead.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ensurePythonEnv,
  findPostgresBin,
  MLFLOW_REQUIREMENTS,
  MlflowOracle,
  type Postgres,
  type PythonEnv,
  startPostgres,
} from '@trackstack/test-harness';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ManualMlflow, startMlflowOn } from './support/mlflow-server.js';

import { FIXTURES, PACKAGE_DIR, recordFigures, round } from './support/util.js';

const PROCESSES = Number(process.env.TRACKSTACK_LOAD_PROCESSES ?? 32);
const POINTS = 2000;
const KEYS = 10;
/** psycopg2 for MLflow's SQLAlchemy store; 2.9.10 ships manylinux wheels for CPython 3.9-3.13. */
const PG_REQUIREMENTS = [...MLFLOW_REQUIREMENTS, 'psycopg2-binary==2.9.10'];

/**
 * MLflow's SQL store opens a second pooled connection inside log_batch while the first is
 * held (`log_batch` -> `_log_params`/`_log_metrics`/`_set_tags`, each its own session). With
 * SQLAlchemy's default pool (5 + 10 overflow) more than ~7 concurrent log-batch requests
 * deadlock the pool until its 30 s timeout, and MLflow answers those requests 400
 * BAD_REQUEST "QueuePool limit of size 5 overflow 10 reached". 32 trackers (up to 4 requests
 * each) need a pool of at least 2 x the server's 40 request threads: a deployment setting,
 * documented in docs/reliability.md. (How trackstack treats that 400 is tested in
 * faults.int.test.ts.)
 */
const SERVER_POOL = {
  MLFLOW_SQLALCHEMYSTORE_POOL_SIZE: '40',
  MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW: '60',
};

let postgres: Postgres | undefined;
let mlflow: ManualMlflow | undefined;
let env: PythonEnv;
let oracle: MlflowOracle | undefined;
let store: string;
let unavailable: string | undefined;

beforeAll(async () => {
  store = await mkdtemp(join(tmpdir(), 'trackstack-load-'));
  if (findPostgresBin() === undefined) {
    unavailable =
      'no PostgreSQL server binaries: `apt-get install -y postgresql` (or set PG_BIN to the directory of initdb and pg_ctl)';
    return;
  }
  try {
    postgres = await startPostgres();
  } catch (error) {
    unavailable = `PostgreSQL could not start here: ${(error as Error).message}`;
    return;
  }
  env = await ensurePythonEnv({ name: 'mlflow-pg', requirements: PG_REQUIREMENTS });
  mlflow = await startMlflowOn(env, postgres.url('mlflow'), SERVER_POOL);
  oracle = new MlflowOracle(env.python, mlflow.url);
});

afterAll(async () => {
  if (mlflow !== undefined) {
    // Kept beside the figures: what the server said under load.
    await mkdir(join(PACKAGE_DIR, '.figures'), { recursive: true });
    await writeFile(join(PACKAGE_DIR, '.figures', 'load-mlflow-server.log'), mlflow.logs());
  }
  oracle?.close();
  await mlflow?.stop();
  await postgres?.stop();
  if (store !== undefined) await rm(store, { recursive: true, force: true });
});

interface ChildReport {
  uid: string;
  runId: string | undefined;
  pending: number;
  errors: string[];
  startRunMs: number;
  slowestCallMs: number;
  seconds: number;
}

function child(
  index: number,
): Promise<{ code: number | null; report?: ChildReport; stderr: string }> {
  return new Promise((resolve) => {
    const proc = spawn(
      process.execPath,
      [join(FIXTURES, 'load-child.mjs'), mlflow!.url, 'load', String(index), store],
      {
        cwd: PACKAGE_DIR,
        env: { ...process.env, LOAD_POINTS: String(POINTS), LOAD_KEYS: String(KEYS) },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
    });
    proc.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    proc.on('close', (code) => {
      let report: ChildReport | undefined;
      try {
        report = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as ChildReport;
      } catch {
        // reported below
      }
      resolve({ code, report, stderr });
    });
  });
}

describe('load on MLflow backed by PostgreSQL', () => {
  it(`delivers every point of ${PROCESSES} processes logging at once`, async (context) => {
    if (unavailable !== undefined) {
      if (process.env.CI === 'true') throw new Error(unavailable);
      context.skip(unavailable);
      return;
    }
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: PROCESSES }, (_, i) => child(i)));
    const seconds = (Date.now() - started) / 1000;

    for (const [i, result] of results.entries()) {
      expect(result.code, `worker ${i}: ${result.stderr}`).toBe(0);
      expect(result.report, `worker ${i}`).toMatchObject({ pending: 0, errors: [] });
    }
    const reports = results.map((r) => r.report!);

    const runIds = await oracle!.runs('load');
    expect(runIds).toHaveLength(PROCESSES);
    let points = 0;
    for (const report of reports) {
      const ids = await oracle!.find('load', report.uid);
      expect(ids).toEqual([report.runId]);
      const seen = await oracle!.run(report.runId!);
      expect(seen.status).toBe('FINISHED');
      // The run's own metrics; core's system metrics (system/*, every 10 s) come on top.
      const own = Object.entries(seen.metrics).filter(([key]) => !key.startsWith('system/'));
      expect(own).toHaveLength(KEYS);
      for (const [key, summary] of own) {
        expect(summary, key).toMatchObject({
          count: POINTS / KEYS,
          distinct_steps: POINTS / KEYS,
          duplicates: 0,
        });
        points += summary.count;
      }
      expect(Object.keys(seen.params).sort()).toEqual(['arch.depth', 'arch.width', 'lr', 'worker']);
    }
    expect(points).toBe(PROCESSES * POINTS);
    // The points the processes logged; the system metrics core samples (every 10 s, on by
    // default) are counted apart.
    const sqlPoints = Number(
      postgres!.query('mlflow', "SELECT count(*) FROM metrics WHERE key NOT LIKE 'system/%'"),
    );
    const systemPoints = Number(
      postgres!.query('mlflow', "SELECT count(*) FROM metrics WHERE key LIKE 'system/%'"),
    );
    const sqlRuns = Number(
      postgres!.query('mlflow', "SELECT count(*) FROM runs WHERE status = 'FINISHED'"),
    );
    const sqlExperiments = Number(
      postgres!.query('mlflow', "SELECT count(*) FROM experiments WHERE name = 'load'"),
    );
    expect(sqlPoints).toBe(PROCESSES * POINTS);
    expect(sqlRuns).toBe(PROCESSES);
    expect(sqlExperiments).toBe(1);

    const sortedSeconds = reports.map((r) => r.seconds).sort((a, b) => a - b);
    await recordFigures('load', {
      processes: PROCESSES,
      pointsPerProcess: POINTS,
      keys: KEYS,
      pointsDelivered: sqlPoints,
      systemMetricPoints: systemPoints,
      runs: sqlRuns,
      wallSeconds: round(seconds, 1),
      slowestProcessSeconds: round(sortedSeconds.at(-1)!, 1),
      medianProcessSeconds: round(sortedSeconds[Math.floor(sortedSeconds.length / 2)]!, 1),
      slowestStartRunMs: Math.max(...reports.map((r) => r.startRunMs)),
      slowestLoggingCallMs: round(Math.max(...reports.map((r) => r.slowestCallMs)), 2),
      postgres: postgres!.query('mlflow', 'SHOW server_version'),
      serverPool: SERVER_POOL,
    });
  });
});
