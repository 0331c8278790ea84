import { describe, expect, it } from 'vitest';
import { MlflowError } from './mlflow-error.js';

/** MLflow 3.17's answer when PostgreSQL refused its SQL store a connection (as a server sent it). */
const POSTGRES_FULL = {
  status: 503,
  body: JSON.stringify({
    error_code: 'TEMPORARILY_UNAVAILABLE',
    message:
      '(psycopg2.OperationalError) connection to server at "127.0.0.1", port 46241 failed: FATAL:  sorry, too many clients already\n\n(Background on this error at: https://sqlalche.me/e/21/e3q8)',
  }),
};

describe('MlflowError', () => {
  it("reads MLflow's error body", () => {
    const error = MlflowError.fromResponse('GET runs/get', {
      status: 404,
      body: '{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Run \'x\' not found"}',
    });
    expect(error).toMatchObject({
      errorCode: 'RESOURCE_DOES_NOT_EXIST',
      retryable: false,
      hint: undefined,
    });
  });

  it('retries a database out of connections, and says which server settings must fit', () => {
    const error = MlflowError.fromResponse('POST runs/log-batch', POSTGRES_FULL);
    expect(error).toMatchObject({
      code: 'BACKEND_UNAVAILABLE',
      errorCode: 'TEMPORARILY_UNAVAILABLE',
      retryable: true,
    });
    expect(error.message).toContain('too many clients already');
    expect(error.hint).toContain('max_connections');
    expect(error.hint).toContain('MLFLOW_SQLALCHEMYSTORE_POOL_SIZE');
    // MySQL says it another way.
    const mysql = MlflowError.fromResponse('POST runs/log-batch', {
      status: 503,
      body: '{"error_code": "TEMPORARILY_UNAVAILABLE", "message": "(pymysql.err.OperationalError) (1040, \'Too many connections\')"}',
    });
    expect(mysql.hint).toBe(error.hint);
  });

  it("retries the server's own pool used up (a 400 BAD_REQUEST), with what to raise", () => {
    const error = MlflowError.fromResponse('POST runs/log-batch', {
      status: 400,
      body: '{"error_code": "BAD_REQUEST", "message": "(sqlalchemy.exc.TimeoutError) QueuePool limit of size 5 overflow 10 reached, connection timed out, timeout 30.00"}',
    });
    expect(error.retryable).toBe(true);
    expect(error.hint).toContain('MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW');
    const refusal = MlflowError.fromResponse('POST runs/log-batch', {
      status: 400,
      body: '{"error_code": "BAD_REQUEST", "message": "Param value too long"}',
    });
    expect(refusal).toMatchObject({ retryable: false, hint: undefined });
  });

  it('retries two requests of one run that raced to insert a row (its 400), and says so', () => {
    // What MLflow 3.17 on PostgreSQL answered in the scale test: two log-batch requests with a
    // new key, on two workers.
    const race = MlflowError.fromResponse('POST runs/log-batch', {
      status: 400,
      body: JSON.stringify({
        error_code: 'BAD_REQUEST',
        message:
          '(psycopg2.errors.UniqueViolation) duplicate key value violates unique constraint "latest_metric_pk"\nDETAIL:  Key (key, run_uuid)=(metric_2, 6613d27ae9fa46ba9fb1dd56d6a70492) already exists.\n\n[SQL: INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES (%(key)s, %(value)s, %(timestamp)s, %(step)s, %(is_nan)s, %(run_uuid)s)]',
      }),
    });
    expect(race).toMatchObject({ retryable: true, errorCode: 'BAD_REQUEST' });
    expect(race.hint).toContain('added the same row at once');
    for (const message of [
      '(sqlite3.IntegrityError) UNIQUE constraint failed: tags.key, tags.run_uuid',
      "(pymysql.err.IntegrityError) (1062, \"Duplicate entry 'm-abc' for key 'PRIMARY'\")",
    ]) {
      const error = MlflowError.fromResponse('POST runs/log-batch', {
        status: 400,
        body: JSON.stringify({ error_code: 'BAD_REQUEST', message }),
      });
      expect(error.retryable, message).toBe(true);
    }
  });

  it('says that SQLite takes one write at a time', () => {
    const error = MlflowError.fromResponse('POST runs/log-batch', {
      status: 503,
      body: '{"error_code": "TEMPORARILY_UNAVAILABLE", "message": "(sqlite3.OperationalError) database is locked"}',
    });
    expect(error.retryable).toBe(true);
    expect(error.hint).toContain('PostgreSQL');
  });
});
