/**
 * MLflow as a team runs it, for the scale test and benchmark: its tracking server with
 * several workers on a backend store (PostgreSQL started for it, or SQLite beside it for
 * comparison) and an S3 artifact store (moto), all on 127.0.0.1.
 */
import { type MlflowServer, startMlflowServer } from './mlflow.js';
import { type Postgres, type PostgresOptions, startPostgres } from './postgres.js';
import { ensurePythonEnv, MLFLOW_SCALE_REQUIREMENTS } from './python-env.js';
import { type S3Server, startS3Server } from './s3.js';

export interface MlflowStackOptions {
  store: 'postgres' | 'sqlite';
  /** `mlflow server --workers` (uvicorn's). Default 4. */
  workers?: number;
  /** The PostgreSQL server's options (its connection limit). */
  postgres?: PostgresOptions;
  /** Environment over the harness's (e.g. MLflow's pool size, instead of {@link MLFLOW_POOL_ENV}). */
  env?: Record<string, string>;
}

export interface MlflowStack {
  server: MlflowServer;
  postgres: Postgres | undefined;
  s3: S3Server;
  stop(): Promise<void>;
}

/**
 * The database pool MLflow's SQL store needs under many clients: `log_batch` holds one
 * connection while it takes another, so the pool must be at least twice the request threads
 * (docs/reliability.md, the load test).
 */
export const MLFLOW_POOL_ENV = Object.freeze({
  MLFLOW_SQLALCHEMYSTORE_POOL_SIZE: '40',
  MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW: '60',
});

export async function startMlflowStack(options: MlflowStackOptions): Promise<MlflowStack> {
  const env = await ensurePythonEnv({
    name: 'mlflow-scale',
    requirements: MLFLOW_SCALE_REQUIREMENTS,
  });
  const s3 = await startS3Server();
  let postgres: Postgres | undefined;
  try {
    await s3.createBucket('mlflow');
    postgres = options.store === 'postgres' ? await startPostgres(options.postgres) : undefined;
    const server = await startMlflowServer({
      pythonEnv: env,
      artifactsDestination: 's3://mlflow/artifacts',
      env: { ...s3.clientEnv(), ...MLFLOW_POOL_ENV, ...options.env },
      extraArgs: [
        ...(postgres === undefined ? [] : ['--backend-store-uri', postgres.url('mlflow')]),
        '--workers',
        String(options.workers ?? 4),
      ],
    });
    return {
      server,
      postgres,
      s3,
      stop: async () => {
        await server.stop();
        await postgres?.stop();
        await s3.stop();
      },
    };
  } catch (error) {
    await postgres?.stop();
    await s3.stop();
    throw error;
  }
}
