/**
 * The sender: takes tasks (requests, uploads, the final status) when it can
 * send one, and runs them against the backend with one retry loop for all of
 * them. It keeps up to `concurrency` in flight (one, in order, for a flavor
 * with ordered writes), paces writes (`minWriteIntervalMs`), and asks the
 * destination's health (health.ts) before each start, so an outage costs one
 * probe at a time, not a timer per task.
 *
 * A retryable failure about the destination (unreachable, rate limited, a
 * gateway's 502/503/504, a Retry-After) takes the health down and the task
 * waits for it; any other retryable failure is the task's own (one request a
 * backend keeps failing) and the task backs off under the retry policy while
 * others go on, unless writes are ordered. `hurry()` (flush, end) skips the
 * pacing wait and every backoff, and sends the probe at once.
 */
import { type BackendError, toBackendError } from '../contract/errors.js';
import { type RetryPolicy, retryDelay } from '../contract/retry.js';
import { Alarm } from './alarm.js';
import { DestinationHealth } from './health.js';

export interface SenderOptions<T> {
  /** Tasks in flight at once; 1 with `ordered`. */
  concurrency: number;
  /** A task that failed goes again before any later one, and nothing passes it. */
  ordered: boolean;
  /** At least this long between the starts of two writes (0: no pacing). */
  minWriteIntervalMs: number;
  retry: RetryPolicy;
  health: DestinationHealth;
  /** The next task to send, when there is one. */
  next(): T | undefined;
  isWrite(task: T): boolean;
  execute(task: T): Promise<void>;
  /** The task is done: acknowledged (no error), or refused for good (the error). */
  settled(task: T, error: BackendError | undefined): void;
  /**
   * A task failed and goes again: `destinationWide` when the failure took the destination's
   * health down (called before the health hears of it, so a warning can say why).
   */
  retried(task: T, error: BackendError, destinationWide: boolean): void;
  /** For the debug line of a retry. */
  describe(task: T): string;
  log(message: string): void;
}

interface Entry<T> {
  task: T;
  /** Order in which tasks were taken: retries go back in this order. */
  seq: number;
  attempts: number;
  /** A task that failed on its own does not go again before this (epoch ms). */
  retryAt: number;
  /** The health's answer count when it last failed about the destination. */
  answersAtFailure: number;
}

export class Sender<T> {
  private readonly options: SenderOptions<T>;
  private readonly retries: Entry<T>[] = [];
  private inflightCount = 0;
  private seq = 0;
  private lastWriteAt = 0;
  private urgentCount = 0;
  private stopped = false;
  private readonly alarm = new Alarm(() => this.pump());
  private readonly unlisten: () => void;

  constructor(options: SenderOptions<T>) {
    this.options = options;
    this.unlisten = options.health.onChange(() => this.pump());
  }

  get inflight(): number {
    return this.inflightCount;
  }

  /** Tasks that failed and wait to go again. */
  get waiting(): number {
    return this.retries.length;
  }

  /** Nothing in flight and nothing waiting to go again. */
  get idle(): boolean {
    return this.inflightCount === 0 && this.retries.length === 0;
  }

  /** Starts every task that may start now. */
  pump(): void {
    const { options } = this;
    const concurrency = options.ordered ? 1 : Math.max(1, options.concurrency);
    while (!this.stopped && this.inflightCount < concurrency) {
      const admission = options.health.admit();
      if (admission === 'wait') return;
      const entry = this.nextEntry();
      if (entry === undefined) return;
      if (admission === 'probe') {
        options.health.probeStarted();
        this.launch(entry, true);
        return;
      }
      this.launch(entry, false);
    }
  }

  /** While urgent (a flush or an end waits): no pacing, no backoff of a task's own. */
  hurry(): void {
    this.urgentCount += 1;
    for (const entry of this.retries) entry.retryAt = 0;
    this.options.health.hurry();
    this.pump();
  }

  /** One `hurry()` is over. */
  calm(): void {
    this.urgentCount = Math.max(0, this.urgentCount - 1);
  }

  /** Starts nothing more; what is in flight finishes on its own. */
  stop(): void {
    this.stopped = true;
    this.alarm.clear();
    this.unlisten();
  }

  /** A task that failed and may go again now, else a fresh one (pacing allowing). */
  private nextEntry(): Entry<T> | undefined {
    const now = Date.now();
    const head = this.retries[0];
    if (head !== undefined) {
      if (head.retryAt <= now) return this.retries.shift();
      this.alarm.set(head.retryAt);
      // In order, nothing passes a task that waits to go again.
      if (this.options.ordered) return undefined;
      const ready = this.retries.findIndex((entry) => entry.retryAt <= now);
      if (ready !== -1) return this.retries.splice(ready, 1)[0];
    }
    const interval = this.options.minWriteIntervalMs;
    if (interval > 0 && this.urgentCount === 0 && this.lastWriteAt > 0) {
      const wait = this.lastWriteAt + interval - now;
      if (wait > 0) {
        // Taking a task now would cut the batcher's window short: wait, and let it fill.
        this.alarm.set(now + wait);
        return undefined;
      }
    }
    const task = this.options.next();
    if (task === undefined) return undefined;
    this.seq += 1;
    return { task, seq: this.seq, attempts: 0, retryAt: 0, answersAtFailure: -1 };
  }

  private launch(entry: Entry<T>, probe: boolean): void {
    this.inflightCount += 1;
    if (this.options.isWrite(entry.task)) this.lastWriteAt = Date.now();
    void this.run(entry, probe);
  }

  private async run(entry: Entry<T>, probe: boolean): Promise<void> {
    const { options } = this;
    let failure: BackendError | undefined;
    try {
      await options.execute(entry.task);
    } catch (error) {
      failure = toBackendError(error);
    }
    this.inflightCount -= 1;
    if (failure === undefined || !failure.retryable) {
      options.health.answered();
      options.settled(entry.task, failure);
    } else {
      entry.attempts += 1;
      const destinationWide = DestinationHealth.isDestinationWide(failure);
      options.retried(entry.task, failure, destinationWide);
      if (destinationWide) {
        // It goes again as soon as the destination answers. A task that failed again although
        // the backend answered others in between (one request the backend keeps refusing as
        // "unavailable") backs off on its own instead of holding the probe cadence.
        const alone =
          entry.answersAtFailure >= 0 && options.health.answers > entry.answersAtFailure;
        entry.answersAtFailure = options.health.answers;
        entry.retryAt =
          alone && this.urgentCount === 0
            ? Date.now() + retryDelay(options.retry, entry.attempts - 1)
            : 0;
        options.health.failed(failure, probe);
      } else {
        options.health.answered();
        entry.retryAt =
          this.urgentCount > 0 ? 0 : Date.now() + retryDelay(options.retry, entry.attempts - 1);
      }
      options.log(
        `${options.describe(entry.task)} failed (${failure.message}); it goes again ${
          entry.retryAt > Date.now()
            ? `in ${Math.round(entry.retryAt - Date.now())} ms`
            : 'when the backend answers'
        }`,
      );
      this.requeue(entry);
    }
    this.pump();
  }

  /** Back among the tasks waiting to go again, in the order they were first taken. */
  private requeue(entry: Entry<T>): void {
    let at = this.retries.length;
    while (at > 0 && this.retries[at - 1]!.seq > entry.seq) at -= 1;
    this.retries.splice(at, 0, entry);
  }
}
