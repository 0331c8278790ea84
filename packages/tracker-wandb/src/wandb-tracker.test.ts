import { describe, expect, it } from 'vitest';
import { wandbRunIdProblem } from './wandb-config.js';
import { MAX_RATE_LIMIT_PAUSE_MS, rateLimitPauseMs, wandbHttpError } from './wandb-error.js';
import { outputLogLine, stepRunWandbId } from './wandb-tracker.js';

describe('W&B run ids', () => {
  it("follows the SDK's rules", () => {
    expect(wandbRunIdProblem('0190a0a0-0000-7000-8000-000000000001')).toBeUndefined();
    expect(wandbRunIdProblem('training-run-7_trainer')).toBeUndefined();
    expect(wandbRunIdProblem('')).toMatch(/empty/);
    expect(wandbRunIdProblem(' x')).toMatch(/whitespace/);
    for (const c of ":;,#?/'") expect(wandbRunIdProblem(`a${c}b`)).toMatch(/cannot contain/);
  });

  it('derives readable, distinct ids for step runs', () => {
    expect(stepRunWandbId('training-run-7', 'trainer')).toBe('training-run-7_trainer');
    const a = stepRunWandbId('run 1', 'step.a');
    const b = stepRunWandbId('run-1', 'step-a');
    expect(a).toMatch(/^run-1_step-a-[0-9a-f]{8}$/);
    expect(b).toBe('run-1_step-a');
    expect(a).not.toBe(b);
    const long = stepRunWandbId('p'.repeat(100), 's');
    expect(long.length).toBeLessThanOrEqual(64);
    expect(wandbRunIdProblem(long)).toBeUndefined();
  });
});

describe('output.log lines', () => {
  it("are written as wandb-core 0.30's legacy format: ERROR for stderr, Python ISO time", () => {
    const timestamp = Date.UTC(2026, 10, 27, 3, 4, 5, 678);
    expect(outputLogLine({ line: 0, stream: 'stdout', text: 'hello', timestamp })).toBe(
      '2026-11-27T03:04:05.678000 hello',
    );
    expect(outputLogLine({ line: 1, stream: 'stderr', text: 'boom', timestamp })).toBe(
      'ERROR 2026-11-27T03:04:05.678000 boom',
    );
    expect(
      outputLogLine({ line: 2, stream: 'stdout', text: 'x'.repeat(5000), timestamp }),
    ).toHaveLength(27 + 4096);
  });
});

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
