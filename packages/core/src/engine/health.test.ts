import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BackendError } from '../contract/errors.js';
import { DEFAULT_RETRY_POLICY } from '../contract/retry.js';
import { DestinationHealth } from './health.js';

const unreachable = () => new BackendError('BACKEND_UNREACHABLE', 'refused', { retryable: true });

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  vi.setSystemTime(1_000_000);
});
afterEach(() => {
  vi.useRealTimers();
});

/** A health on the default retry policy, with jitter's random draw at its largest wait. */
const health = () => new DestinationHealth({ retry: DEFAULT_RETRY_POLICY, random: () => 1 });

describe('destination health', () => {
  it('lets every request go while the backend answers', () => {
    const h = health();
    expect(h.admit()).toBe('go');
    h.answered();
    expect(h.admit()).toBe('go');
    expect(h.isDown).toBe(false);
  });

  it('while down, lets one probe go at a time, at most a second apart whatever the retry cap', () => {
    const h = health();
    const gaps: number[] = [];
    let last = Date.now();
    h.failed(unreachable(), false);
    for (let attempt = 0; attempt < 12; attempt++) {
      expect(h.admit()).toBe('wait');
      // Nothing goes until the probe's time.
      vi.advanceTimersByTime(1);
      while (h.admit() === 'wait') vi.advanceTimersByTime(10);
      gaps.push(Date.now() - last);
      h.probeStarted();
      expect(h.admit()).toBe('wait');
      h.failed(unreachable(), true);
      last = Date.now();
    }
    // 500 ms, then capped at 1 s (the policy's own cap is 60 s: a timer a task would sleep on).
    expect(gaps[0]).toBeLessThanOrEqual(510);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(1010);
    expect(DEFAULT_RETRY_POLICY.maxDelayMs).toBe(60_000);
  });

  it('wakes every waiting request at once on the first success, of a probe or of any request', () => {
    const h = health();
    const woken = vi.fn();
    h.onChange(woken);
    h.failed(unreachable(), false);
    woken.mockClear();
    vi.advanceTimersByTime(100);
    expect(h.admit()).toBe('wait');
    // A request sent before the outage answers: the destination is up, at once.
    h.answered();
    expect(woken).toHaveBeenCalledTimes(1);
    expect(h.admit()).toBe('go');
  });

  it('sends the waiting probe at once when hurried (flush, end)', () => {
    const h = health();
    for (let i = 0; i < 5; i++) h.failed(unreachable(), false);
    expect(h.admit()).toBe('wait');
    const woken = vi.fn();
    h.onChange(woken);
    h.hurry();
    expect(woken).toHaveBeenCalled();
    expect(h.admit()).toBe('probe');
  });

  it('holds the whole destination for a Retry-After, and hurrying does not cut it', () => {
    const h = health();
    const limited = new BackendError('BACKEND_RATE_LIMITED', '429', {
      retryable: true,
      statusCode: 429,
      retryAfterMs: 5_000,
    });
    h.failed(limited, false);
    h.hurry();
    expect(h.admit()).toBe('wait');
    vi.advanceTimersByTime(4_999);
    expect(h.admit()).toBe('wait');
    vi.advanceTimersByTime(1);
    expect(h.admit()).toBe('probe');
  });

  it('backs off a rate limit without Retry-After as the retry policy says, not at the probe cadence', () => {
    const h = health();
    const limited = () =>
      new BackendError('BACKEND_RATE_LIMITED', '429', { retryable: true, statusCode: 429 });
    for (let i = 0; i < 4; i++) h.failed(limited(), false);
    // Attempt 3 of the policy: 500 ms × 2³ = 4 s.
    vi.advanceTimersByTime(3_999);
    expect(h.admit()).toBe('wait');
    vi.advanceTimersByTime(1);
    expect(h.admit()).toBe('probe');
  });

  it('tells a failure of the destination from a failure of one request', () => {
    const wide = [
      unreachable(),
      new BackendError('BACKEND_RATE_LIMITED', '429', { retryable: true, statusCode: 429 }),
      new BackendError('BACKEND_UNAVAILABLE', '503', { retryable: true, statusCode: 503 }),
      new BackendError('BACKEND_UNAVAILABLE', '500', { retryable: true, retryAfterMs: 10 }),
    ];
    for (const error of wide) expect(DestinationHealth.isDestinationWide(error)).toBe(true);
    const own = new BackendError('BACKEND_UNAVAILABLE', '500', {
      retryable: true,
      statusCode: 500,
    });
    expect(DestinationHealth.isDestinationWide(own)).toBe(false);
  });
});
