/**
 * What a request that failed before any answer means: a TLS verification
 * failure is final (retrying cannot fix a certificate); anything else
 * (refused, reset, timed out, DNS) is retried.
 */
import { TLS_ERROR_CODES } from '../contract/errors.js';

export interface NetworkFailure {
  /** The system or undici error code (ECONNREFUSED, UND_ERR_SOCKET, CERT_HAS_EXPIRED, ...). */
  code: string | undefined;
  /** The server's certificate was not accepted. */
  tls: boolean;
  retryable: boolean;
  hint: string | undefined;
}

export function describeNetworkFailure(error: unknown): NetworkFailure {
  // Node's fetch and undici wrap socket errors: the system code is on `cause`.
  const raw =
    (error as { code?: unknown } | null)?.code ??
    (error as { cause?: { code?: unknown } } | null)?.cause?.code;
  const code = typeof raw === 'string' ? raw : undefined;
  const tls = code !== undefined && TLS_ERROR_CODES.has(code);
  return {
    code,
    tls,
    retryable: !tls,
    hint: tls
      ? "the server's TLS certificate was not accepted: give its CA certificate, or turn verification off by name in the tracker's config"
      : undefined,
  };
}
