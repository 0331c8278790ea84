/**
 * Errors from the server: a BackendError (so core's retry policy applies)
 * that also carries the server's own error code (RUN_NOT_FOUND,
 * PARAM_CONFLICT, ...). What is retried is decided by the HTTP status alone,
 * through core's `isRetryableStatus`, so a proxy in front of the server that
 * answers 502 or 503 is handled like the server itself.
 */
import {
  BackendError,
  type BackendErrorOptions,
  describeNetworkFailure,
  isRetryableStatus,
  parseRetryAfter,
} from '@trackstack/core';

const TEMPLATE_ERROR_MARKER = Symbol.for('trackstack.template.error');

export class TemplateError extends BackendError {
  readonly [TEMPLATE_ERROR_MARKER] = true as const;
  /** The server's error code, when it sent its JSON error body. */
  readonly errorCode: string | undefined;

  constructor(message: string, options: BackendErrorOptions & { errorCode?: string | undefined }) {
    super(options.retryable ? 'BACKEND_UNREACHABLE' : 'BACKEND_REJECTED', message, options);
    this.name = 'TemplateError';
    this.errorCode = options.errorCode;
  }

  static override isInstance(error: unknown): error is TemplateError {
    return typeof error === 'object' && error !== null && TEMPLATE_ERROR_MARKER in error;
  }
}

/**
 * Classifies an HTTP answer that was not 2xx. The server answers
 * `{"error": {"code", "message"}}`; anything in front of it may not, so the
 * body is only read for the message.
 */
export function templateHttpError(
  what: string,
  status: number,
  body: string,
  retryAfter: string | string[] | undefined,
): TemplateError {
  let errorCode: string | undefined;
  let detail = body.slice(0, 500);
  try {
    const parsed = JSON.parse(body) as { error?: { code?: unknown; message?: unknown } };
    if (typeof parsed.error?.code === 'string') errorCode = parsed.error.code;
    if (typeof parsed.error?.message === 'string') detail = parsed.error.message;
  } catch {
    // not JSON: keep the text
  }
  const retryable = isRetryableStatus(status);
  const auth = status === 401 || status === 403;
  const message = auth
    ? `${what}: the server refused the token (HTTP ${status})`
    : `${what}: the server answered ${status}${errorCode ? ` ${errorCode}` : ''}${detail ? `: ${detail}` : ''}`;
  return new TemplateError(message, {
    statusCode: status,
    responseBody: body,
    retryable,
    retryAfterMs: parseRetryAfter(retryAfter),
    errorCode,
    hint: auth ? 'check api_token (and the token the server was started with)' : undefined,
  });
}

/** A failure before any answer. TLS verification failures are final; the rest are retried. */
export function templateNetworkError(what: string, error: unknown): TemplateError {
  const failure = describeNetworkFailure(error);
  const detail = failure.code ?? (error instanceof Error ? error.message : String(error));
  const reason = failure.tls
    ? "the server's TLS certificate was not accepted"
    : 'the server is unreachable';
  return new TemplateError(`${what}: ${reason} (${detail})`, {
    retryable: failure.retryable,
    cause: error,
    hint: failure.tls
      ? 'give Node the CA that signed it: NODE_EXTRA_CA_CERTS=/path/to/ca.pem'
      : undefined,
  });
}
