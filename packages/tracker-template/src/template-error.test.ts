import { BackendError } from '@trackstack/core';
import { describe, expect, it } from 'vitest';
import { TemplateError, templateHttpError, templateNetworkError } from './template-error.js';

describe('template errors', () => {
  it('retries 429 and 503 through core, with the Retry-After the server sent', () => {
    const slow = templateHttpError('POST /runs/1/batch', 429, '', '2');
    expect(slow).toMatchObject({ retryable: true, retryAfterMs: 2000, statusCode: 429 });
    expect(slow.code).toBe('BACKEND_UNREACHABLE');
    const down = templateHttpError('POST /runs/1/batch', 503, 'upstream unavailable', undefined);
    expect(down).toMatchObject({ retryable: true, retryAfterMs: undefined });
    expect(down.message).toContain('upstream unavailable');
  });

  it("refuses other answers for good, with the server's error code", () => {
    const conflict = templateHttpError(
      'POST /runs/1/batch',
      409,
      JSON.stringify({ error: { code: 'PARAM_CONFLICT', message: 'param "lr" is already "0.1"' } }),
      undefined,
    );
    expect(conflict).toMatchObject({
      retryable: false,
      code: 'BACKEND_REJECTED',
      errorCode: 'PARAM_CONFLICT',
      statusCode: 409,
    });
    expect(conflict.message).toBe(
      'POST /runs/1/batch: the server answered 409 PARAM_CONFLICT: param "lr" is already "0.1"',
    );
  });

  it('says which setting to check when the token is refused', () => {
    const refused = templateHttpError('GET /health', 401, '{"error":{"code":"UNAUTHORIZED"}}', []);
    expect(refused.retryable).toBe(false);
    expect(refused.hint).toMatch(/api_token/);
  });

  it('retries network failures, but not a TLS certificate that is not trusted', () => {
    const reset = templateNetworkError(
      'GET /health',
      Object.assign(new Error('x'), { code: 'ECONNRESET' }),
    );
    expect(reset).toMatchObject({ retryable: true, code: 'BACKEND_UNREACHABLE' });
    expect(reset.message).toContain('ECONNRESET');
    const tls = templateNetworkError('GET /health', {
      cause: { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' },
    });
    expect(tls.retryable).toBe(false);
    expect(tls.hint).toMatch(/NODE_EXTRA_CA_CERTS/);
  });

  it('is a BackendError, recognised across copies of the package', () => {
    const error = templateHttpError('GET /health', 500, '', undefined);
    expect(BackendError.isInstance(error)).toBe(true);
    expect(TemplateError.isInstance(error)).toBe(true);
    expect(
      TemplateError.isInstance(new BackendError('BACKEND_REJECTED', 'x', { retryable: false })),
    ).toBe(false);
  });
});
