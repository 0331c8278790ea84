/**
 * One health state per destination: whether its backend takes requests now.
 *
 * While it is up, requests go as the sender schedules them. A failure that
 * is about the destination rather than one request (no answer at all, a
 * gateway saying the backend is unavailable, a rate limit) takes it down:
 * then one request at a time goes as a probe, after a backoff with jitter
 * that is capped short (`probeMaxDelayMs`, 1 s), not every waiting request on
 * a timer of its own. The first success, of the probe or of any request
 * still in flight, brings it up and wakes every waiting request at once; so
 * delivery resumes within about a second of the backend answering again,
 * however long the outage was. A Retry-After (or a rate limit) holds the
 * whole destination for as long as the backend asked; `flush()` and `end()`
 * make a waiting probe go at once (`hurry`), but never cut a Retry-After.
 */
import type { BackendError } from '../contract/errors.js';
import { type RetryPolicy, retryDelay } from '../contract/retry.js';
import { Alarm } from './alarm.js';

/** Statuses of a gateway or server saying the backend behind it cannot serve anyone now. */
const UNAVAILABLE_STATUS = new Set([502, 503, 504]);

export interface HealthOptions {
  retry: RetryPolicy;
  /** The longest wait between two probes of a backend that does not answer. Default 1000 ms. */
  probeMaxDelayMs?: number;
  random?: () => number;
}

export type Admission = 'go' | 'probe' | 'wait';

export class DestinationHealth {
  private readonly retry: RetryPolicy;
  private readonly probeMaxDelayMs: number;
  private readonly random: () => number;
  private down = false;
  /** When the destination went down (epoch ms), for the log line when it is back. */
  private downSince = 0;
  private failures = 0;
  private answerCount = 0;
  private probing = false;
  /** Nothing goes before this (a Retry-After). */
  private pausedUntil = 0;
  /** While down: the next probe goes at this time. */
  private probeAt = 0;
  private readonly alarm = new Alarm(() => this.notify());
  private readonly listeners = new Set<() => void>();

  constructor(options: HealthOptions) {
    this.retry = options.retry;
    this.probeMaxDelayMs = options.probeMaxDelayMs ?? 1000;
    this.random = options.random ?? Math.random;
  }

  /** Whether an error is about the destination as a whole rather than about one request. */
  static isDestinationWide(error: BackendError): boolean {
    return (
      error.code === 'BACKEND_UNREACHABLE' ||
      error.code === 'BACKEND_RATE_LIMITED' ||
      error.retryAfterMs !== undefined ||
      (error.statusCode !== undefined && UNAVAILABLE_STATUS.has(error.statusCode))
    );
  }

  get isDown(): boolean {
    return this.down;
  }

  /** How many answers came so far: a request that failed twice with answers between was alone. */
  get answers(): number {
    return this.answerCount;
  }

  /** Since when (epoch ms) it has been down; 0 while up. */
  get since(): number {
    return this.down ? this.downSince : 0;
  }

  /**
   * May a request start now? 'go': any number, as the sender schedules them;
   * 'probe': one, the probe (call `probeStarted`); 'wait': none now, and a
   * listener is called when that may have changed.
   */
  admit(now = Date.now()): Admission {
    if (now < this.pausedUntil) {
      this.alarm.set(this.pausedUntil);
      return 'wait';
    }
    if (!this.down) return 'go';
    if (this.probing) return 'wait';
    if (now < this.probeAt) {
      this.alarm.set(this.probeAt);
      return 'wait';
    }
    return 'probe';
  }

  probeStarted(): void {
    this.probing = true;
  }

  /** The backend answered (a success, or a refusal of one request: it is there). */
  answered(): void {
    this.answerCount += 1;
    this.probing = false;
    this.failures = 0;
    if (!this.down) return;
    this.down = false;
    this.notify();
  }

  /**
   * A request failed in a way that is about the destination (see
   * `isDestinationWide`), or the only request that can go failed (creating the
   * run). `wasProbe`: it was the probe. `delayMs`: wait this long instead of
   * the probe backoff (a backend that answered and failed gets the retry
   * policy's own backoff).
   */
  failed(error: BackendError, wasProbe: boolean, now = Date.now(), delayMs?: number): void {
    if (wasProbe) this.probing = false;
    if (!this.down) {
      this.down = true;
      this.downSince = now;
    }
    this.failures += 1;
    const attempt = this.failures - 1;
    if (error.retryAfterMs !== undefined) {
      const pause = Math.min(error.retryAfterMs, this.retry.maxRetryAfterMs);
      this.pausedUntil = Math.max(this.pausedUntil, now + pause);
      this.probeAt = this.pausedUntil;
    } else if (delayMs !== undefined || error.code === 'BACKEND_RATE_LIMITED') {
      // It answered: back off as its own clients do, not at the short probe cadence.
      this.probeAt = now + (delayMs ?? retryDelay(this.retry, attempt, undefined, this.random));
    } else {
      const backoff = {
        ...this.retry,
        maxDelayMs: Math.min(this.retry.maxDelayMs, this.probeMaxDelayMs),
      };
      this.probeAt = now + retryDelay(backoff, attempt, undefined, this.random);
    }
    this.notify();
  }

  /** flush() or end(): a waiting probe goes now (a Retry-After still holds). */
  hurry(now = Date.now()): void {
    if (!this.down || this.probing || this.probeAt <= now) return;
    this.probeAt = now;
    this.notify();
  }

  /** Calls `listener` whenever a request may have become admissible. Returns the undo. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops its timer (the delivery is over). */
  close(): void {
    this.alarm.clear();
    this.listeners.clear();
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}
