/**
 * Delivery: moves a run's journal to one destination, from each segment's
 * cursor on. It is the same code live (following the segment this process
 * writes) and in `sync` (reading every segment to its end). It only wires the
 * stages together:
 *
 *   journal segments --read--> batcher --take--> sender --ack--> cursors
 *
 * and creates (or finds again) the backend run before anything is sent. The
 * run's final status goes last, once everything before it was acknowledged.
 */
import { join } from 'node:path';
import type { ExperimentBackend } from '../contract/backend.js';
import { type BackendError, toBackendError } from '../contract/errors.js';
import type { Logger } from '../contract/log.js';
import { type RetryPolicy, retryDelay } from '../contract/retry.js';
import type { FinalRunStatus, MediaKind, RunInit, RunRef } from '../contract/types.js';
import { Batcher, type Task } from './batcher.js';
import { type PendingRecord, SegmentCursors } from './cursors.js';
import { DeliveryNotices, SLOW_REQUEST_MS } from './delivery-notices.js';
import { DestinationHealth } from './health.js';
import { JournalReader } from './journal.js';
import { recordEvents } from './journal-records.js';
import type { JournalTail } from './journal-tail.js';
import { deliveredMedia } from './media.js';
import { type DeliveryState, ownerAlive, RunDir, type RunMeta } from './run-dir.js';
import { Sender } from './sender.js';

/** Read ahead no further than this many tasks: memory stays bounded whatever the backend does. */
const MAX_QUEUED_TASKS = 32;
const READ_CHUNK_BYTES = 1024 * 1024;

export interface DeliveryOptions {
  runDir: RunDir;
  destination: string;
  backend: ExperimentBackend;
  /** What to create the backend run from, when the destination has no ref yet. */
  init: () => Promise<RunInit>;
  /** Segments to deliver, in order. */
  segments: string[];
  /** The segment this process is writing, and its writer's in-memory tail. */
  live?: { segment: string; tail: JournalTail | undefined } | undefined;
  retry: RetryPolicy;
  logger: Logger;
  /**
   * This process joined a run another process owns (training ranks, `trackstack run`
   * children): the owner creates the backend run, and this delivery waits for the owner's
   * ref rather than race it (two creates of one run at once can make two backend runs).
   * Should the owner be gone before it made one, this process finds or creates it.
   */
  attached?: boolean;
}

/** How often an attached delivery looks for the owner's backend ref. */
const OWNER_REF_POLL_MS = 100;

export interface DeliveryStatus {
  destination: string;
  ref: RunRef | undefined;
  /** Events read from the journal and not yet acknowledged by this destination. */
  pendingEvents: number;
  /** Events acknowledged (or refused, see `errors`) since this delivery started. */
  ackedEvents: number;
  finished: boolean;
  errors: BackendError[];
  /** While events wait: the last retryable failure, with what it usually means. */
  retrying: string | undefined;
}

interface SegmentReader {
  name: string;
  reader: JournalReader;
  /** Read to its end (for a segment nobody writes any more: for good). */
  exhausted: boolean;
}

interface Waiter {
  /** The live segment's record that must be acknowledged (its `q`). */
  liveQ: number;
  resolve: () => void;
}

export class Delivery {
  readonly destination: string;
  /** Whether the backend records dataset inputs (`capabilities.inputs` and `logInput`). */
  readonly takesInputs: boolean;
  /** The media kinds the backend records (`capabilities.media` and `logMedia`). */
  readonly takesMedia: ReadonlySet<MediaKind>;
  readonly errors: BackendError[] = [];
  private readonly options: DeliveryOptions;
  private readonly backend: ExperimentBackend;
  private readonly health: DestinationHealth;
  private readonly batcher: Batcher<PendingRecord>;
  private readonly sender: Sender<Task<PendingRecord>>;
  private readonly readers: SegmentReader[] = [];
  private cursors: SegmentCursors | undefined;
  private finishPlan: { status: FinalRunStatus; endTime: number; part: PendingRecord } | undefined;
  private ref: RunRef | undefined;
  private finished = false;
  private fatal: BackendError | undefined;
  private readonly abort = new AbortController();
  private wakeUp: (() => void) | undefined;
  private waiters: Waiter[] = [];
  private loop: Promise<void> | undefined;
  private ready: Promise<void> | undefined;
  private createStarted: Promise<RunRef | undefined> | undefined;
  private readonly notices: DeliveryNotices;

  constructor(options: DeliveryOptions) {
    this.options = options;
    this.destination = options.destination;
    this.backend = options.backend;
    const { capabilities, limits } = options.backend;
    this.takesInputs =
      capabilities.inputs === true && typeof options.backend.logInput === 'function';
    this.takesMedia = new Set(
      typeof options.backend.logMedia === 'function' ? (capabilities.media ?? []) : [],
    );
    this.health = new DestinationHealth({ retry: options.retry });
    this.notices = new DeliveryNotices(options.destination, options.logger);
    this.batcher = new Batcher<PendingRecord>({
      limits: limits.request,
      console: capabilities.console === true,
      artifacts: capabilities.artifacts,
      inputs: this.takesInputs,
      media: this.takesMedia,
      metricOrder: capabilities.orderedWrites ? 'logged' : (capabilities.metricOrder ?? 'logged'),
      retain: (part, n) => {
        part.remaining += n;
      },
      stagedPath: (file) => join(options.runDir.path, file),
    });
    this.sender = new Sender<Task<PendingRecord>>({
      concurrency: capabilities.maxConcurrency,
      ordered: capabilities.orderedWrites,
      minWriteIntervalMs: capabilities.minWriteIntervalMs ?? 0,
      retry: options.retry,
      health: this.health,
      next: () => this.nextTask(),
      isWrite: (task) => task.kind === 'write',
      execute: (task) => this.execute(task),
      settled: (task, error) => this.settled(task, error),
      retried: (_task, error, destinationWide) => this.notices.retried(error, destinationWide),
      describe: (task) => `${this.destination}: ${task.kind}`,
      log: (message) => options.logger.debug(message),
    });
    this.health.onChange(() => this.reportHealth());
  }

  /** The backend run's ref, once known. */
  get runRef(): RunRef | undefined {
    return this.ref;
  }

  /**
   * Creates (or finds again) the backend run. Retries until it succeeds, a
   * non-retryable error comes back, or the delivery is stopped.
   */
  ensureRun(): Promise<RunRef | undefined> {
    this.createStarted ??= this.createRun();
    return this.createStarted;
  }

  /** Starts delivering in the background. */
  start(): void {
    this.loop ??= this.run().catch((error) => {
      this.fail(toBackendError(error));
    });
  }

  /** New records were appended: look again. */
  wake(): void {
    const wake = this.wakeUp;
    this.wakeUp = undefined;
    wake?.();
  }

  /**
   * Waits until every record there is now was acknowledged (or refused): the
   * live segment's records up to `liveQ` (the writer's last record at the
   * call), every other segment to its end. Resolves early when the delivery
   * failed, and at `deadline` in any case. Until then nothing sleeps: pacing
   * waits and backoffs are skipped and a waiting probe goes at once.
   */
  async drain(deadline: number, liveQ = 0): Promise<DeliveryStatus> {
    this.start();
    this.sender.hurry();
    this.wake();
    try {
      await this.ready;
      if (!this.drained(liveQ)) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          new Promise<void>((resolve) => this.waiters.push({ liveQ, resolve })),
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
          }),
        ]);
        clearTimeout(timer);
      }
    } finally {
      this.sender.calm();
    }
    await this.cursors?.persist();
    return this.status();
  }

  status(): DeliveryStatus {
    return {
      destination: this.destination,
      ref: this.ref,
      pendingEvents: this.cursors?.unacked ?? 0,
      ackedEvents: this.cursors?.acked ?? 0,
      finished: this.finished,
      errors: [...this.errors],
      retrying: this.notices.retrying,
    };
  }

  /** An attached process's wait for the owner's backend ref (or for the owner to be gone). */
  private async ownerState(first: DeliveryState): Promise<DeliveryState> {
    let state = first;
    while (state.ref === undefined && !this.abort.signal.aborted) {
      let owner: RunMeta['owner'] | undefined;
      try {
        owner = this.options.runDir.readMeta().owner;
      } catch {
        return state;
      }
      if (!ownerAlive(owner)) return state;
      await new Promise((resolve) => setTimeout(resolve, OWNER_REF_POLL_MS));
      state = await this.options.runDir.readDeliveryState(this.destination);
    }
    return state;
  }

  /** Stops retrying and reading; what is not delivered stays in the journal. */
  async stop(): Promise<void> {
    this.abort.abort();
    this.sender.stop();
    this.health.close();
    this.wake();
    await this.loop;
    await this.cursors?.persist();
  }

  private async createRun(): Promise<RunRef | undefined> {
    let state = await this.options.runDir.readDeliveryState(this.destination);
    if (this.options.attached) state = await this.ownerState(state);
    if (state.finished !== undefined) this.finished = true;
    const existing = state.ref;
    for (let attempt = 0; !this.abort.signal.aborted; attempt++) {
      const admission = this.health.admit();
      if (admission === 'wait') {
        await this.healthChange();
        attempt -= 1;
        continue;
      }
      if (admission === 'probe') this.health.probeStarted();
      try {
        const init = existing === undefined ? await this.options.init() : undefined;
        const ref = await this.timed('create', () =>
          existing
            ? this.backend.resumeRun(existing, { reopen: state.finished === undefined })
            : this.backend.createRun(init!),
        );
        this.health.answered();
        this.ref = ref;
        await this.options.runDir.writeDeliveryState(this.destination, { ...state, ref });
        this.wake();
        return ref;
      } catch (error) {
        const backendError = toBackendError(error);
        if (!backendError.retryable) {
          this.health.answered();
          this.fail(backendError);
          return undefined;
        }
        this.notices.retried(backendError, true);
        // Nothing else can go before the run exists: any failure holds the destination.
        this.health.failed(
          backendError,
          admission === 'probe',
          Date.now(),
          DestinationHealth.isDestinationWide(backendError)
            ? undefined
            : retryDelay(this.options.retry, attempt),
        );
      }
    }
    return undefined;
  }

  /** Resolves when the health may admit a request again, or the delivery stops. */
  private healthChange(): Promise<void> {
    return new Promise((resolve) => {
      const undo = this.health.onChange(done);
      const signal = this.abort.signal;
      signal.addEventListener('abort', done, { once: true });
      function done() {
        undo();
        signal.removeEventListener('abort', done);
        resolve();
      }
    });
  }

  /** Says once per outage that the backend is gone (and why), and when it is back. */
  private reportHealth(): void {
    if (this.health.isDown) {
      if (this.ref !== undefined) this.notices.down();
    } else {
      this.notices.up();
    }
  }

  /**
   * Runs one request, and says so when it has had no answer for SLOW_REQUEST_MS (uploads
   * excepted: a large file takes as long as it takes).
   */
  private async timed<T>(kind: string, request: () => Promise<T>): Promise<T> {
    const started = Date.now();
    const timer =
      kind === 'artifact' || kind === 'media'
        ? undefined
        : setTimeout(() => this.notices.slow(kind, Date.now() - started), SLOW_REQUEST_MS);
    timer?.unref();
    try {
      const result = await request();
      this.notices.answered(Date.now() - started < SLOW_REQUEST_MS);
      return result;
    } finally {
      clearTimeout(timer);
    }
  }

  private fail(error: BackendError): void {
    this.fatal = error;
    this.errors.push(error);
    this.options.logger.warn(
      `${this.destination}: ${error.message}; the run stays in the journal (deliver it later with \`trackstack sync ${this.options.runDir.uid}\`)`,
    );
    this.resolveWaiters();
  }

  private async run(): Promise<void> {
    const { runDir } = this.options;
    let markReady: () => void = () => {};
    this.ready = new Promise((resolve) => {
      markReady = resolve;
    });
    try {
      this.cursors = await SegmentCursors.load(runDir, this.destination, this.options.segments);
      this.cursors.onAdvance(() => this.resolveWaiters());
      for (const name of this.options.segments) {
        const live = this.options.live?.segment === name ? this.options.live : undefined;
        this.readers.push({
          name,
          reader: new JournalReader(runDir.segmentPath(name), live?.tail),
          exhausted: false,
        });
      }
    } finally {
      markReady();
    }
    const ref = await this.ensureRun();
    if (ref === undefined) return;
    while (!this.abort.signal.aborted && this.fatal === undefined) {
      const wake = new Promise<void>((resolve) => {
        this.wakeUp = resolve;
      });
      const readSome = this.batcher.queued < MAX_QUEUED_TASKS && (await this.readMore());
      this.sender.pump();
      this.resolveWaiters();
      if (!readSome) await wake;
    }
    this.resolveWaiters();
  }

  /** Reads new records from the segments into the batcher; says whether any came. */
  private async readMore(): Promise<boolean> {
    const cursors = this.cursors!;
    let readSome = false;
    for (const segment of this.readers) {
      if (segment.exhausted && !this.isLive(segment.name)) continue;
      const records = await segment.reader.read(READ_CHUNK_BYTES);
      segment.exhausted = records.length === 0;
      readSome ||= records.length > 0;
      const state = cursors.segment(segment.name);
      for (const record of records) {
        if (record.q <= state.cursor.q) continue;
        const part = cursors.track(state, record.q, recordEvents(record));
        if (record.t === 'e') {
          // The run was resumed after this end: it is history, not the run's status.
          if (!RunDir.endSuperseded(record.time, this.options.segments)) {
            this.finishPlan = { status: record.status, endTime: record.time, part };
            part.remaining += 1;
          }
        } else {
          this.batcher.add(part, record);
        }
        cursors.seal(part);
      }
      // A chunk is cut whole (it is bounded by READ_CHUNK_BYTES); read no further until tasks go.
      if (this.batcher.queued >= MAX_QUEUED_TASKS) break;
    }
    return readSome;
  }

  private isLive(name: string): boolean {
    return this.options.live?.segment === name;
  }

  /** What the sender sends next: the batcher's next request, else the final status, last. */
  private nextTask(): Task<PendingRecord> | undefined {
    const task = this.batcher.take();
    if (task !== undefined) return task;
    const plan = this.finishPlan;
    if (plan === undefined || !this.sender.idle) return undefined;
    if (!this.readers.every((segment) => segment.exhausted)) return undefined;
    this.finishPlan = undefined;
    const finish: Task<PendingRecord> = {
      kind: 'finish',
      status: plan.status,
      endTime: plan.endTime,
      parts: [plan.part],
    };
    if (!this.finished) return finish;
    // The backend has it already (an earlier delivery finished the run): nothing to send.
    this.settled(finish, undefined);
    return this.nextTask();
  }

  private execute(task: Task<PendingRecord>): Promise<void> {
    return this.timed(task.kind, () => this.send(task));
  }

  private async send(task: Task<PendingRecord>): Promise<void> {
    const ref = this.ref!;
    switch (task.kind) {
      case 'write':
        await this.backend.writeBatch(ref, task.batch);
        return;
      case 'artifact':
        await this.backend.uploadArtifact(ref, task.artifact);
        return;
      case 'input':
        await this.backend.logInput!(ref, task.input);
        return;
      case 'media':
        await this.backend.logMedia!(
          ref,
          await deliveredMedia(task.media, this.options.runDir.path),
        );
        return;
      case 'finish':
        await this.backend.finishRun(ref, task.status, task.endTime);
        this.finished = true;
        await this.options.runDir.writeDeliveryState(this.destination, {
          ref,
          finished: task.status,
        });
        return;
    }
  }

  private settled(task: Task<PendingRecord>, error: BackendError | undefined): void {
    const cursors = this.cursors!;
    if (error !== undefined) {
      this.errors.push(error);
      this.options.logger.warn(
        `${this.destination}: the backend refused a ${task.kind} (${error.message}); the rest of the run is still delivered`,
      );
      cursors.reject(task.parts, error);
    }
    cursors.release(task.parts);
    // The final status waits for an idle sender: look again now that one task less is out.
    this.wake();
  }

  /** Whether the journal up to the drain's target was acknowledged (or the delivery failed). */
  private drained(liveQ: number): boolean {
    if (this.fatal !== undefined) return true;
    const cursors = this.cursors;
    if (cursors === undefined) return false;
    for (const segment of this.readers) {
      const state = cursors.segment(segment.name);
      if (this.isLive(segment.name)) {
        if (state.cursor.q < liveQ) return false;
      } else if (!segment.exhausted || state.pending.length > 0) {
        return false;
      }
    }
    return true;
  }

  private resolveWaiters(): void {
    if (this.waiters.length === 0) return;
    const waiting = this.waiters;
    this.waiters = [];
    for (const waiter of waiting) {
      if (this.drained(waiter.liveQ)) waiter.resolve();
      else this.waiters.push(waiter);
    }
  }
}
