import { isFlavor, secretFields } from '@trackstack/core';
import { describe, expect, it } from 'vitest';
import { resolveTemplateConfig, templateConfigSchema } from './template-config.js';
import { TemplateExperimentTracker } from './template-tracker.js';

const parse = (raw: Record<string, unknown>) => templateConfigSchema.parse(raw);
const resolve = (raw: Record<string, unknown>) => resolveTemplateConfig(parse(raw));

describe('template config', () => {
  it('needs endpoint_url and defaults the rest', () => {
    expect(parse({ endpoint_url: 'http://127.0.0.1:8080' })).toEqual({
      endpoint_url: 'http://127.0.0.1:8080',
      timeout_s: 30,
    });
    expect(() => parse({})).toThrow(/endpoint_url/);
  });

  it.each([
    [{ endpoint_url: 'file:///tmp/runs' }],
    [{ endpoint_url: 'not a url' }],
    [{ endpoint_url: 'http://127.0.0.1:8080', timeout_s: 0 }],
    [{ endpoint_url: 'http://127.0.0.1:8080', api_token: '' }],
    [{ endpoint_url: 'http://127.0.0.1:8080', endpointurl: 'typo' }],
  ])('refuses %j in the schema (so `experiment-tracker register` refuses it too)', (raw) => {
    expect(() => parse(raw)).toThrow();
  });

  it('keeps a base path and drops a trailing slash', () => {
    expect(resolve({ endpoint_url: 'https://runs.example.com/tracking/' }).baseUrl).toBe(
      'https://runs.example.com/tracking',
    );
    expect(resolve({ endpoint_url: 'http://localhost:8080' }).baseUrl).toBe(
      'http://localhost:8080',
    );
  });

  it.each([
    [{ endpoint_url: 'https://user:pw@runs.example.com' }, /never in the URL/],
    [{ endpoint_url: 'https://runs.example.com/?project=x' }, /no query/],
    [{ endpoint_url: 'http://runs.example.com', api_token: 't' }, /only sent over https/],
  ])('refuses %j when the tracker first needs it', (raw, message) => {
    expect(() => resolve(raw)).toThrow(message);
    try {
      resolve(raw);
    } catch (error) {
      expect((error as { code?: string }).code).toBe('INVALID_CONFIG');
      expect((error as Error).message).not.toContain('pw');
    }
  });

  it('sends a token over https, and over plain http to this machine only', () => {
    expect(resolve({ endpoint_url: 'https://runs.example.com', api_token: 't' }).api_token).toBe(
      't',
    );
    for (const host of ['localhost', '127.0.0.1', '127.1.2.3', '[::1]']) {
      expect(resolve({ endpoint_url: `http://${host}:8080`, api_token: 't' }).baseUrl).toBe(
        `http://${host}:8080`,
      );
    }
  });

  it('is a flavor whose token is secret, and building a tracker checks nothing yet', () => {
    expect(isFlavor(TemplateExperimentTracker.FLAVOR)).toBe(true);
    expect(TemplateExperimentTracker.FLAVOR.name).toBe('template');
    expect(secretFields(TemplateExperimentTracker.FLAVOR)).toEqual(['api_token']);
    const tracker = new TemplateExperimentTracker(
      { endpoint_url: 'http://runs.example.com', api_token: 't', timeout_s: 30 },
      { storeDir: '/nonexistent' },
    );
    expect(() => tracker.settings).toThrow(/only sent over https/);
  });
});
