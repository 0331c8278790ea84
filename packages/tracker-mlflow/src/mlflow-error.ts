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

export const MlflowError = defineBackendError({
  name: 'MlflowError',
  peer: 'MLflow',
  parseBody,
  // MLflow's SQL store answers 400 BAD_REQUEST when its connection pool is exhausted: a
  // transient overload, not a refusal of the data.
  retryable: ({ status, errorCode, message }) =>
    errorCode === 'TEMPORARILY_UNAVAILABLE' ||
    (status === 400 &&
      errorCode === 'BAD_REQUEST' &&
      /QueuePool limit of size \d+ overflow \d+ reached/.test(message)) ||
    undefined,
  authHint: 'check tracking_username/tracking_password or tracking_token',
  tlsHint:
    'give its CA with tracking_server_cert_path, or turn verification off by name: tracking_insecure_tls',
});
export type MlflowError = InstanceType<typeof MlflowError>;
