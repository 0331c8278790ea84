import { once } from 'node:events';
import { createConnection, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createJiti } from 'jiti';
import { describe, expect, it } from 'vitest';
import { BackendError, TrackstackError, toBackendError, ValidationError } from './errors.js';

/** Loads a second, separate copy of errors.ts, as a duplicate install of core would. */
async function loadSecondCopy(): Promise<typeof import('./errors.js')> {
  const jiti = createJiti(import.meta.url, { moduleCache: false });
  return jiti.import<typeof import('./errors.js')>(
    fileURLToPath(new URL('./errors.ts', import.meta.url)),
  );
}

/** A port on 127.0.0.1 that nothing listens on (it was listening a moment ago). */
async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

describe('TrackstackError', () => {
  it('carries its code, hint and cause', () => {
    const cause = new Error('root');
    const error = new TrackstackError('UNKNOWN_FLAVOR', 'no flavor', { hint: 'install it', cause });
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('TrackstackError');
    expect(error.code).toBe('UNKNOWN_FLAVOR');
    expect(error.message).toBe('no flavor');
    expect(error.hint).toBe('install it');
    expect(error.cause).toBe(cause);
    expect(new TrackstackError('RUN_NOT_FOUND', 'x').hint).toBeUndefined();
    expect('cause' in new TrackstackError('RUN_NOT_FOUND', 'x')).toBe(false);
  });

  it('names the key in a ValidationError message, clipped when long', () => {
    const error = new ValidationError('INVALID_KEY', 'train/loss', 'key-characters', 'bad');
    expect(error.message).toBe('key "train/loss": bad');
    const long = new ValidationError('INVALID_KEY', 'k'.repeat(200), 'key-too-long', 'too long');
    expect(long.key).toBe('k'.repeat(200));
    expect(long.message).toBe(`key "${'k'.repeat(77)}...": too long`);
  });

  it('cuts a BackendError response body to 4 KiB', () => {
    const error = new BackendError('BACKEND_REJECTED', 'refused', {
      retryable: false,
      statusCode: 400,
      responseBody: 'x'.repeat(10_000),
      retryAfterMs: 5,
    });
    expect(error.name).toBe('BackendError');
    expect(error.responseBody).toHaveLength(4096);
    expect(error.statusCode).toBe(400);
    expect(error.retryable).toBe(false);
    expect(error.retryAfterMs).toBe(5);
  });
});

describe('isInstance', () => {
  const validation = new ValidationError('INVALID_VALUE', 'k', 'value-type', 'bad');
  const backend = new BackendError('BACKEND_UNREACHABLE', 'down', { retryable: true });
  const plain = new TrackstackError('CORRUPT_FILE', 'broken');

  it('tells the kinds apart within one copy', () => {
    expect(TrackstackError.isInstance(validation)).toBe(true);
    expect(TrackstackError.isInstance(backend)).toBe(true);
    expect(TrackstackError.isInstance(plain)).toBe(true);
    expect(ValidationError.isInstance(validation)).toBe(true);
    expect(ValidationError.isInstance(backend)).toBe(false);
    expect(ValidationError.isInstance(plain)).toBe(false);
    expect(BackendError.isInstance(backend)).toBe(true);
    expect(BackendError.isInstance(validation)).toBe(false);
    expect(BackendError.isInstance(plain)).toBe(false);
  });

  it.each([
    ['a plain Error', new Error('x')],
    ['null', null],
    ['undefined', undefined],
    ['a string', 'TrackstackError'],
    ['an object with the same code', { code: 'INVALID_KEY', name: 'ValidationError' }],
    ['an object marked with a local symbol', { [Symbol('trackstack.error')]: true }],
  ])('is false for %s', (_name, value) => {
    expect(TrackstackError.isInstance(value)).toBe(false);
    expect(ValidationError.isInstance(value)).toBe(false);
    expect(BackendError.isInstance(value)).toBe(false);
  });

  it('recognises errors made by another class that carries the Symbol.for markers', () => {
    // What another copy's class looks like: its own prototype chain, the same global markers.
    class ForeignValidationError extends Error {
      readonly code = 'INVALID_KEY';
      readonly key = 'k';
      readonly rule = 'key-empty';
      constructor(message: string) {
        super(message);
        Object.defineProperty(this, Symbol.for('trackstack.error'), { value: true });
        Object.defineProperty(this, Symbol.for('trackstack.error.validation'), { value: true });
      }
    }
    const foreign = new ForeignValidationError('from another copy');
    expect(foreign).not.toBeInstanceOf(ValidationError);
    expect(TrackstackError.isInstance(foreign)).toBe(true);
    expect(ValidationError.isInstance(foreign)).toBe(true);
    expect(BackendError.isInstance(foreign)).toBe(false);
  });

  it('recognises errors thrown by a second copy of the module, both ways', async () => {
    const other = await loadSecondCopy();
    expect(other.ValidationError).not.toBe(ValidationError);

    const theirs = new other.ValidationError('INVALID_KEY', 'k', 'key-empty', 'empty');
    expect(theirs).not.toBeInstanceOf(ValidationError);
    expect(ValidationError.isInstance(theirs)).toBe(true);
    expect(TrackstackError.isInstance(theirs)).toBe(true);
    expect(BackendError.isInstance(theirs)).toBe(false);

    const theirBackend = new other.BackendError('BACKEND_REJECTED', 'no', { retryable: false });
    expect(BackendError.isInstance(theirBackend)).toBe(true);
    expect(toBackendError(theirBackend)).toBe(theirBackend);

    expect(other.ValidationError.isInstance(validation)).toBe(true);
    expect(other.BackendError.isInstance(backend)).toBe(true);
    expect(other.TrackstackError.isInstance(plain)).toBe(true);
    expect(other.ValidationError.isInstance(backend)).toBe(false);
  });
});

describe('toBackendError', () => {
  it('keeps a BackendError as it is', () => {
    const error = new BackendError('BACKEND_REJECTED', 'no', {
      retryable: true,
      statusCode: 503,
      retryAfterMs: 1000,
    });
    expect(toBackendError(error)).toBe(error);
  });

  it.each([
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
  ])('makes a %s network error retryable', (code) => {
    const cause = Object.assign(new Error('socket trouble'), { code });
    const error = toBackendError(cause);
    expect(BackendError.isInstance(error)).toBe(true);
    expect(error.code).toBe('BACKEND_UNREACHABLE');
    expect(error.retryable).toBe(true);
    expect(error.cause).toBe(cause);
    expect(error.message).toContain(code);
    expect(error.message).toContain('socket trouble');
  });

  it('makes a network code on a non-Error object retryable too', () => {
    const error = toBackendError({ code: 'ECONNRESET' });
    expect(error.code).toBe('BACKEND_UNREACHABLE');
    expect(error.retryable).toBe(true);
  });

  it.each([
    ['a plain Error', new Error('boom'), 'boom'],
    ['a TypeError', new TypeError('x is not a function'), 'x is not a function'],
    [
      'an error with a non-network code',
      Object.assign(new Error('gone'), { code: 'ENOENT' }),
      'gone',
    ],
    ['an error with a numeric code', Object.assign(new Error('odd'), { code: 111 }), 'odd'],
    ['a thrown string', 'just a string', 'just a string'],
    ['null', null, 'null'],
    ['undefined', undefined, 'undefined'],
  ])('does not retry %s', (_name, thrown, message) => {
    const error = toBackendError(thrown);
    expect(BackendError.isInstance(error)).toBe(true);
    expect(error.code).toBe('BACKEND_REJECTED');
    expect(error.retryable).toBe(false);
    expect(error.message).toBe(message);
    expect(error.cause).toBe(thrown);
  });

  it('makes a real refused TCP connection retryable', async () => {
    const port = await closedPort();
    const socket = createConnection({ host: '127.0.0.1', port });
    const [socketError] = (await once(socket, 'error').catch((e: unknown) => [e])) as [Error];
    const error = toBackendError(socketError);
    expect(error.code).toBe('BACKEND_UNREACHABLE');
    expect(error.retryable).toBe(true);
  });

  it("makes a refused fetch() retryable (Node's fetch puts the network code on the cause)", async () => {
    const port = await closedPort();
    const thrown = await fetch(`http://127.0.0.1:${port}/api`).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(thrown).toBeInstanceOf(TypeError);
    expect(((thrown as Error).cause as { code?: string }).code).toBe('ECONNREFUSED');
    const error = toBackendError(thrown);
    expect(error.code).toBe('BACKEND_UNREACHABLE');
    expect(error.retryable).toBe(true);
  });
});

describe('toBackendError and TLS', () => {
  it('makes a certificate that was not accepted unreachable and final', () => {
    const error = toBackendError(
      new TypeError('fetch failed', { cause: { code: 'CERT_HAS_EXPIRED' } }),
    );
    expect(error).toMatchObject({ code: 'BACKEND_UNREACHABLE', retryable: false });
    expect(error.message).toContain('TLS certificate was not accepted');
  });
});
