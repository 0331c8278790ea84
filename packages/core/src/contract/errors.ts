/**
 * Branded errors. `isInstance` checks a `Symbol.for` marker rather than the
 * prototype chain, so an error thrown by one copy of @trackstack/core is still
 * recognised by another copy in the same process (duplicate installs happen
 * whenever a flavor pins a different core).
 */

export type TrackstackErrorCode =
  /** A metric, param or tag key breaks a key rule. */
  | 'INVALID_KEY'
  /** A value cannot be logged (wrong type, too long, circular, not serialisable). */
  | 'INVALID_VALUE'
  /** A param was logged again with a different value. */
  | 'PARAM_CONFLICT'
  /** No flavor of that name is known to the registry. */
  | 'UNKNOWN_FLAVOR'
  /** A source was loaded but what it exports is not a valid flavor. */
  | 'INVALID_FLAVOR'
  /** A tracker's configuration does not satisfy its flavor's schema. */
  | 'INVALID_CONFIG'
  /** A flavor source could not be loaded at all. */
  | 'FLAVOR_LOAD_FAILED'
  /** No configured tracker of that name is in the store. */
  | 'UNKNOWN_TRACKER'
  | BackendErrorCode
  /** A run id is not one trackstack makes or accepts (letters, digits, `_`, `-`). */
  | 'INVALID_RUN_ID'
  /** No run with that id exists. */
  | 'RUN_NOT_FOUND'
  /** The run was already ended, or a call came in an order the run cannot accept. */
  | 'RUN_ENDED'
  /** A new run was asked for with the id of a run that exists. */
  | 'RUN_EXISTS'
  /** Another live process owns the run (e.g. `sync` while it is still being logged). */
  | 'RUN_ACTIVE'
  /** An artifact path does not exist or is not a regular file or directory. */
  | 'ARTIFACT_NOT_FOUND'
  /** A file that trackstack wrote (journal, store) cannot be read back. */
  | 'CORRUPT_FILE'
  /** Another process holds the store's lock and did not let go in time. */
  | 'STORE_LOCKED'
  /** The store (or a run's directory in it) cannot be created or written. */
  | 'STORE_NOT_WRITABLE'
  /** A run filter (MLflow's search syntax) cannot be read. */
  | 'INVALID_FILTER';

/**
 * What happened when a backend call failed. Whether to try again is a
 * separate question (`BackendError.retryable`): a 409 from one backend is
 * final and from another worth retrying.
 */
export type BackendErrorCode =
  /** The backend answered and refused the request (bad request, auth, not found, too large). */
  | 'BACKEND_REJECTED'
  /** The backend refused because the request conflicts with what it holds (HTTP 409). */
  | 'BACKEND_CONFLICT'
  /** The backend asked to slow down (HTTP 429, a used-up quota). */
  | 'BACKEND_RATE_LIMITED'
  /** The backend answered with a failure of its own (HTTP 5xx, 408): it is up but cannot serve. */
  | 'BACKEND_UNAVAILABLE'
  /** No answer came: the connection was refused, reset or timed out, DNS or TLS failed. */
  | 'BACKEND_UNREACHABLE';

const ERROR_MARKER = Symbol.for('trackstack.error');

export interface TrackstackErrorOptions {
  cause?: unknown;
  /** A short, actionable sentence printed after the message. */
  hint?: string;
}

export class TrackstackError extends Error {
  readonly [ERROR_MARKER] = true as const;
  readonly code: TrackstackErrorCode;
  readonly hint: string | undefined;

  constructor(code: TrackstackErrorCode, message: string, options: TrackstackErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TrackstackError';
    this.code = code;
    this.hint = options.hint;
  }

  static isInstance(error: unknown): error is TrackstackError {
    return typeof error === 'object' && error !== null && ERROR_MARKER in error;
  }
}

const VALIDATION_MARKER = Symbol.for('trackstack.error.validation');

export type ValidationRule =
  | 'key-empty'
  | 'key-too-long'
  | 'key-characters'
  | 'key-path'
  | 'key-reserved'
  | 'value-type'
  | 'value-too-long'
  | 'value-circular'
  | 'step'
  | 'timestamp'
  | 'param-conflict'
  | 'too-deep'
  /** Not a PNG or JPEG image, or a truncated one. */
  | 'image-format'
  /** An image or table beyond its size cap. */
  | 'too-large'
  /** A table without columns, with ragged rows or repeated column names. */
  | 'table-shape'
  /** Histogram bins out of range, or edges that do not increase. */
  | 'bins';

/** Bad input to a logging call: names the key and the rule it broke. */
export class ValidationError extends TrackstackError {
  readonly [VALIDATION_MARKER] = true as const;
  readonly key: string;
  readonly rule: ValidationRule;

  constructor(
    code: 'INVALID_KEY' | 'INVALID_VALUE' | 'PARAM_CONFLICT',
    key: string,
    rule: ValidationRule,
    message: string,
  ) {
    super(code, `${describeKey(key)}: ${message}`);
    this.name = 'ValidationError';
    this.key = key;
    this.rule = rule;
  }

  static override isInstance(error: unknown): error is ValidationError {
    return typeof error === 'object' && error !== null && VALIDATION_MARKER in error;
  }
}

function describeKey(key: string): string {
  const shown = key.length > 80 ? `${key.slice(0, 77)}...` : key;
  return `key ${JSON.stringify(shown)}`;
}

const BACKEND_MARKER = Symbol.for('trackstack.error.backend');

export interface BackendErrorOptions extends TrackstackErrorOptions {
  statusCode?: number;
  /** The backend's response body, cut to a few KiB; never holds request credentials. */
  responseBody?: string;
  retryable: boolean;
  /** From Retry-After or rate-limit headers, when the backend said how long to wait. */
  retryAfterMs?: number;
}

/**
 * What a flavor throws when a backend call fails. Core's retry policy reads
 * `retryable` and `retryAfterMs`, so every backend is retried the same way.
 */
export class BackendError extends TrackstackError {
  readonly [BACKEND_MARKER] = true as const;
  readonly statusCode: number | undefined;
  readonly responseBody: string | undefined;
  readonly retryable: boolean;
  readonly retryAfterMs: number | undefined;

  declare readonly code: BackendErrorCode;

  constructor(code: BackendErrorCode, message: string, options: BackendErrorOptions) {
    super(code, message, options);
    this.name = 'BackendError';
    this.statusCode = options.statusCode;
    this.responseBody = options.responseBody?.slice(0, 4096);
    this.retryable = options.retryable;
    this.retryAfterMs = options.retryAfterMs;
  }

  static override isInstance(error: unknown): error is BackendError {
    return typeof error === 'object' && error !== null && BACKEND_MARKER in error;
  }
}

/**
 * Classifies anything a flavor threw. A BackendError keeps its own verdict;
 * network-level failures (socket resets, timeouts, refused connections) are
 * unreachable and retryable; a TLS certificate that was not accepted is
 * unreachable and final (retrying cannot fix it); anything else is a
 * programming or input error: rejected, not retryable.
 */
export function toBackendError(error: unknown): BackendError {
  if (BackendError.isInstance(error)) return error;
  // Node's fetch wraps socket errors: the network code is on `cause`.
  const code =
    (error as { code?: unknown } | null)?.code ??
    (error as { cause?: { code?: unknown } } | null)?.cause?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (typeof code === 'string' && NETWORK_ERROR_CODES.has(code)) {
    return new BackendError('BACKEND_UNREACHABLE', `backend unreachable (${code}): ${message}`, {
      retryable: true,
      cause: error,
    });
  }
  if (typeof code === 'string' && TLS_ERROR_CODES.has(code)) {
    return new BackendError(
      'BACKEND_UNREACHABLE',
      `the server's TLS certificate was not accepted (${code}): ${message}`,
      { retryable: false, cause: error },
    );
  }
  return new BackendError('BACKEND_REJECTED', message, { retryable: false, cause: error });
}

/** Error codes of a TLS certificate that was not accepted: no answer, and retrying cannot help. */
export const TLS_ERROR_CODES: ReadonlySet<string> = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** Error codes of a request that got no answer: the backend could not be reached. */
export const NETWORK_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'UND_ERR_CLOSED',
]);
