/**
 * Errors from W&B: a BackendError (so core's retry policy applies) with the
 * GraphQL error messages when the service sent them.
 */
import {
  BackendError,
  type BackendErrorOptions,
  describeNetworkFailure,
  parseRetryAfter,
} from '@trackstack/core';

const WANDB_ERROR_MARKER = Symbol.for('trackstack.wandb.error');

/** What W&B's own client retries: 429 and 5xx (and 409 for UpsertBucket, handled by the caller). */
export function isWandbRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

export class WandbError extends BackendError {
  readonly [WANDB_ERROR_MARKER] = true as const;
  /** GraphQL error messages, when the answer carried them. */
  readonly graphqlErrors: string[];

  constructor(message: string, options: BackendErrorOptions & { graphqlErrors?: string[] }) {
    super(options.retryable ? 'BACKEND_UNREACHABLE' : 'BACKEND_REJECTED', message, options);
    this.name = 'WandbError';
    this.graphqlErrors = options.graphqlErrors ?? [];
  }

  static override isInstance(error: unknown): error is WandbError {
    return typeof error === 'object' && error !== null && WANDB_ERROR_MARKER in error;
  }
}

/**
 * An HTTP answer that was not 2xx. Retry-After and W&B's rate-limit headers
 * (`RateLimit-Reset`, seconds) say how long to wait.
 */
export function wandbHttpError(
  what: string,
  status: number,
  body: string,
  headers: Record<string, string | string[] | undefined>,
  retryable = isWandbRetryableStatus(status),
): WandbError {
  const header = (name: string) => {
    const value = headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  let retryAfterMs = parseRetryAfter(header('retry-after'));
  if (retryAfterMs === undefined && header('ratelimit-remaining') === '0') {
    retryAfterMs = parseRetryAfter(header('ratelimit-reset'));
  }
  const auth = status === 401 || status === 403;
  return new WandbError(
    auth
      ? `${what}: W&B refused the API key (HTTP ${status})`
      : `${what}: W&B answered ${status}: ${body.slice(0, 300)}`,
    {
      statusCode: status,
      responseBody: body,
      retryable,
      retryAfterMs,
      hint: auth ? 'check api_key (or WANDB_API_KEY)' : undefined,
    },
  );
}

/** A failure before any answer. TLS verification failures are final; the rest are retried. */
export function wandbNetworkError(what: string, error: unknown): WandbError {
  const failure = describeNetworkFailure(error);
  const reason = failure.tls ? "the server's TLS certificate was not accepted" : 'W&B unreachable';
  return new WandbError(`${what}: ${reason} (${failure.code ?? String(error)})`, {
    retryable: failure.retryable,
    cause: error,
    hint: failure.hint,
  });
}
