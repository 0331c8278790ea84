/**
 * One retry policy for every backend: exponential backoff with jitter, capped,
 * and the backend's own Retry-After when it gives one. Retryable failures are
 * retried for as long as the process lives; `end()` bounds how long a user waits.
 */
import type { BackendError } from './errors.js';

export interface RetryPolicy {
  initialDelayMs: number;
  maxDelayMs: number;
  factor: number;
  /** Fraction of each delay that is random: 0.5 waits between 50 % and 100 % of the backoff. */
  jitter: number;
  /** A Retry-After longer than this is cut to it. */
  maxRetryAfterMs: number;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  initialDelayMs: 500,
  maxDelayMs: 60_000,
  factor: 2,
  jitter: 0.5,
  maxRetryAfterMs: 300_000,
});

/** How long to wait before attempt `attempt + 1` (attempt counts from 0). */
export function retryDelay(
  policy: RetryPolicy,
  attempt: number,
  error?: Pick<BackendError, 'retryAfterMs'>,
  random: () => number = Math.random,
): number {
  if (error?.retryAfterMs !== undefined)
    return Math.min(error.retryAfterMs, policy.maxRetryAfterMs);
  const backoff = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.factor ** attempt);
  return backoff * (1 - policy.jitter + policy.jitter * random());
}
