/**
 * The branded error class of a flavor, made from what its backend's errors
 * look like. Every HTTP flavor needs the same things: a `BackendError`
 * subclass that `isInstance` recognises across duplicate installs, the
 * backend's own error code kept, a status read into what happened and whether
 * to retry, Retry-After honoured, credentials and TLS failures explained.
 * With this a flavor's `-error.ts` says only what differs:
 *
 *   export const MlflowError = defineBackendError({
 *     name: 'MlflowError',
 *     peer: 'MLflow',
 *     parseBody: (body) => ...,             // MLflow's {"error_code", "message"}
 *     authHint: 'check tracking_token',
 *     hint: ({ message }) => ...,           // what an answer means, e.g. a database out of connections
 *   });
 *   throw MlflowError.fromResponse('POST runs/log-batch', { status, body, headers });
 *   throw MlflowError.fromNetwork('POST runs/log-batch', error);
 */
import {
  BackendError,
  type BackendErrorCode,
  type BackendErrorOptions,
} from '../contract/errors.js';
import { httpStatusCode, isRetryableStatus, parseRetryAfter } from './http-status.js';
import { describeNetworkFailure } from './network-failure.js';

/** What the backend's error body said, when it was the backend's (not a proxy's page). */
export interface ParsedErrorBody {
  /** The backend's own error code (e.g. MLflow's `RESOURCE_DOES_NOT_EXIST`). */
  code?: string | undefined;
  message?: string | undefined;
}

/** An answer that was not 2xx. */
export interface HttpErrorAnswer {
  status: number;
  body: string;
  headers?: Readonly<Record<string, string | string[] | undefined>> | undefined;
}

export interface BackendErrorSpec {
  /** The class's name (`MlflowError`); also its brand: `Symbol.for('trackstack.error.<name>')`. */
  name: string;
  /** Who answers, as messages name it: `MLflow`, `W&B`, `the server`. */
  peer: string;
  /** Reads the backend's error body; return undefined when it is not the backend's. */
  parseBody?: (body: string) => ParsedErrorBody | undefined;
  /**
   * The backend's own verdict on retrying, where it differs from the status's
   * (MLflow's TEMPORARILY_UNAVAILABLE on a 400); undefined keeps the status's.
   */
  retryable?: (answer: {
    status: number;
    errorCode: string | undefined;
    message: string;
  }) => boolean | undefined;
  /** How long to wait when the answer carries no Retry-After (W&B's RateLimit-Reset). */
  retryAfterMs?: (
    headers: Readonly<Record<string, string | string[] | undefined>>,
  ) => number | undefined;
  /**
   * What an answer means for the user, where the backend's words alone do not say it (MLflow's
   * database out of connections: which server settings must fit which limit).
   */
  hint?: (answer: {
    status: number;
    errorCode: string | undefined;
    message: string;
  }) => string | undefined;
  /** Printed after a 401 or 403 (which fields hold the credentials). */
  authHint?: string;
  /** Printed after a TLS verification failure (how to give the CA, or turn checks off by name). */
  tlsHint?: string;
}

export interface FlavorErrorOptions extends Partial<BackendErrorOptions> {
  /** What happened; default BACKEND_UNAVAILABLE when retryable, else BACKEND_REJECTED. */
  code?: BackendErrorCode;
  /** The backend's own error code. */
  errorCode?: string | undefined;
}

/** An error of a flavor's backend: a BackendError with the backend's own error code. */
export interface FlavorBackendError extends BackendError {
  /** The backend's own error code, when its error body carried one. */
  readonly errorCode: string | undefined;
}

export interface BackendErrorClass<E extends FlavorBackendError = FlavorBackendError> {
  new (message: string, options?: FlavorErrorOptions): E;
  readonly prototype: E;
  /** True for errors of this class from any copy of the flavor in the process. */
  isInstance(error: unknown): error is E;
  /** `what` failed with this answer: its code, retry verdict, wait and message. */
  fromResponse(
    what: string,
    answer: HttpErrorAnswer,
    options?: { peer?: string; retryable?: boolean },
  ): E;
  /** `what` got no answer: retried unless TLS verification failed. */
  fromNetwork(what: string, error: unknown, options?: { peer?: string }): E;
}

/** Longest text of an error body that goes into a message. */
const DETAIL_CHARS = 500;

export function defineBackendError(spec: BackendErrorSpec): BackendErrorClass {
  const marker = Symbol.for(`trackstack.error.${spec.name}`);
  const header = (headers: HttpErrorAnswer['headers'], name: string) => {
    const value = headers?.[name];
    return Array.isArray(value) ? value[0] : value;
  };

  class FlavorError extends BackendError implements FlavorBackendError {
    readonly errorCode: string | undefined;

    constructor(message: string, options: FlavorErrorOptions = {}) {
      const retryable = options.retryable ?? false;
      super(options.code ?? (retryable ? 'BACKEND_UNAVAILABLE' : 'BACKEND_REJECTED'), message, {
        ...options,
        retryable,
      });
      Object.defineProperty(this, marker, { value: true });
      this.name = spec.name;
      this.errorCode = options.errorCode;
    }

    static override isInstance(error: unknown): error is FlavorError {
      return typeof error === 'object' && error !== null && marker in error;
    }

    static fromResponse(
      what: string,
      answer: HttpErrorAnswer,
      options: { peer?: string; retryable?: boolean } = {},
    ): FlavorError {
      const { status, body } = answer;
      const peer = options.peer ?? spec.peer;
      const parsed = options.peer === undefined ? safeParse(spec.parseBody, body) : undefined;
      const errorCode = parsed?.code;
      const detail = parsed?.message ?? body.slice(0, DETAIL_CHARS);
      const retryable =
        options.retryable ??
        spec.retryable?.({ status, errorCode, message: detail }) ??
        isRetryableStatus(status);
      // Credentials are the backend's: another peer (an object store behind a presigned URL)
      // refusing is about its own URL, not about the tracker's config.
      const auth = options.peer === undefined && (status === 401 || status === 403);
      const message = auth
        ? `${what}: ${peer} refused the credentials (HTTP ${status})`
        : `${what}: ${peer} answered ${status}${errorCode ? ` ${errorCode}` : ''}${detail ? `: ${detail}` : ''}`;
      const headers = answer.headers ?? {};
      return new FlavorError(message, {
        code: httpStatusCode(status),
        statusCode: status,
        responseBody: body,
        retryable,
        retryAfterMs:
          parseRetryAfter(header(headers, 'retry-after')) ?? spec.retryAfterMs?.(headers),
        errorCode,
        hint: auth ? spec.authHint : spec.hint?.({ status, errorCode, message: detail }),
      });
    }

    static fromNetwork(what: string, error: unknown, options: { peer?: string } = {}): FlavorError {
      const failure = describeNetworkFailure(error);
      const reason = failure.tls
        ? failure.reason
        : `${options.peer ?? spec.peer} ${failure.reason}`;
      const detail = failure.code ?? (error instanceof Error ? error.message : String(error));
      return new FlavorError(`${what}: ${reason} (${detail})`, {
        code: 'BACKEND_UNREACHABLE',
        retryable: failure.retryable,
        cause: error,
        hint: failure.tls ? (spec.tlsHint ?? failure.hint) : failure.hint,
      });
    }
  }
  Object.defineProperty(FlavorError, 'name', { value: spec.name });
  return FlavorError;
}

function safeParse(
  parse: BackendErrorSpec['parseBody'],
  body: string,
): ParsedErrorBody | undefined {
  if (parse === undefined) return undefined;
  try {
    return parse(body);
  } catch {
    return undefined;
  }
}
