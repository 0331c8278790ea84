import { describe, expect, it } from 'vitest';
import { baseUrlOf, isLoopbackHost, parseEndpoint } from './endpoint.js';

const rules = { field: 'endpoint_url', credentialsField: 'api_token' };

describe('parseEndpoint', () => {
  it('takes an http(s) URL', () => {
    const url = parseEndpoint('https://runs.example.com/base/', rules);
    expect(url).toBeInstanceOf(URL);
    expect(baseUrlOf(url as URL)).toBe('https://runs.example.com/base');
  });

  it.each([
    ['not a url', /endpoint_url must be an http\(s\) URL/],
    ['file:///tmp/runs', /endpoint_url must be an http\(s\) URL/],
    ['https://user:pw@runs.example.com', /put credentials in api_token, never in the URL/],
  ])('refuses %s, saying why', (value, message) => {
    const problem = parseEndpoint(value, rules);
    expect(problem).toMatch(message);
    expect(problem).not.toContain('pw');
  });

  it('refuses a query or fragment only for a bare base', () => {
    expect(parseEndpoint('https://x.test/?a=1', { ...rules, bareBase: true })).toMatch(/no query/);
    expect(parseEndpoint('https://x.test/?a=1', rules)).toBeInstanceOf(URL);
  });

  it('sends credentials over plain http to this machine only', () => {
    const sends = { ...rules, sendsCredentials: true };
    expect(parseEndpoint('http://runs.example.com', sends)).toBe(
      'api_token is only sent over https (or plain http to this machine)',
    );
    expect(parseEndpoint('http://runs.example.com', rules)).toBeInstanceOf(URL);
    for (const host of ['localhost', '127.0.0.1', '127.9.8.7', '[::1]']) {
      expect(parseEndpoint(`http://${host}:8080`, sends)).toBeInstanceOf(URL);
    }
  });
});

describe('isLoopbackHost', () => {
  it.each([
    ['localhost', true],
    ['LOCALHOST', true],
    ['127.0.0.1', true],
    ['127.255.0.9', true],
    ['[::1]', true],
    ['10.0.0.1', false],
    ['localhost.example.com', false],
    ['127.0.0.1.nip.io', false],
  ])('%s: %s', (host, loopback) => {
    expect(isLoopbackHost(host)).toBe(loopback);
  });
});
