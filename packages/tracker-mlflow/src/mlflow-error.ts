/**
 * Errors from MLflow: a BackendError (so core's retry policy applies) that
 * also carries MLflow's own `error_code` (RESOURCE_DOES_NOT_EXIST, ...).
 * Core's `defineBackendError` reads the status (a proxy or auth layer in
 * front of MLflow may answer without MLflow's JSON), Retry-After and network
 * failures; this file says what MLflow's error body is and which answers
 * MLflow means as "try again".
 */
import { defineBackendError, type ParsedErrorBody } from '@trackstack/core/flavor';

/** MLflow's error body: `{"error_code": "...", "message": "..."}`. */
function parseBody(body: string): ParsedErrorBody {
  const parsed = JSON.parse(body) as { error_code?: unknown; message?: unknown };
  return {
    code: typeof parsed.error_code === 'string' ? parsed.error_code : undefined,
    message: typeof parsed.message === 'string' ? parsed.message : undefined,
  };
}

/** The server's SQL store answers that its database has no connection left for it. */
const DATABASE_FULL =
  /too many clients already|remaining connection slots are reserved|too many connections/i;
/**
 * Two requests of one run added the same row at once: MLflow's SQL store reads whether a run's
 * `latest_metrics` row (or a tag) exists, then inserts it, so two log-batch requests with a new
 * key racing on two workers both insert, and one fails on the unique key (PostgreSQL's
 * UniqueViolation, SQLite's "UNIQUE constraint failed", MySQL's "Duplicate entry"). MLflow
 * answers 400 BAD_REQUEST; sent again, the row exists and the request goes through, and MLflow
 * keeps each metric point once.
 */
const INSERT_RACE =
  /UniqueViolation|duplicate key value violates unique constraint|UNIQUE constraint failed|Duplicate entry/;
/** SQLAlchemy's pool in the server has handed out every connection it may open. */
const POOL_FULL = /QueuePool limit of size \d+ overflow \d+ reached/;

/**
 * What an answer of MLflow's server means for whoever runs it: the settings that must fit
 * together when many clients log at once (docs/scaling.md).
 */
function hint({ message }: { message: string }): string | undefined {
  if (DATABASE_FULL.test(message)) {
    return "the MLflow server's database has no connection left: each server worker opens up to MLFLOW_SQLALCHEMYSTORE_POOL_SIZE + MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW connections, and --workers times that must fit in the database's max_connections (with room for its other clients); trackstack retries, nothing is lost";
  }
  if (POOL_FULL.test(message)) {
    return "the MLflow server's connection pool is used up: raise MLFLOW_SQLALCHEMYSTORE_POOL_SIZE and MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW on the server (log-batch holds two connections at once); trackstack retries, nothing is lost";
  }
  if (INSERT_RACE.test(message)) {
    return "two requests of this run added the same row at once in the MLflow server's database (its SQL store checks, then inserts); sent again, it goes through, and MLflow keeps each point once";
  }
  if (/database is locked/.test(message)) {
    return 'the MLflow server keeps its runs in SQLite, which takes one write at a time: a server many clients log to wants PostgreSQL or MySQL (--backend-store-uri); trackstack retries, nothing is lost';
  }
  return undefined;
}

export const MlflowError = defineBackendError({
  name: 'MlflowError',
  peer: 'MLflow',
  parseBody,
  // MLflow's SQL store answers 400 BAD_REQUEST when its connection pool is exhausted (a
  // transient overload) and when two requests raced to insert one row: not refusals of the data.
  retryable: ({ status, errorCode, message }) =>
    errorCode === 'TEMPORARILY_UNAVAILABLE' ||
    (status === 400 &&
      errorCode === 'BAD_REQUEST' &&
      (POOL_FULL.test(message) || INSERT_RACE.test(message))) ||
    undefined,
  hint,
  authHint: 'check tracking_username/tracking_password or tracking_token',
  tlsHint:
    'give its CA with tracking_server_cert_path, or turn verification off by name: tracking_insecure_tls',
});
export type MlflowError = InstanceType<typeof MlflowError>;
