import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Alarm } from './alarm.js';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('alarm', () => {
  it('rings once, at the earliest time it was set to', () => {
    const ring = vi.fn();
    const alarm = new Alarm(ring);
    const now = Date.now();
    alarm.set(now + 500);
    alarm.set(now + 200);
    alarm.set(now + 900);
    vi.advanceTimersByTime(199);
    expect(ring).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1);
    expect(ring).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(1000);
    expect(ring).toHaveBeenCalledTimes(1);
  });

  it('can be set again after it rang, and cleared', () => {
    const ring = vi.fn();
    const alarm = new Alarm(ring);
    alarm.set(Date.now() + 10);
    vi.advanceTimersByTime(10);
    alarm.set(Date.now() + 10);
    alarm.clear();
    vi.advanceTimersByTime(100);
    expect(ring).toHaveBeenCalledTimes(1);
  });
});
