/**
 * Errors from W&B: a BackendError (so core's retry policy applies), made by
 * core's `defineBackendError`. What this file adds is W&B's: its client also
 * retries any 5xx, and its rate-limit headers say how long to hold every
 * request when the quota is used up.
 */
import { defineBackendError } from '@trackstack/core/flavor';

type Headers = Readonly<Record<string, string | string[] | undefined>>;

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

export const WandbError = defineBackendError({
  name: 'WandbError',
  peer: 'W&B',
  // W&B's own client retries 408, 429 and every 5xx (core's list leaves out 501 and 505+).
  retryable: ({ status }) => (status >= 500 ? true : undefined),
  // Retry-After first; else the rate-limit headers, as W&B's client reads them.
  retryAfterMs: rateLimitPauseMs,
  authHint: 'check api_key (or WANDB_API_KEY)',
});
export type WandbError = InstanceType<typeof WandbError>;
