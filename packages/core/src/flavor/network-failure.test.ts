import { describe, expect, it } from 'vitest';
import { describeNetworkFailure } from './network-failure.js';

describe('describeNetworkFailure', () => {
  it('makes TLS verification failures final, with a hint, and every other failure retryable', () => {
    const tls = describeNetworkFailure(
      Object.assign(new Error('self-signed'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }),
    );
    expect(tls).toMatchObject({ tls: true, retryable: false, code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    expect(tls.hint).toContain('CA certificate');
    const wrapped = describeNetworkFailure(
      new TypeError('fetch failed', { cause: { code: 'CERT_HAS_EXPIRED' } }),
    );
    expect(wrapped).toMatchObject({ tls: true, retryable: false });
    for (const code of ['ECONNREFUSED', 'UND_ERR_SOCKET', 'ETIMEDOUT', undefined]) {
      expect(describeNetworkFailure(Object.assign(new Error('x'), { code }))).toMatchObject({
        tls: false,
        retryable: true,
      });
    }
  });

  it('says what usually causes each kind of failure', () => {
    const hint = (code: string) =>
      describeNetworkFailure(new TypeError('fetch failed', { cause: { code } })).hint;
    expect(hint('UND_ERR_SOCKET')).toContain('workers restarting');
    expect(hint('ECONNRESET')).toBe(hint('UND_ERR_SOCKET'));
    expect(hint('ECONNREFUSED')).toContain('down or restarting');
    expect(hint('UND_ERR_HEADERS_TIMEOUT')).toContain('overloaded');
    expect(hint('ENOTFOUND')).toContain('does not resolve');
    expect(hint('EHOSTUNREACH')).toContain('cannot be reached');
    expect(describeNetworkFailure(new Error('something else')).hint).toBeUndefined();
  });
});
