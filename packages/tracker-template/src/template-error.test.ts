import { BackendError } from '@trackstack/core';
import { describe, expect, it } from 'vitest';
import { TemplateError } from './template-error.js';

const answer = (status: number, body = '', headers: Record<string, string> = {}) =>
  TemplateError.fromResponse('POST /runs/1/batch', { status, body, headers });

describe('template errors', () => {
  it('retries 429 and 503 through core, with the Retry-After the server sent', () => {
    const slow = answer(429, '', { 'retry-after': '2' });
    expect(slow).toMatchObject({ retryable: true, retryAfterMs: 2000, statusCode: 429 });
    expect(slow.code).toBe('BACKEND_RATE_LIMITED');
    const down = answer(503, 'upstream unavailable');
    expect(down).toMatchObject({ retryable: true, retryAfterMs: undefined });
    expect(down.code).toBe('BACKEND_UNAVAILABLE');
    expect(down.message).toContain('upstream unavailable');
  });

  it("refuses other answers for good, with the server's error code", () => {
    const conflict = answer(
      409,
      JSON.stringify({ error: { code: 'PARAM_CONFLICT', message: 'param "lr" is already "0.1"' } }),
    );
    expect(conflict).toMatchObject({
      retryable: false,
      code: 'BACKEND_CONFLICT',
      errorCode: 'PARAM_CONFLICT',
      statusCode: 409,
    });
    expect(conflict.message).toBe(
      'POST /runs/1/batch: the server answered 409 PARAM_CONFLICT: param "lr" is already "0.1"',
    );
  });

  it('keeps the text of an answer that is not the server’s JSON (a proxy in front of it)', () => {
    const proxied = answer(502, '<html>Bad Gateway</html>');
    expect(proxied).toMatchObject({ retryable: true, errorCode: undefined });
    expect(proxied.message).toContain('Bad Gateway');
  });

  it('says which setting to check when the token is refused', () => {
    const refused = TemplateError.fromResponse('GET /health', {
      status: 401,
      body: '{"error":{"code":"UNAUTHORIZED"}}',
    });
    expect(refused.retryable).toBe(false);
    expect(refused.code).toBe('BACKEND_REJECTED');
    expect(refused.hint).toMatch(/api_token/);
  });

  it('retries network failures, but not a TLS certificate that is not trusted', () => {
    const reset = TemplateError.fromNetwork(
      'GET /health',
      Object.assign(new Error('x'), { code: 'ECONNRESET' }),
    );
    expect(reset).toMatchObject({ retryable: true, code: 'BACKEND_UNREACHABLE' });
    expect(reset.message).toContain('ECONNRESET');
    const tls = TemplateError.fromNetwork('GET /health', {
      cause: { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' },
    });
    expect(tls.retryable).toBe(false);
    expect(tls.hint).toMatch(/NODE_EXTRA_CA_CERTS/);
  });

  it('is a BackendError, recognised across copies of the package', () => {
    const error = answer(500);
    expect(BackendError.isInstance(error)).toBe(true);
    expect(TemplateError.isInstance(error)).toBe(true);
    expect(error.name).toBe('TemplateError');
    expect(
      TemplateError.isInstance(new BackendError('BACKEND_REJECTED', 'x', { retryable: false })),
    ).toBe(false);
  });
});
