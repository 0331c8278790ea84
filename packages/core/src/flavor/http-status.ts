/**
 * What an HTTP answer means for a backend call: which error code says what
 * happened, whether it is worth trying again, and how long the backend asked
 * to wait. The same verdicts as MLflow's and W&B's own clients.
 */
import type { BackendErrorCode } from '../contract/errors.js';

/** The statuses MLflow's and W&B's own clients retry. */
const RETRYABLE_STATUS = new Set([408, 425, 429, 500, 502, 503, 504]);

export function isRetryableStatus(status: number): boolean {
  return RETRYABLE_STATUS.has(status);
}

/** The error code of a status that is not 2xx: what happened, not whether to retry. */
export function httpStatusCode(status: number): BackendErrorCode {
  if (status === 429) return 'BACKEND_RATE_LIMITED';
  if (status === 409) return 'BACKEND_CONFLICT';
  if (status === 408 || status >= 500) return 'BACKEND_UNAVAILABLE';
  return 'BACKEND_REJECTED';
}

const HTTP_DATE =
  /^[A-Za-z]{3,9}, ?\d{1,2}[ -][A-Za-z]{3}[ -]\d{2,4} \d{2}:\d{2}:\d{2} GMT$|^[A-Za-z]{3} [A-Za-z]{3} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/;

/**
 * Parses a Retry-After header (delta-seconds or an HTTP date) into milliseconds.
 * Returns undefined when absent or unparseable.
 */
export function parseRetryAfter(
  value: string | readonly string[] | undefined | null,
  now = Date.now(),
): number | undefined {
  const raw = typeof value === 'string' || value === undefined || value === null ? value : value[0];
  if (raw === undefined || raw === null || raw.trim() === '') return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  // Only an HTTP date (RFC 9110 IMF-fixdate, or its obsolete forms): Date.parse alone
  // would read a date out of almost any text ending in a number.
  if (!HTTP_DATE.test(raw.trim())) return undefined;
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
