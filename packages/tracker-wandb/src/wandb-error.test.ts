import { describe, expect, it } from 'vitest';
import { MAX_RATE_LIMIT_PAUSE_MS, rateLimitPauseMs, WandbError } from './wandb-error.js';

const answer = (status: number, headers: Record<string, string> = {}) =>
  WandbError.fromResponse('file_stream', { status, body: '', headers });

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
    expect(answer(429, { 'retry-after': '7' }).retryAfterMs).toBe(7000);
    const quota = answer(429, { 'ratelimit-remaining': '0', 'ratelimit-reset': '4' });
    expect(quota).toMatchObject({
      retryable: true,
      retryAfterMs: 4000,
      code: 'BACKEND_RATE_LIMITED',
    });
    expect(answer(429).retryAfterMs).toBeUndefined();
  });

  it("retries what W&B's own client retries: 408, 429 and every 5xx", () => {
    for (const status of [408, 429, 500, 501, 502, 503, 504, 505]) {
      expect(answer(status).retryable, String(status)).toBe(true);
    }
    for (const status of [400, 401, 403, 404, 409, 410, 413, 422]) {
      expect(answer(status).retryable, String(status)).toBe(false);
    }
    expect(answer(401).hint).toContain('WANDB_API_KEY');
  });
});
