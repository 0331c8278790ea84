/**
 * What a request that failed before any answer means: a TLS verification
 * failure is final (retrying cannot fix a certificate); anything else
 * (refused, reset, timed out, DNS) is retried. Each kind carries a hint that
 * says what usually causes it, so a warning says more than an error code: a
 * connection the server closed mid-request is most often one of its workers
 * restarting, a request with no answer in time a server that is overloaded or
 * has a stuck worker.
 */
import { TLS_ERROR_CODES } from '../contract/errors.js';

export interface NetworkFailure {
  /** The system or undici error code (ECONNREFUSED, UND_ERR_SOCKET, CERT_HAS_EXPIRED, ...). */
  code: string | undefined;
  /** The server's certificate was not accepted. */
  tls: boolean;
  retryable: boolean;
  /** What the peer did, for a message: `closed the connection before answering`, `unreachable`. */
  reason: string;
  hint: string | undefined;
}

const TLS_HINT =
  "the server's TLS certificate was not accepted: give its CA certificate, or turn verification off by name in the tracker's config";

/** What usually causes each kind of failure, by its code. */
const KINDS: readonly { codes: readonly string[]; reason: string; hint: string }[] = [
  {
    codes: ['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED'],
    reason: 'closed the connection before answering',
    hint: 'the server closed the connection before it answered: one of its workers restarting, or a proxy or load balancer dropping the connection; the request goes again',
  },
  {
    codes: ['ECONNREFUSED'],
    reason: 'refused the connection',
    hint: 'nothing listens at that address: the server is down or restarting',
  },
  {
    codes: ['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'],
    reason: 'did not answer in time',
    hint: "no answer within the tracker's request timeout: the server is overloaded (its workers or its database), or one of its workers is stuck; the request goes again",
  },
  {
    codes: ['UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT', 'ENETUNREACH', 'EHOSTUNREACH'],
    reason: 'unreachable',
    hint: "the server's address cannot be reached from here (network, firewall, VPN)",
  },
  {
    codes: ['ENOTFOUND', 'EAI_AGAIN'],
    reason: 'unreachable',
    hint: "the server's host name does not resolve (a typo in the URL, or DNS)",
  },
];

export function describeNetworkFailure(error: unknown): NetworkFailure {
  // Node's fetch and undici wrap socket errors: the system code is on `cause`.
  const raw =
    (error as { code?: unknown } | null)?.code ??
    (error as { cause?: { code?: unknown } } | null)?.cause?.code;
  const code = typeof raw === 'string' ? raw : undefined;
  const tls = code !== undefined && TLS_ERROR_CODES.has(code);
  const kind = tls
    ? undefined
    : KINDS.find((entry) => code !== undefined && entry.codes.includes(code));
  return {
    code,
    tls,
    retryable: !tls,
    reason: tls ? "the server's TLS certificate was not accepted" : (kind?.reason ?? 'unreachable'),
    hint: tls ? TLS_HINT : kind?.hint,
  };
}
