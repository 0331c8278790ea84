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

type Headers = Record<string, string | string[] | undefined>;

function header(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** wandb-core waits no longer than this for a quota, in case the server sends other units. */
export const MAX_RATE_LIMIT_PAUSE_MS = 30_000;

/**
 * How long W&B's rate-limit headers say to hold every request, on any answer
 * (2xx included), as wandb-core does: `RateLimit-Remaining` at 0 (or below)
 * with `RateLimit-Reset` (seconds) pauses until the reset, at most 30 s.
 * Undefined when the quota is not used up or the headers are missing or bad.
 */
export function rateLimitPauseMs(headers: Headers): number | undefined {
  const remaining = Number(header(headers, 'ratelimit-remaining') ?? Number.NaN);
  const reset = Number(header(headers, 'ratelimit-reset') ?? Number.NaN);
  if (!Number.isFinite(remaining) || !Number.isFinite(reset) || remaining > 0 || reset < 0) {
    return undefined;
  }
  return Math.min(reset * 1000, MAX_RATE_LIMIT_PAUSE_MS);
}

/**
 * An HTTP answer that was not 2xx. Retry-After and W&B's rate-limit headers
 * (`RateLimit-Reset`, seconds) say how long to wait.
 */
export function wandbHttpError(
  what: string,
  status: number,
  body: string,
  headers: Headers,
  retryable = isWandbRetryableStatus(status),
): WandbError {
  const retryAfterMs = parseRetryAfter(header(headers, 'retry-after')) ?? rateLimitPauseMs(headers);
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
