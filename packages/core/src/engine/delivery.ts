/**
 * Delivery: moves a run's journal to one destination (a tracker), from each
 * segment's cursor onwards. It is the same code live (following the segment
 * this process writes) and in `sync` (reading every segment to its end).
 *
 * Records are cut into batches that fit the flavor's limits; each batch is
 * retried under the retry policy; a segment's cursor advances only over
 * records whose every batch was acknowledged, so a crash replays at most the
 * records that were in flight, and flavors make those replays idempotent.
 */
import { join } from 'node:path';
import type { BaseExperimentTracker } from '../base-tracker.js';
import { type BackendError, toBackendError } from '../errors.js';
import type { Logger } from '../log.js';
import type {
  ArtifactUpload,
  ConsoleLine,
  FinalRunStatus,
  FlavorLimits,
  RunInit,
  RunRef,
  WriteBatch,
} from '../types.js';
import {
  consoleLineOf,
  type DataRecord,
  type DecodedMetrics,
  decodeMetrics,
  JournalReader,
  type JournalTail,
  recordEvents,
} from './journal.js';
import { lazyMetricsBatch, type MetricSlice } from './metric-batch.js';
import { type RetryPolicy, retryDelay, sleep } from './retry.js';
import { RunDir, type SegmentCursor } from './run-dir.js';

/** Read ahead no further than this many queued tasks: memory stays bounded whatever the backend does. */
const MAX_QUEUED_TASKS = 32;
const READ_CHUNK_BYTES = 1024 * 1024;
const CURSOR_PERSIST_MS = 250;

export interface DeliveryOptions {
  runDir: RunDir;
  destination: string;
  tracker: BaseExperimentTracker<any>;
  /** What to create the backend run from, when the destination has no ref yet. */
  init: () => Promise<RunInit>;
  /** Segments to deliver, in order. */
  segments: string[];
  /** The segment this process is writing, and its writer's in-memory tail. */
  live?: { segment: string; tail: JournalTail } | undefined;
  retry: RetryPolicy;
  logger: Logger;
  /** When every segment is read and none held an end record, finish the run with this status. */
  finishIfNoEnd?: FinalRunStatus | undefined;
}

interface PendingRecord {
  q: number;
  events: number;
  /** Tasks (including the open batch) that still carry part of this record. */
  remaining: number;
  /** Every unit of the record was put into some task. */
  sealed: boolean;
}

interface Segment {
  name: string;
  reader: JournalReader;
  cursor: SegmentCursor;
  pending: PendingRecord[];
  dirty: boolean;
  exhausted: boolean;
}

type Task =
  | {
      kind: 'write';
      /** Its points are `metrics` (shared with the batch): `batch.metrics` is built on first read. */
      batch: WriteBatch;
      metrics: MetricSlice[];
      metricCount: number;
      bytes: number;
      parts: Part[];
    }
  | { kind: 'artifact'; artifact: ArtifactUpload; parts: Part[] }
  | { kind: 'finish'; status: FinalRunStatus; endTime: number; parts: Part[] };

interface Part {
  segment: Segment;
  record: PendingRecord;
}

interface OpenBatch {
  params: Map<string, string>;
  tags: Map<string, string>;
  metrics: MetricSlice[];
  metricCount: number;
  /** By line number: a line sent again (it was still open) replaces the earlier text. */
  console: Map<number, ConsoleLine>;
  bytes: number;
  parts: Part[];
}

export interface DeliveryStatus {
  destination: string;
  ref: RunRef | undefined;
  /** Events read from the journal and not yet acknowledged by this destination. */
  pendingEvents: number;
  /** Events acknowledged (or refused, see `errors`) since this delivery started. */
  ackedEvents: number;
  finished: boolean;
  errors: BackendError[];
}

export class Delivery {
  readonly destination: string;
  readonly errors: BackendError[] = [];
  private readonly options: DeliveryOptions;
  private readonly tracker: BaseExperimentTracker<any>;
  private readonly limits: FlavorLimits;
  private readonly concurrency: number;
  private readonly segments: Segment[] = [];
  private readonly tasks: Task[] = [];
  private open: OpenBatch | undefined;
  private finishPlan: { status: FinalRunStatus; endTime: number; part: Part } | undefined;
  private ref: RunRef | undefined;
  private finished = false;
  private fatal: BackendError | undefined;
  private inflight = 0;
  private pausedUntil = 0;
  private unacked = 0;
  private acked = 0;
  private sawEnd = false;
  private pauseTimer: NodeJS.Timeout | undefined;
  private readonly minWriteIntervalMs: number;
  private readonly console: boolean;
  private lastWriteAt = 0;
  /** Set by drain() until idle: pacing waits are skipped. */
  private urgent = false;
  private readonly abort = new AbortController();
  private wakeUp: (() => void) | undefined;
  private idleWaiters: (() => void)[] = [];
  private loop: Promise<void> | undefined;
  private cursorTimer: NodeJS.Timeout | undefined;
  private createStarted: Promise<RunRef | undefined> | undefined;
  private warnedUnreachable = false;

  constructor(options: DeliveryOptions) {
    this.options = options;
    this.destination = options.destination;
    this.tracker = options.tracker;
    this.limits = options.tracker.limits;
    const capabilities = options.tracker.capabilities;
    this.concurrency = capabilities.orderedWrites ? 1 : Math.max(1, capabilities.maxConcurrency);
    this.minWriteIntervalMs = capabilities.minWriteIntervalMs ?? 0;
    this.console = capabilities.console === true;
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
   * Waits until everything there is now was delivered (and the run finished,
   * if its end was journaled), the delivery failed, or `deadline` passed.
   */
  async drain(deadline: number): Promise<DeliveryStatus> {
    this.start();
    this.urgent = true;
    this.wake();
    if (this.fatal !== undefined) return this.status();
    const idle = new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    const remaining = deadline - Date.now();
    if (remaining > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        idle,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, remaining);
        }),
      ]);
      clearTimeout(timer);
    }
    await this.persistCursors();
    return this.status();
  }

  status(): DeliveryStatus {
    return {
      destination: this.destination,
      ref: this.ref,
      pendingEvents: this.unacked,
      ackedEvents: this.acked,
      finished: this.finished,
      errors: [...this.errors],
    };
  }

  /** Stops retrying and reading; what is not delivered stays in the journal. */
  async stop(): Promise<void> {
    this.abort.abort();
    this.wake();
    await this.loop;
    await this.persistCursors();
  }

  private async createRun(): Promise<RunRef | undefined> {
    const state = await this.options.runDir.readDeliveryState(this.destination);
    if (state.finished !== undefined) this.finished = true;
    const existing = state.ref;
    for (let attempt = 0; !this.abort.signal.aborted; attempt++) {
      try {
        const ref = existing
          ? await this.tracker.resumeRun(existing, { reopen: state.finished === undefined })
          : await this.tracker.createRun(await this.options.init());
        this.ref = ref;
        await this.options.runDir.writeDeliveryState(this.destination, {
          ...state,
          ref,
        });
        if (this.warnedUnreachable) {
          this.options.logger.info(`${this.destination}: backend reachable again, delivering`);
        }
        this.wake();
        return ref;
      } catch (error) {
        const backendError = toBackendError(error);
        if (!backendError.retryable) {
          this.fail(backendError);
          return undefined;
        }
        if (!this.warnedUnreachable) {
          this.warnedUnreachable = true;
          this.options.logger.warn(
            `${this.destination}: cannot reach the backend (${backendError.message}); logging to the journal and retrying in the background`,
          );
        }
        await sleep(retryDelay(this.options.retry, attempt, backendError), this.abort.signal);
      }
    }
    return undefined;
  }

  private fail(error: BackendError): void {
    this.fatal = error;
    this.errors.push(error);
    this.options.logger.warn(
      `${this.destination}: ${error.message}; the run stays in the journal (deliver it later with \`trackstack sync ${this.options.runDir.uid}\`)`,
    );
    this.notifyIdle();
  }

  private async run(): Promise<void> {
    for (const name of this.options.segments) {
      this.segments.push({
        name,
        reader: new JournalReader(
          this.options.runDir.segmentPath(name),
          this.options.live?.segment === name ? this.options.live.tail : undefined,
        ),
        cursor: await this.options.runDir.readCursor(this.destination, name),
        pending: [],
        dirty: false,
        exhausted: false,
      });
    }
    const ref = await this.ensureRun();
    if (ref === undefined) return;
    while (!this.abort.signal.aborted && this.fatal === undefined) {
      const wake = new Promise<void>((resolve) => {
        this.wakeUp = resolve;
      });
      const readSome = this.tasks.length < MAX_QUEUED_TASKS && (await this.readMore());
      this.launch();
      if (this.isIdle()) this.notifyIdle();
      if (!readSome) await wake;
    }
    this.notifyIdle();
  }

  private isIdle(): boolean {
    return (
      this.tasks.length === 0 &&
      this.inflight === 0 &&
      this.open === undefined &&
      this.finishPlan === undefined &&
      this.segments.every((segment) => segment.exhausted)
    );
  }

  private notifyIdle(): void {
    this.urgent = false;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Reads new records from the segments and cuts them into tasks; says whether any came. */
  private async readMore(): Promise<boolean> {
    let readSome = false;
    for (const segment of this.segments) {
      const records = await segment.reader.read(READ_CHUNK_BYTES);
      segment.exhausted = records.length === 0;
      readSome ||= records.length > 0;
      for (const record of records) {
        if (record.t === 'e' && !this.superseded(record.time)) this.sawEnd = true;
        if (record.q <= segment.cursor.q) continue;
        this.cut(segment, record);
      }
      // A chunk is cut whole (it is bounded by READ_CHUNK_BYTES); read no further until tasks drain.
      if (this.tasks.length >= MAX_QUEUED_TASKS) break;
    }
    if (this.segments.every((segment) => segment.exhausted)) {
      this.closeBatch();
      this.planFinish();
    }
    return readSome;
  }

  private cut(segment: Segment, record: DataRecord): void {
    const pending: PendingRecord = {
      q: record.q,
      events: recordEvents(record),
      remaining: 0,
      sealed: false,
    };
    segment.pending.push(pending);
    this.unacked += pending.events;
    const part: Part = { segment, record: pending };
    switch (record.t) {
      case 'b': {
        for (const [key, value] of record.p ?? []) this.addParam(part, key, value);
        for (const [key, value] of record.g ?? []) this.addTag(part, key, value);
        if (record.m !== undefined) {
          this.addMetrics(part, decodeMetrics(record.m), record.m.n);
        }
        // Flavors without the capability get none: the journal keeps them.
        if (this.console) {
          for (const entry of record.o ?? []) this.addConsole(part, consoleLineOf(entry));
        }
        break;
      }
      case 'a': {
        this.closeBatch();
        if (this.tracker.capabilities.artifacts) {
          pending.remaining += 1;
          this.tasks.push({
            kind: 'artifact',
            artifact: {
              localPath: join(this.options.runDir.path, record.file),
              path: record.path,
              size: record.size,
              sha256: record.sha256,
              contentType: record.ct,
            },
            parts: [part],
          });
        }
        break;
      }
      case 'e': {
        // The run was resumed after this end: it is history, not the run's status.
        if (this.superseded(record.time)) break;
        this.closeBatch();
        pending.remaining += 1;
        this.finishPlan = { status: record.status, endTime: record.time, part };
        break;
      }
    }
    pending.sealed = true;
    this.advance(segment);
  }

  private superseded(endTime: number): boolean {
    return RunDir.endSuperseded(endTime, this.options.segments);
  }

  private openBatch(part: Part): OpenBatch {
    let batch = this.open;
    if (batch === undefined) {
      batch = {
        params: new Map(),
        tags: new Map(),
        metrics: [],
        metricCount: 0,
        console: new Map(),
        bytes: 64,
        parts: [],
      };
      this.open = batch;
    }
    const last = batch.parts[batch.parts.length - 1];
    if (last?.record !== part.record) {
      part.record.remaining += 1;
      batch.parts.push(part);
    }
    return batch;
  }

  private entities(batch: OpenBatch): number {
    return batch.params.size + batch.tags.size + batch.metricCount + batch.console.size;
  }

  private fits(batch: OpenBatch, bytes: number): boolean {
    return (
      this.entities(batch) < this.limits.maxEntitiesPerBatch &&
      batch.bytes + bytes <= this.limits.maxBatchBytes
    );
  }

  private addParam(part: Part, key: string, value: string): void {
    let batch = this.openBatch(part);
    const bytes = key.length + value.length + 32;
    const previous = batch.params.get(key);
    if (previous === value) return;
    if (
      previous !== undefined ||
      batch.params.size >= this.limits.maxParamsPerBatch ||
      !this.fits(batch, bytes)
    ) {
      this.closeBatch();
      batch = this.openBatch(part);
    }
    batch.params.set(key, value);
    batch.bytes += bytes;
  }

  private addTag(part: Part, key: string, value: string): void {
    let batch = this.openBatch(part);
    const bytes = key.length + value.length + 32;
    if (
      !batch.tags.has(key) &&
      (batch.tags.size >= this.limits.maxTagsPerBatch || !this.fits(batch, bytes))
    ) {
      this.closeBatch();
      batch = this.openBatch(part);
    }
    batch.tags.set(key, value);
    batch.bytes += bytes;
  }

  /**
   * Adds a block's `n` points, in order, as one point at a time would: a
   * point that does not fit (`maxMetricsPerBatch`, `fits`) closes the batch
   * and goes into a new one. Runs of points that fit are added as one slice.
   */
  private addMetrics(part: Part, columns: DecodedMetrics, n: number): void {
    const { keys, k } = columns;
    const { maxMetricsPerBatch, maxEntitiesPerBatch, maxBatchBytes } = this.limits;
    let i = 0;
    while (i < n) {
      let batch = this.openBatch(part);
      const others = batch.params.size + batch.tags.size + batch.console.size;
      let count = batch.metricCount;
      let bytes = batch.bytes;
      const start = i;
      for (; i < n; i++) {
        const size = keys[k[i]!]!.length + 72;
        // The checks addMetric made per point: room for one more metric, entity and its bytes.
        if (
          count >= maxMetricsPerBatch ||
          count + others >= maxEntitiesPerBatch ||
          bytes + size > maxBatchBytes
        ) {
          break;
        }
        count += 1;
        bytes += size;
      }
      if (i > start) this.addSlice(batch, columns, start, i, bytes);
      if (i < n) {
        // Point i does not fit: it starts the next batch, whatever its size.
        this.closeBatch();
        batch = this.openBatch(part);
        this.addSlice(batch, columns, i, i + 1, batch.bytes + keys[k[i]!]!.length + 72);
        i += 1;
      }
    }
  }

  /** Points `[start, end)` of `columns` join the batch, which then has `bytes` bytes. */
  private addSlice(
    batch: OpenBatch,
    columns: DecodedMetrics,
    start: number,
    end: number,
    bytes: number,
  ): void {
    const last = batch.metrics[batch.metrics.length - 1];
    if (last !== undefined && last.columns === columns && last.end === start) last.end = end;
    else batch.metrics.push({ columns, start, end });
    batch.metricCount += end - start;
    batch.bytes = bytes;
  }

  private addConsole(part: Part, line: ConsoleLine): void {
    let batch = this.openBatch(part);
    const bytes = line.text.length + 48;
    if (!batch.console.has(line.line) && !this.fits(batch, bytes)) {
      this.closeBatch();
      batch = this.openBatch(part);
    }
    batch.console.set(line.line, line);
    batch.bytes += bytes;
  }

  private closeBatch(): void {
    const batch = this.open;
    if (batch === undefined) return;
    this.open = undefined;
    const write = lazyMetricsBatch(
      [...batch.params].map(([key, value]) => ({ key, value })),
      [...batch.tags].map(([key, value]) => ({ key, value })),
      batch.metrics,
    );
    if (batch.console.size > 0) write.console = sortedLines(batch.console.values());
    this.tasks.push({
      kind: 'write',
      batch: write,
      metrics: batch.metrics,
      metricCount: batch.metricCount,
      bytes: batch.bytes,
      parts: batch.parts,
    });
  }

  /** The final status goes out last, once everything before it was acknowledged. */
  private planFinish(): void {
    const status = this.options.finishIfNoEnd;
    const segment = this.segments[this.segments.length - 1];
    if (status === undefined || segment === undefined) return;
    if (this.sawEnd || this.finished || this.finishPlan !== undefined) return;
    const record: PendingRecord = { q: segment.cursor.q, events: 0, remaining: 1, sealed: true };
    this.finishPlan = { status, endTime: Date.now(), part: { segment, record } };
  }

  private launch(): void {
    const pause = this.pausedUntil - Date.now();
    if (pause > 0) {
      this.wakeAfter(pause);
      return;
    }
    while (this.inflight < this.concurrency) {
      if (this.tasks[0]?.kind === 'write' && this.minWriteIntervalMs > 0) {
        const wait = this.lastWriteAt + this.minWriteIntervalMs - Date.now();
        if (wait > 0 && !this.urgent && this.finishPlan === undefined) {
          this.wakeAfter(wait);
          return;
        }
        this.mergeHeadWrites();
      }
      let task = this.tasks.shift();
      if (task === undefined) {
        const plan = this.finishPlan;
        if (plan === undefined || this.inflight > 0 || this.open !== undefined) return;
        if (!this.segments.every((segment) => segment.exhausted)) return;
        this.finishPlan = undefined;
        if (this.finished) {
          this.complete({
            kind: 'finish',
            status: plan.status,
            endTime: plan.endTime,
            parts: [plan.part],
          });
          continue;
        }
        task = { kind: 'finish', status: plan.status, endTime: plan.endTime, parts: [plan.part] };
      }
      if (task.kind === 'write') this.lastWriteAt = Date.now();
      this.inflight += 1;
      void this.execute(task);
    }
  }

  /** Nothing else may wake the loop when a pause ends: a timer does. */
  private wakeAfter(ms: number): void {
    if (this.pauseTimer !== undefined) return;
    this.pauseTimer = setTimeout(() => {
      this.pauseTimer = undefined;
      this.wake();
    }, ms);
    this.pauseTimer.unref();
  }

  /** Merges the writes queued behind the first one into it, as far as the limits allow. */
  private mergeHeadWrites(): void {
    const first = this.tasks[0];
    if (first?.kind !== 'write') return;
    const limits = this.limits;
    for (let next = this.tasks[1]; next?.kind === 'write'; next = this.tasks[1]) {
      const a = first.batch;
      const b = next.batch;
      const metrics = first.metricCount + next.metricCount;
      const params = new Map(a.params.map((p) => [p.key, p.value]));
      const conflict = b.params.some((p) => params.has(p.key) && params.get(p.key) !== p.value);
      const tags = new Set([...a.tags, ...b.tags].map((t) => t.key)).size;
      const lines = new Set([...(a.console ?? []), ...(b.console ?? [])].map((l) => l.line)).size;
      const fits =
        !conflict &&
        metrics <= limits.maxMetricsPerBatch &&
        a.params.length + b.params.length <= limits.maxParamsPerBatch &&
        tags <= limits.maxTagsPerBatch &&
        metrics + a.params.length + b.params.length + tags + lines <= limits.maxEntitiesPerBatch &&
        first.bytes + next.bytes <= limits.maxBatchBytes;
      if (!fits) return;
      for (const param of b.params) if (!params.has(param.key)) a.params.push(param);
      const merged = new Map([...a.tags, ...b.tags].map((t) => [t.key, t.value]));
      a.tags = [...merged].map(([key, value]) => ({ key, value }));
      for (const slice of next.metrics) first.metrics.push(slice);
      first.metricCount = metrics;
      if (b.console !== undefined) {
        const merged = new Map((a.console ?? []).map((l) => [l.line, l]));
        for (const line of b.console) merged.set(line.line, line);
        a.console = sortedLines(merged.values());
      }
      first.bytes += next.bytes;
      for (const part of next.parts) first.parts.push(part);
      this.tasks.splice(1, 1);
    }
  }

  private async execute(task: Task): Promise<void> {
    const ref = this.ref!;
    for (let attempt = 0; ; attempt++) {
      const wait = this.pausedUntil - Date.now();
      if (wait > 0) await sleep(wait, this.abort.signal);
      if (this.abort.signal.aborted) break;
      try {
        switch (task.kind) {
          case 'write':
            await this.tracker.writeBatch(ref, task.batch);
            break;
          case 'artifact':
            await this.tracker.uploadArtifact(ref, task.artifact);
            break;
          case 'finish':
            await this.tracker.finishRun(ref, task.status, task.endTime);
            this.finished = true;
            await this.options.runDir.writeDeliveryState(this.destination, {
              ref,
              finished: task.status,
            });
            break;
        }
        this.complete(task);
        break;
      } catch (error) {
        const backendError = toBackendError(error);
        if (!backendError.retryable) {
          this.reject(task, backendError);
          break;
        }
        const delay = retryDelay(this.options.retry, attempt, backendError);
        if (backendError.retryAfterMs !== undefined) {
          this.pausedUntil = Math.max(this.pausedUntil, Date.now() + delay);
        }
        this.options.logger.debug(
          `${this.destination}: ${task.kind} failed (${backendError.message}); retry in ${Math.round(delay)} ms`,
        );
        await sleep(delay, this.abort.signal);
      }
    }
    this.inflight -= 1;
    this.wake();
  }

  private reject(task: Task, error: BackendError): void {
    this.errors.push(error);
    this.options.logger.warn(
      `${this.destination}: the backend refused a ${task.kind} (${error.message}); the rest of the run is still delivered`,
    );
    for (const { segment, record } of task.parts) {
      segment.cursor.rejected ??= [];
      segment.cursor.rejected.push({ q: record.q, code: error.code, message: error.message });
    }
    this.complete(task);
  }

  private complete(task: Task): void {
    for (const { segment, record } of task.parts) {
      record.remaining -= 1;
      this.advance(segment);
    }
  }

  /** Moves the segment's cursor over every leading record that is fully acknowledged. */
  private advance(segment: Segment): void {
    let moved = false;
    while (segment.pending.length > 0) {
      const head = segment.pending[0]!;
      if (!head.sealed || head.remaining > 0) break;
      segment.pending.shift();
      segment.cursor.q = head.q;
      this.unacked -= head.events;
      this.acked += head.events;
      moved = true;
    }
    if (moved) {
      segment.dirty = true;
      this.scheduleCursorPersist();
    }
  }

  private scheduleCursorPersist(): void {
    if (this.cursorTimer !== undefined) return;
    this.cursorTimer = setTimeout(() => {
      this.cursorTimer = undefined;
      void this.persistCursors();
    }, CURSOR_PERSIST_MS);
    this.cursorTimer.unref();
  }

  private async persistCursors(): Promise<void> {
    if (this.cursorTimer !== undefined) {
      clearTimeout(this.cursorTimer);
      this.cursorTimer = undefined;
    }
    for (const segment of this.segments) {
      if (!segment.dirty) continue;
      segment.dirty = false;
      await this.options.runDir.writeCursor(this.destination, segment.name, {
        ...segment.cursor,
      });
    }
  }
}

function sortedLines(lines: Iterable<ConsoleLine>): ConsoleLine[] {
  return [...lines].sort((x, y) => x.line - y.line);
}
