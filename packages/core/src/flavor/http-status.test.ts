import { describe, expect, it } from 'vitest';
import { httpStatusCode, isRetryableStatus, parseRetryAfter } from './http-status.js';

describe('parseRetryAfter', () => {
  const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');

  const cases: [string, string | string[] | undefined | null, number | undefined][] = [
    ['delta-seconds', '5', 5000],
    ['zero seconds', '0', 0],
    ['fractional seconds', '1.5', 1500],
    ['seconds with spaces around', ' 7 ', 7000],
    ['negative seconds, as 0', '-3', 0],
    ['an HTTP date in the future', 'Wed, 21 Oct 2015 07:28:30 GMT', 30_000],
    ['an HTTP date in the past, as 0', 'Wed, 21 Oct 2015 07:00:00 GMT', 0],
    ['an RFC 850 date', 'Wednesday, 21-Oct-15 07:29:00 GMT', 60_000],
    ['garbage', 'soon', undefined],
    ['other garbage', 'abc', undefined],
    ['garbage that ends in a number', 'Retry later 2', undefined],
    ['a unit it does not know', '120s', undefined],
    ['Infinity', 'Infinity', undefined],
    ['an empty string', '', undefined],
    ['blanks', '   ', undefined],
    ['undefined', undefined, undefined],
    ['null', null, undefined],
    ['an array, by its first value', ['7', '9'], 7000],
    ['an array holding a date', ['Wed, 21 Oct 2015 07:28:10 GMT'], 10_000],
    ['an empty array', [], undefined],
    ['an array of an empty string', [''], undefined],
  ];
  it.each(cases)('reads %s', (_name, value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });

  it('measures dates from the current time by default', () => {
    const inOneMinute = new Date(Date.now() + 60_000).toUTCString();
    const ms = parseRetryAfter(inOneMinute);
    expect(ms).toBeGreaterThan(55_000);
    expect(ms).toBeLessThanOrEqual(60_000);
  });
});

describe('isRetryableStatus', () => {
  it.each([408, 425, 429, 500, 502, 503, 504])('retries %i', (status) => {
    expect(isRetryableStatus(status)).toBe(true);
  });
  it.each([200, 201, 301, 400, 401, 403, 404, 409, 413, 422, 501, 505])(
    'does not retry %i',
    (status) => {
      expect(isRetryableStatus(status)).toBe(false);
    },
  );
});

describe('httpStatusCode', () => {
  it.each([
    [429, 'BACKEND_RATE_LIMITED'],
    [409, 'BACKEND_CONFLICT'],
    [408, 'BACKEND_UNAVAILABLE'],
    [500, 'BACKEND_UNAVAILABLE'],
    [503, 'BACKEND_UNAVAILABLE'],
    [400, 'BACKEND_REJECTED'],
    [401, 'BACKEND_REJECTED'],
    [404, 'BACKEND_REJECTED'],
    [413, 'BACKEND_REJECTED'],
  ] as const)('names %i %s', (status, code) => {
    expect(httpStatusCode(status)).toBe(code);
  });
});
