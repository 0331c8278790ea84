import { describe, expect, it } from 'vitest';
import { BackendError } from '../contract/errors.js';
import { defineBackendError } from './backend-error-class.js';

const AcmeError = defineBackendError({
  name: 'AcmeError',
  peer: 'Acme',
  parseBody: (body) => {
    const parsed = JSON.parse(body) as { code?: string; detail?: string };
    return { code: parsed.code, message: parsed.detail };
  },
  retryable: ({ errorCode }) => (errorCode === 'TRY_LATER' ? true : undefined),
  retryAfterMs: (headers) =>
    headers['x-quota-reset'] === undefined ? undefined : Number(headers['x-quota-reset']) * 1000,
  hint: ({ message }) => (message.includes('full') ? 'give Acme more room' : undefined),
  authHint: 'check acme_key',
  tlsHint: 'give acme_ca',
});

describe('defineBackendError', () => {
  it("reads the backend's error body: its code and message", () => {
    const error = AcmeError.fromResponse('POST /things', {
      status: 404,
      body: JSON.stringify({ code: 'NO_THING', detail: 'thing 7 is gone' }),
    });
    expect(error).toMatchObject({
      name: 'AcmeError',
      code: 'BACKEND_REJECTED',
      errorCode: 'NO_THING',
      statusCode: 404,
      retryable: false,
      message: 'POST /things: Acme answered 404 NO_THING: thing 7 is gone',
    });
  });

  it('names what happened by the status, and retries what the clients of MLflow and W&B retry', () => {
    const cases = [
      [429, 'BACKEND_RATE_LIMITED', true],
      [503, 'BACKEND_UNAVAILABLE', true],
      [500, 'BACKEND_UNAVAILABLE', true],
      [501, 'BACKEND_UNAVAILABLE', false],
      [409, 'BACKEND_CONFLICT', false],
      [400, 'BACKEND_REJECTED', false],
    ] as const;
    for (const [status, code, retryable] of cases) {
      expect(AcmeError.fromResponse('GET /', { status, body: '' })).toMatchObject({
        code,
        retryable,
      });
    }
  });

  it("lets the backend's own code, or the caller, decide retrying", () => {
    const later = AcmeError.fromResponse('GET /', { status: 400, body: '{"code":"TRY_LATER"}' });
    expect(later.retryable).toBe(true);
    expect(
      AcmeError.fromResponse('GET /', { status: 409, body: '' }, { retryable: true }),
    ).toMatchObject({ retryable: true, code: 'BACKEND_CONFLICT' });
  });

  it('waits as Retry-After says, else as the backend tells otherwise', () => {
    const headers = { 'retry-after': '3', 'x-quota-reset': '9' };
    expect(AcmeError.fromResponse('GET /', { status: 429, body: '', headers }).retryAfterMs).toBe(
      3000,
    );
    expect(
      AcmeError.fromResponse('GET /', { status: 429, body: '', headers: { 'x-quota-reset': '9' } })
        .retryAfterMs,
    ).toBe(9000);
  });

  it('keeps a body that is not its JSON as text, and refused credentials get the hint', () => {
    const proxy = AcmeError.fromResponse('GET /', { status: 502, body: 'Bad Gateway' });
    expect(proxy.errorCode).toBeUndefined();
    expect(proxy.message).toBe('GET /: Acme answered 502: Bad Gateway');
    const auth = AcmeError.fromResponse('GET /', { status: 401, body: '{"code":"NOPE"}' });
    expect(auth.message).toBe('GET /: Acme refused the credentials (HTTP 401)');
    expect(auth.hint).toBe('check acme_key');
  });

  it('explains an answer the flavor knows the meaning of, and others not', () => {
    const full = AcmeError.fromResponse('POST /things', {
      status: 503,
      body: JSON.stringify({ code: 'UNAVAILABLE', detail: 'the disk is full' }),
    });
    expect(full).toMatchObject({ retryable: true, hint: 'give Acme more room' });
    expect(AcmeError.fromResponse('GET /', { status: 503, body: 'busy' }).hint).toBeUndefined();
  });

  it('speaks of another peer without reading its body as the backend’s', () => {
    const error = AcmeError.fromResponse(
      'PUT part 1',
      { status: 403, body: '{"code":"NO_THING"}' },
      { peer: 'the object store' },
    );
    expect(error.errorCode).toBeUndefined();
    expect(error.message).toBe('PUT part 1: the object store answered 403: {"code":"NO_THING"}');
    expect(error.hint).toBeUndefined();
  });

  it('retries a failed connection, but not an untrusted certificate', () => {
    const reset = AcmeError.fromNetwork(
      'GET /',
      Object.assign(new Error('x'), { code: 'ECONNRESET' }),
    );
    expect(reset).toMatchObject({ code: 'BACKEND_UNREACHABLE', retryable: true });
    expect(reset.message).toBe('GET /: Acme closed the connection before answering (ECONNRESET)');
    expect(reset.hint).toContain('workers restarting');
    const refused = AcmeError.fromNetwork('GET /', { cause: { code: 'ECONNREFUSED' } });
    expect(refused.message).toBe('GET /: Acme refused the connection (ECONNREFUSED)');
    const tls = AcmeError.fromNetwork('GET /', { cause: { code: 'CERT_HAS_EXPIRED' } });
    expect(tls).toMatchObject({
      code: 'BACKEND_UNREACHABLE',
      retryable: false,
      hint: 'give acme_ca',
    });
  });

  it('is branded: recognised across copies, and only its own', () => {
    const error = new AcmeError('custom', { retryable: true });
    expect(error.code).toBe('BACKEND_UNAVAILABLE');
    expect(BackendError.isInstance(error)).toBe(true);
    expect(AcmeError.isInstance(error)).toBe(true);
    const OtherError = defineBackendError({ name: 'OtherError', peer: 'Other' });
    expect(OtherError.isInstance(error)).toBe(false);
    // A second definition of the same name (a second copy of the flavor) knows it.
    const Again = defineBackendError({ name: 'AcmeError', peer: 'Acme' });
    expect(Again.isInstance(error)).toBe(true);
  });
});
