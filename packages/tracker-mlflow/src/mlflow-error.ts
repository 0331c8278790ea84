/**
 * Errors from MLflow: a BackendError (so core's retry policy applies) that
 * also carries MLflow's own `error_code` (RESOURCE_DOES_NOT_EXIST, ...).
 */
import {
  BackendError,
  type BackendErrorOptions,
  describeNetworkFailure,
  isRetryableStatus,
  parseRetryAfter,
} from '@trackstack/core';

const MLFLOW_ERROR_MARKER = Symbol.for('trackstack.mlflow.error');

export class MlflowError extends BackendError {
  readonly [MLFLOW_ERROR_MARKER] = true as const;
  /** MLflow's error code, when the server sent its JSON error body. */
  readonly errorCode: string | undefined;

  constructor(message: string, options: BackendErrorOptions & { errorCode?: string | undefined }) {
    super(options.retryable ? 'BACKEND_UNREACHABLE' : 'BACKEND_REJECTED', message, options);
    this.name = 'MlflowError';
    this.errorCode = options.errorCode;
  }

  static override isInstance(error: unknown): error is MlflowError {
    return typeof error === 'object' && error !== null && MLFLOW_ERROR_MARKER in error;
  }
}

/**
 * Classifies an HTTP answer that was not 2xx. MLflow answers JSON
 * `{error_code, message}`; a proxy or auth layer in front of it may not, so the
 * status decides what is retried, as in MLflow's own client. `peer` names who
 * answered: MLflow, or the object store a presigned part URL points at.
 */
export function mlflowHttpError(
  what: string,
  status: number,
  body: string,
  retryAfter: string | string[] | undefined,
  peer: 'MLflow' | 'the artifact store' = 'MLflow',
): MlflowError {
  let errorCode: string | undefined;
  let detail = body.slice(0, 500);
  try {
    const parsed = JSON.parse(body) as { error_code?: unknown; message?: unknown };
    if (typeof parsed.error_code === 'string') errorCode = parsed.error_code;
    if (typeof parsed.message === 'string') detail = parsed.message;
  } catch {
    // not JSON: keep the text
  }
  // MLflow's SQL store answers 400 BAD_REQUEST when its connection pool is exhausted: a
  // transient overload, not a refusal of the data.
  const retryable =
    isRetryableStatus(status) ||
    errorCode === 'TEMPORARILY_UNAVAILABLE' ||
    (status === 400 &&
      errorCode === 'BAD_REQUEST' &&
      /QueuePool limit of size \d+ overflow \d+ reached/.test(detail));
  const auth = peer === 'MLflow' && (status === 401 || status === 403);
  const message = auth
    ? `${what}: MLflow refused the credentials (HTTP ${status})`
    : `${what}: ${peer} answered ${status}${errorCode ? ` ${errorCode}` : ''}${detail ? `: ${detail}` : ''}`;
  return new MlflowError(message, {
    statusCode: status,
    responseBody: body,
    retryable,
    retryAfterMs: parseRetryAfter(retryAfter),
    errorCode,
    hint: auth ? 'check tracking_username/tracking_password or tracking_token' : undefined,
  });
}

/** A failure before any answer. TLS verification failures are final; the rest are retried. */
export function mlflowNetworkError(
  what: string,
  error: unknown,
  peer: 'MLflow' | 'the artifact store' = 'MLflow',
): MlflowError {
  const failure = describeNetworkFailure(error);
  const reason = failure.tls
    ? "the server's TLS certificate was not accepted"
    : `${peer} unreachable`;
  return new MlflowError(`${what}: ${reason} (${failure.code ?? String(error)})`, {
    retryable: failure.retryable,
    cause: error,
    hint: failure.tls
      ? 'give its CA with tracking_server_cert_path, or turn verification off by name: tracking_insecure_tls'
      : undefined,
  });
}
