import { describe, expect, it } from 'vitest';
import { MAX_RATE_LIMIT_PAUSE_MS, rateLimitPauseMs, wandbHttpError } from './wandb-error.js';

describe('rate-limit headers', () => {
  it('pause on a used-up quota, at most 30 s, as wandb-core does', () => {
    expect(rateLimitPauseMs({ 'ratelimit-remaining': '0', 'ratelimit-reset': '2' })).toBe(2000);
    expect(rateLimitPauseMs({ 'ratelimit-remaining': '0', 'ratelimit-reset': '3600' })).toBe(
      MAX_RATE_LIMIT_PAUSE_MS,
    );
    expect(
      rateLimitPauseMs({ 'ratelimit-remaining': '5', 'ratelimit-reset': '2' }),
    ).toBeUndefined();
    expect(rateLimitPauseMs({ 'ratelimit-remaining': '0' })).toBeUndefined();
    expect(
      rateLimitPauseMs({ 'ratelimit-remaining': 'x', 'ratelimit-reset': '1' }),
    ).toBeUndefined();
  });

  it('a 429 waits for Retry-After, else for the quota reset', () => {
    expect(wandbHttpError('file_stream', 429, '', { 'retry-after': '7' }).retryAfterMs).toBe(7000);
    const quota = wandbHttpError('file_stream', 429, '', {
      'ratelimit-remaining': '0',
      'ratelimit-reset': '4',
    });
    expect(quota).toMatchObject({ retryable: true, retryAfterMs: 4000 });
    expect(wandbHttpError('file_stream', 429, '', {}).retryAfterMs).toBeUndefined();
  });
});
