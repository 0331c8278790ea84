/**
 * Errors from the server: a BackendError (so core's retry policy applies)
 * that also carries the server's own error code (`RUN_NOT_FOUND`,
 * `PARAM_CONFLICT`, ...). Core's `defineBackendError` does the rest: what an
 * HTTP status means and whether it is retried (so a proxy in front of the
 * server that answers 502 or 503 is handled like the server itself),
 * Retry-After, refused credentials, certificates that are not trusted. This
 * file only says what the server's error body looks like.
 */
import { defineBackendError } from '@trackstack/core/flavor';

/** The server's error body: `{"error": {"code", "message"}}`; anything in front of it may send other text. */
function parseBody(body: string) {
  const parsed = JSON.parse(body) as { error?: { code?: unknown; message?: unknown } };
  const { code, message } = parsed.error ?? {};
  return {
    code: typeof code === 'string' ? code : undefined,
    message: typeof message === 'string' ? message : undefined,
  };
}

export const TemplateError = defineBackendError({
  name: 'TemplateError',
  peer: 'the server',
  parseBody,
  authHint: 'check api_token (and the token the server was started with)',
  tlsHint: 'give Node the CA that signed it: NODE_EXTRA_CA_CERTS=/path/to/ca.pem',
});
export type TemplateError = InstanceType<typeof TemplateError>;
