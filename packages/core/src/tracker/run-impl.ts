/**
 * The run behind the `Run` interface, with the engine's side of it: what the
 * process hooks call (`journalNow`, `endInJournalNow`) and what `openRun`
 * hands over (journal writer, buffer, deliveries).
 */
import { stat } from 'node:fs/promises';
import { basename, relative, resolve } from 'node:path';
import { TrackstackError, ValidationError } from '../contract/errors.js';
import type { LoggingLimits } from '../contract/limits.js';
import type { Logger } from '../contract/log.js';
import type { FinalRunStatus, KeyValue, RunRef, RunStatus } from '../contract/types.js';
import type { ConsoleRecorder } from '../engine/console.js';
import { captureProcessConsole } from '../engine/console.js';
import type { Delivery, DeliveryStatus } from '../engine/delivery.js';
import type { JournalWriter } from '../engine/journal.js';
import {
  type ArtifactRecord,
  type BatchRecord,
  type EndRecord,
  type ImageEntry,
  type InputRecord,
  keyValuePairs,
  type MediaBody,
  type MediaRecord,
} from '../engine/journal-records.js';
import {
  checkTable,
  encodeTableFile,
  type HistogramInput,
  histogramOf,
  type ImageValue,
  type LoadedImage,
  loadImage,
} from '../engine/media.js';
import type { MetricBuffer } from '../engine/metric-buffer.js';
import type { RunDir, RunMeta } from '../engine/run-dir.js';
import {
  contentTypeOf,
  hashFile,
  listFiles,
  normalizeArtifactPath,
  stageBytes,
  stageFile,
  toPosix,
} from '../engine/staging.js';
import {
  checkParamConflict,
  type DatasetInputOptions,
  flattenParams,
  normalizeDatasetInput,
  normalizeMetricValue,
  normalizeStep,
  normalizeTag,
  normalizeTags,
  normalizeTimestamp,
  validateKey,
} from '../engine/validation.js';
import type {
  ArtifactOptions,
  ConsoleOptions,
  DestinationReport,
  EndOptions,
  EndReport,
  HistogramOptions,
  ImageOptions,
  MediaOptions,
  MetricOptions,
  Run,
  StartRunOptions,
  TableInput,
} from './run.js';

/** What `openRun` (open-run.ts) hands a run. */
export interface RunParts {
  meta: RunMeta;
  dir: RunDir;
  writer: JournalWriter;
  buffer: MetricBuffer;
  limits: LoggingLimits;
  deliveries: Delivery[];
  loggedParams: Map<string, string>;
  logger: Logger;
  flushIntervalMs: number;
  endTimeoutMs: number;
  parent: Run | undefined;
  /** Starts a child run with the tracker that started this one. */
  startChild: (options: StartRunOptions) => Promise<Run>;
  /** Joined a run another process owns: ending only flushes and delivers. */
  attached: boolean;
  /** Destinations of an offline run: everything waits in the journal for `sync`. */
  offlineDestinations: string[];
  /** Called once the run has ended, to forget it (process hooks). */
  onEnded: (run: RunImpl) => void;
  /** Console output cut into lines, numbered on from the run's earlier lines. */
  console: ConsoleRecorder;
  /** Tee process.stdout/stderr into the run until it ends. */
  captureConsole: boolean;
}

export class RunImpl implements Run {
  /** trackstack's id of the run (UUIDv7); also the backend tag `trackstack.uid`. */
  readonly uid: string;
  readonly experiment: string;
  readonly name: string;
  readonly startTime: number;
  /** The run's directory in the store (journal, staged artifacts, delivery state). */
  readonly dir: string;
  readonly parent: Run | undefined;
  readonly parentUid: string | undefined;
  private readonly parts: RunParts;
  private readonly buffer: MetricBuffer;
  private readonly limits: LoggingLimits;
  private pendingParams: KeyValue[] = [];
  private pendingTags: KeyValue[] = [];
  private journaledEvents = 0;
  private ending: Promise<EndReport> | undefined;
  private endStatus: FinalRunStatus | undefined;
  private timer: NodeJS.Timeout | undefined;
  private monitor: { stop(): void } | undefined;
  /** The warning said when the owner ended the run under this attached process. */
  private warnedOwnerEnded: string | undefined;
  private inputsWarned = false;
  /** `destination\0kind` pairs already warned about (a backend without that media kind). */
  private readonly mediaWarned = new Set<string>();
  private releaseConsole: (() => void) | undefined;
  private warnedAttachedConsole = false;
  /** Set by process hooks when the process is going down with an error. */
  failedByProcess = false;

  constructor(parts: RunParts) {
    this.parts = parts;
    this.uid = parts.meta.uid;
    this.experiment = parts.meta.experiment;
    this.name = parts.meta.name;
    this.startTime = parts.meta.startTime;
    this.dir = parts.dir.path;
    this.parent = parts.parent;
    this.parentUid = parts.meta.parentUid;
    this.buffer = parts.buffer;
    this.limits = parts.limits;
    if (parts.flushIntervalMs > 0) {
      this.timer = setInterval(() => {
        this.flushToJournal();
        if (parts.attached) this.ownerEnded();
      }, parts.flushIntervalMs);
      this.timer.unref();
    }
    if (parts.captureConsole) {
      if (parts.attached) {
        this.warnAttachedConsole();
      } else {
        this.releaseConsole = captureProcessConsole((stream, text) => {
          if (this.ending === undefined) this.logConsole(text, { stream });
        });
      }
    }
  }

  /** Where a person looks at the run: the first destination's page, else the run's directory. */
  get url(): string {
    for (const delivery of this.parts.deliveries) {
      const url = delivery.runRef?.url;
      if (url !== undefined) return url;
    }
    return `file://${this.dir}`;
  }

  /** The backend refs known so far, by destination name. */
  get refs(): Record<string, RunRef | undefined> {
    return Object.fromEntries(this.parts.deliveries.map((d) => [d.destination, d.runRef]));
  }

  /** The backend ref of one destination, waiting for the backend run to be created if need be. */
  startChild(options: StartRunOptions = {}): Promise<Run> {
    return this.parts.startChild(options);
  }

  async backendRef(destination: string): Promise<RunRef | undefined> {
    return this.parts.deliveries.find((d) => d.destination === destination)?.ensureRun();
  }

  get status(): RunStatus {
    return this.endStatus ?? 'RUNNING';
  }

  /** Whether this process joined a run another process owns (see StartRunOptions.attach). */
  get attached(): boolean {
    return this.parts.attached;
  }

  get ended(): boolean {
    return this.ending !== undefined;
  }

  /** The strictest limits of the run's destinations: what every call is checked against. */
  get effectiveLimits(): Readonly<LoggingLimits> {
    return this.limits;
  }

  logMetric(key: string, value: number, options?: MetricOptions): void {
    if (this.ending !== undefined) this.throwEnded();
    let index = this.buffer.indexOf(key);
    if (index === -1) index = this.buffer.addKey(validateKey(key, 'metric', this.limits));
    if (typeof value !== 'number') value = normalizeMetricValue(key, value);
    let step = 0;
    let timestamp: number;
    if (options === undefined) {
      timestamp = Date.now();
    } else {
      const s = options.step;
      if (s !== undefined) {
        step =
          typeof s === 'number' && Number.isSafeInteger(s) && s >= 0 ? s : normalizeStep(key, s);
      }
      const t = options.timestamp;
      timestamp = t === undefined ? Date.now() : normalizeTimestamp(key, t);
    }
    if (this.buffer.push(index, value, step, timestamp)) this.flushToJournal();
  }

  /** Logs several metrics at one step and time; all are checked before any is logged. */
  logMetrics(values: Record<string, number>, options?: MetricOptions): void {
    if (this.ending !== undefined) this.throwEnded();
    if (typeof values !== 'object' || values === null) {
      throw new ValidationError(
        'INVALID_VALUE',
        '(metrics)',
        'value-type',
        'metrics must be an object',
      );
    }
    const keys = Object.keys(values);
    const step =
      options?.step === undefined ? 0 : normalizeStep(keys[0] ?? '(metrics)', options.step);
    const timestamp =
      options?.timestamp === undefined
        ? Date.now()
        : normalizeTimestamp(keys[0] ?? '(metrics)', options.timestamp);
    for (const key of keys) {
      if (this.buffer.indexOf(key) === -1) validateKey(key, 'metric', this.limits);
      const value = values[key];
      if (typeof value !== 'number') normalizeMetricValue(key, value);
    }
    for (const key of keys) {
      let index = this.buffer.indexOf(key);
      if (index === -1) index = this.buffer.addKey(key);
      const value = values[key]!;
      const number = typeof value === 'number' ? value : normalizeMetricValue(key, value);
      if (this.buffer.push(index, number, step, timestamp)) this.flushToJournal();
    }
  }

  logParam(key: string, value: unknown): void {
    this.logParams({ [key]: value });
  }

  /**
   * Logs params. Nested objects are flattened with '.', arrays logged as JSON
   * (see the README). A param logged again with another value throws
   * PARAM_CONFLICT; nothing from a call that throws is logged.
   */
  logParams(params: Record<string, unknown>): void {
    if (this.ending !== undefined) this.throwEnded();
    const entries = flattenParams(params, this.limits);
    const seen = new Map(this.parts.loggedParams);
    const fresh: KeyValue[] = [];
    for (const entry of entries) {
      if (checkParamConflict(seen, entry)) {
        seen.set(entry.key, entry.value);
        fresh.push(entry);
      }
    }
    for (const entry of fresh) {
      this.parts.loggedParams.set(entry.key, entry.value);
      this.pendingParams.push(entry);
    }
  }

  setTag(key: string, value: string | number | boolean): void {
    if (this.ending !== undefined) this.throwEnded();
    this.pendingTags.push(normalizeTag(key, value, this.limits));
  }

  /** Sets tags; the last value of a key wins. */
  setTags(tags: Record<string, string | number | boolean>): void {
    if (this.ending !== undefined) this.throwEnded();
    for (const entry of normalizeTags(tags, this.limits)) this.pendingTags.push(entry);
  }

  /**
   * Logs console output: `\n` ends a line, `\r` rewrites the current one (see
   * ConsoleLine). Text need not be whole lines; an open line is journaled as it
   * stands and updated later. A process that attached to another's run logs
   * none (its numbering would collide with the owner's): it warns once.
   */
  logConsole(text: string, options: ConsoleOptions = {}): void {
    if (this.ending !== undefined) this.throwEnded();
    if (typeof text !== 'string') {
      throw new ValidationError(
        'INVALID_VALUE',
        '(console)',
        'value-type',
        'console text must be a string',
      );
    }
    const stream = options.stream ?? 'stdout';
    if (stream !== 'stdout' && stream !== 'stderr') {
      throw new ValidationError(
        'INVALID_VALUE',
        '(console)',
        'value-type',
        "console stream must be 'stdout' or 'stderr'",
      );
    }
    if (this.parts.attached) {
      this.warnAttachedConsole();
      return;
    }
    const timestamp =
      options.timestamp === undefined
        ? Date.now()
        : normalizeTimestamp('(console)', options.timestamp);
    this.parts.console.write(stream, text, timestamp);
    if (this.parts.console.pendingLines >= 1000) this.flushToJournal();
  }

  /**
   * Logs a file, or a directory recursively. Each file is copied into the run's
   * directory (copy-on-write where the file system can) before this resolves,
   * so the upload cannot miss a file the script later deletes or overwrites.
   */
  async logArtifact(path: string, options: ArtifactOptions = {}): Promise<void> {
    if (this.ending !== undefined) this.throwEnded();
    const source = resolve(path);
    const target = normalizeArtifactPath(options.artifactPath ?? basename(source));
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(source);
    } catch {
      throw new TrackstackError('ARTIFACT_NOT_FOUND', `artifact ${source} does not exist`);
    }
    const files: { source: string; target: string }[] = [];
    if (info.isFile()) {
      files.push({ source, target });
    } else if (info.isDirectory()) {
      for (const file of await listFiles(source, this.parts.logger)) {
        files.push({ source: file, target: `${target}/${toPosix(relative(source, file))}` });
      }
    } else {
      throw new TrackstackError(
        'ARTIFACT_NOT_FOUND',
        `artifact ${source} is neither a regular file nor a directory`,
      );
    }
    const staged: Omit<ArtifactRecord, 'q'>[] = [];
    for (const file of files) staged.push(await this.stage(file.source, file.target));
    if (this.ending !== undefined) this.throwEnded();
    this.flushToJournal();
    for (const record of staged) {
      this.parts.writer.append<ArtifactRecord>(record);
      this.journaledEvents += 1;
    }
    this.wakeDeliveries();
  }

  async logInput(input: DatasetInputOptions): Promise<void> {
    if (this.ending !== undefined) this.throwEnded();
    let file: { path: string; digest: string } | undefined;
    const path = (input as { path?: unknown } | null)?.path;
    if (path !== undefined) {
      if (typeof path !== 'string') {
        throw new ValidationError(
          'INVALID_VALUE',
          'input.path',
          'value-type',
          'path must be a string',
        );
      }
      const absolute = resolve(path);
      let digest: string;
      try {
        if (!(await stat(absolute)).isFile()) throw new Error('not a file');
        digest = (await hashFile(absolute)).sha256;
      } catch {
        throw new ValidationError(
          'INVALID_VALUE',
          'input.path',
          'value-type',
          `${absolute} is not a readable file`,
        );
      }
      file = { path: absolute, digest: digest.slice(0, 16) };
    }
    const normalized = normalizeDatasetInput(input, file);
    if (this.ending !== undefined) this.throwEnded();
    this.flushToJournal();
    this.parts.writer.append<InputRecord>({ t: 'i', input: normalized });
    this.journaledEvents += 1;
    if (!this.inputsWarned) {
      const without = this.parts.deliveries.filter((d) => !d.takesInputs).map((d) => d.destination);
      if (without.length > 0) {
        this.inputsWarned = true;
        this.parts.logger.warn(
          `trackstack: ${without.join(', ')} do${without.length === 1 ? 'es' : ''} not record dataset inputs; the run's journal keeps them (trackstack runs show)`,
        );
      }
    }
    this.wakeDeliveries();
  }

  async logImage(
    key: string,
    value: Uint8Array | string | ImageValue,
    options: ImageOptions = {},
  ): Promise<void> {
    if (this.ending !== undefined) this.throwEnded();
    const at = this.mediaAt(key, options);
    const loaded = await loadImage(key, value, options.caption);
    const entry = await this.stageImage(loaded);
    this.journalMedia({ t: 'm', ...at, kind: 'image', image: entry });
  }

  async logTable(key: string, table: TableInput, options: MediaOptions = {}): Promise<void> {
    if (this.ending !== undefined) this.throwEnded();
    const at = this.mediaAt(key, options);
    const checked = checkTable(key, table);
    const loaded: LoadedImage[] = [];
    for (const { value, where } of checked.images) loaded.push(await loadImage(where, value));
    const images: ImageEntry[] = [];
    for (const image of loaded) images.push(await this.stageImage(image));
    const staged = await stageBytes(
      this.dir,
      this.parts.dir.artifactsDir,
      Buffer.from(encodeTableFile(checked), 'utf8'),
    );
    this.journalMedia({
      t: 'm',
      ...at,
      kind: 'table',
      table: { ...staged, columns: checked.columns.length, rows: checked.rows.length },
      images,
    });
  }

  logHistogram(key: string, values: HistogramInput, options: HistogramOptions = {}): void {
    if (this.ending !== undefined) this.throwEnded();
    const at = this.mediaAt(key, options);
    const { bins, counts } = histogramOf(key, values, options.bins);
    this.journalMedia({ t: 'm', ...at, kind: 'histogram', bins, counts });
  }

  async logText(path: string, text: string): Promise<void> {
    if (typeof text !== 'string') {
      throw new ValidationError('INVALID_VALUE', path, 'value-type', 'logText takes a string');
    }
    await this.logBytes(path, Buffer.from(text, 'utf8'));
  }

  async logJson(path: string, value: unknown): Promise<void> {
    let text: string | undefined;
    try {
      text = JSON.stringify(value, null, 2);
    } catch (error) {
      throw new ValidationError(
        'INVALID_VALUE',
        path,
        'value-circular',
        `cannot be written as JSON: ${(error as Error).message}`,
      );
    }
    if (text === undefined) {
      throw new ValidationError('INVALID_VALUE', path, 'value-type', `${typeof value} is not JSON`);
    }
    await this.logBytes(path, Buffer.from(text, 'utf8'));
  }

  /**
   * Writes what is buffered to the journal and waits until every destination
   * acknowledged it (or `timeoutMs` passed). Throws the first typed error a
   * destination refused data with since the run started.
   */
  async flush(options: EndOptions = {}): Promise<EndReport> {
    this.flushToJournal();
    const report = await this.drain(options.timeoutMs ?? this.parts.endTimeoutMs, 'RUNNING');
    const error = report.destinations.flatMap((d) => d.errors)[0];
    if (error !== undefined) throw error;
    return report;
  }

  /**
   * Ends the run: journals the final status, waits a bounded time for delivery,
   * and reports what is left. Never throws for a backend; calling it again
   * returns the same report.
   */
  end(status: FinalRunStatus = 'FINISHED', options: EndOptions = {}): Promise<EndReport> {
    this.ending ??= this.finish(status, options.timeoutMs ?? this.parts.endTimeoutMs);
    return this.ending;
  }

  /** `await using run = ...`: ends FINISHED (FAILED when the process is going down with an error). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.end(this.failedByProcess ? 'FAILED' : 'FINISHED');
  }

  /**
   * Journals what is buffered, synchronously. Called on a timer, when the
   * buffer fills, before artifacts and status, and from the process hooks.
   */
  flushToJournal(): void {
    if (this.parts.writer.closed) return;
    const drained = this.buffer.drain(this.parts.writer.wantsColumns);
    const metrics = drained?.block;
    const console = this.parts.console.drain();
    if (
      metrics === undefined &&
      console === undefined &&
      this.pendingParams.length === 0 &&
      this.pendingTags.length === 0
    ) {
      return;
    }
    const record: Omit<BatchRecord, 'q'> = { t: 'b' };
    if (this.pendingParams.length > 0) record.p = keyValuePairs(this.pendingParams);
    if (this.pendingTags.length > 0) record.g = keyValuePairs(this.pendingTags);
    if (metrics !== undefined) record.m = metrics;
    if (console !== undefined) record.o = console;
    this.journaledEvents +=
      this.pendingParams.length +
      this.pendingTags.length +
      (metrics?.n ?? 0) +
      (console?.length ?? 0);
    this.pendingParams = [];
    this.pendingTags = [];
    this.parts.writer.append<BatchRecord>(record, drained?.columns, drained?.view);
    this.wakeDeliveries();
  }

  /**
   * Journals the final status synchronously, for a process that is going down
   * (signal or crash): `trackstack sync` delivers it later.
   */
  endInJournalNow(status: FinalRunStatus): void {
    if (this.endStatus !== undefined || this.parts.writer.closed) return;
    this.stopConsoleCapture();
    this.flushToJournal();
    if (!this.parts.attached) this.writeEnd(status);
  }

  private writeEnd(status: FinalRunStatus): void {
    this.endStatus = status;
    const time = Date.now();
    this.parts.writer.append<EndRecord>({ t: 'e', status, time });
    this.journaledEvents += 1;
    this.parts.writer.sync();
    this.parts.dir.writeMeta({ ...this.parts.meta, status, endTime: time });
    this.wakeDeliveries();
  }

  /** The system-metrics monitor of this run: it stops when the run starts ending. */
  attachMonitor(monitor: { stop(): void }): void {
    this.monitor = monitor;
  }

  private async finish(status: FinalRunStatus, timeoutMs: number): Promise<EndReport> {
    this.monitor?.stop();
    if (this.timer !== undefined) clearInterval(this.timer);
    this.stopConsoleCapture();
    if (this.parts.attached) {
      this.flushToJournal();
    } else if (this.endStatus === undefined) {
      this.flushToJournal();
      this.writeEnd(status);
    }
    // An attached process does not end the run: its report speaks of delivery only, and of
    // the run's status when its owner ended it meanwhile.
    const endedBy = this.parts.attached ? this.ownerEnded() : undefined;
    const drained = await this.drain(
      timeoutMs,
      this.parts.attached ? 'RUNNING' : (this.endStatus ?? status),
    );
    const report =
      endedBy === undefined
        ? drained
        : { ...drained, status: endedBy, hint: drained.hint ?? this.ownerEndedMessage(endedBy) };
    for (const delivery of this.parts.deliveries) await delivery.stop();
    this.parts.writer.close();
    this.parts.onEnded(this);
    if (report.hint !== undefined && report.hint !== this.warnedOwnerEnded) {
      this.parts.logger.warn(report.hint);
    }
    return report;
  }

  /**
   * For a process that attached to another's run: the run's final status when its owner
   * ended it while this process still logs (said once, as a warning), else undefined. What
   * this process logs is still journaled and delivered; the status stays the owner's.
   */
  private ownerEnded(): RunStatus | undefined {
    let status: RunStatus;
    try {
      status = this.parts.dir.readMeta().status;
    } catch {
      return undefined;
    }
    if (status === 'RUNNING') return undefined;
    if (this.warnedOwnerEnded === undefined) {
      this.warnedOwnerEnded = this.ownerEndedMessage(status);
      this.parts.logger.warn(this.warnedOwnerEnded);
    }
    return status;
  }

  private ownerEndedMessage(status: RunStatus): string {
    const { pid, host } = this.parts.meta.owner;
    return `run ${this.uid} was ended (${status}) by the process that owns it (pid ${pid} on ${host}) while this process still logs to it: what this process logs is still kept and delivered, but the run stays ${status}; end a run from its owner only once every process is done (a barrier)`;
  }

  /**
   * Waits until every destination acknowledged what this process journaled up
   * to now (the writer's last record: not "until delivery looks idle", which
   * can happen before it has read the newest records).
   */
  private async drain(timeoutMs: number, status: RunStatus): Promise<EndReport> {
    const deadline = Date.now() + timeoutMs;
    const lastRecord = this.parts.writer.seq - 1;
    const statuses = await Promise.all(
      this.parts.deliveries.map((d) => d.drain(deadline, lastRecord)),
    );
    const destinations = statuses.map((s) => this.destinationReport(s));
    for (const name of this.parts.offlineDestinations) {
      destinations.push({
        name,
        url: undefined,
        runId: undefined,
        pendingEvents: this.journaledEvents,
        finished: false,
        errors: [],
      });
    }
    const pendingEvents = destinations.reduce((sum, d) => sum + d.pendingEvents, 0);
    return {
      uid: this.uid,
      status,
      destinations,
      pendingEvents,
      hint:
        pendingEvents > 0 || destinations.some((d) => status !== 'RUNNING' && !d.finished)
          ? `run ${this.uid}: ${pendingEvents} event(s) not delivered yet to ${destinations
              .filter((d) => d.pendingEvents > 0 || !d.finished)
              .map((d) => d.name)
              .join(
                ', ',
              )}${retryingNote(statuses, destinations)}; they are safe in the journal: deliver them with \`trackstack sync ${this.uid}\``
          : undefined,
    };
  }

  private destinationReport(status: DeliveryStatus): DestinationReport {
    return {
      name: status.destination,
      url: status.ref?.url,
      runId: status.ref?.runId,
      pendingEvents: Math.max(0, this.journaledEvents - status.ackedEvents),
      finished: status.finished,
      errors: status.errors,
    };
  }

  private stopConsoleCapture(): void {
    this.releaseConsole?.();
    this.releaseConsole = undefined;
  }

  private warnAttachedConsole(): void {
    if (this.warnedAttachedConsole) return;
    this.warnedAttachedConsole = true;
    this.parts.logger.warn(
      `run ${this.uid}: console output is logged by the process that owns the run, not by an attached one`,
    );
  }

  private wakeDeliveries(): void {
    for (const delivery of this.parts.deliveries) delivery.wake();
  }

  /** The key, step and time of a media call, checked. */
  private mediaAt(key: string, options: MediaOptions): { key: string; step: number; ts: number } {
    validateKey(key, 'media', this.limits);
    return {
      key,
      step: options.step === undefined ? 0 : normalizeStep(key, options.step),
      ts: options.timestamp === undefined ? Date.now() : normalizeTimestamp(key, options.timestamp),
    };
  }

  private async stageImage(image: LoadedImage): Promise<ImageEntry> {
    const staged = await stageBytes(this.dir, this.parts.dir.artifactsDir, image.bytes);
    return {
      ...staged,
      ...image.info,
      ...(image.caption === undefined ? {} : { caption: image.caption }),
      ...(image.fileName === undefined ? {} : { fileName: image.fileName }),
    };
  }

  private journalMedia(
    record: { t: 'm'; key: string; step: number; ts: number } & MediaBody,
  ): void {
    if (this.ending !== undefined) this.throwEnded();
    this.flushToJournal();
    this.parts.writer.append<MediaRecord>(record as MediaRecord);
    this.journaledEvents += 1;
    const missing = this.parts.deliveries
      .filter((d) => !d.takesMedia.has(record.kind))
      .map((d) => d.destination)
      .filter((destination) => !this.mediaWarned.has(`${destination}\u0000${record.kind}`));
    if (missing.length > 0) {
      for (const destination of missing) this.mediaWarned.add(`${destination}\u0000${record.kind}`);
      this.parts.logger.warn(
        `trackstack: ${missing.join(', ')} do${missing.length === 1 ? 'es' : ''} not record ${record.kind}s; the run's journal keeps them (trackstack runs show)`,
      );
    }
    this.wakeDeliveries();
  }

  /** Stages bytes as an artifact at `path` (logText, logJson). */
  private async logBytes(path: string, bytes: Uint8Array): Promise<void> {
    if (this.ending !== undefined) this.throwEnded();
    const target = normalizeArtifactPath(path);
    const staged = await stageBytes(this.dir, this.parts.dir.artifactsDir, bytes);
    if (this.ending !== undefined) this.throwEnded();
    this.flushToJournal();
    this.parts.writer.append<ArtifactRecord>({
      t: 'a',
      path: target,
      ...staged,
      ct: await contentTypeOf(target),
    });
    this.journaledEvents += 1;
    this.wakeDeliveries();
  }

  private async stage(source: string, target: string): Promise<Omit<ArtifactRecord, 'q'>> {
    const staged = await stageFile(this.dir, this.parts.dir.artifactsDir, source);
    return { t: 'a', path: target, ...staged, ct: await contentTypeOf(target) };
  }

  private throwEnded(): never {
    throw new TrackstackError(
      'RUN_ENDED',
      `run ${this.uid} has ended; start a new run to log more`,
    );
  }
}

/** Why events still wait, as each destination's last retryable failure says it. */
function retryingNote(
  statuses: readonly DeliveryStatus[],
  reports: readonly DestinationReport[],
): string {
  const notes = statuses.flatMap((status, i) =>
    status.retrying === undefined || reports[i]!.pendingEvents === 0
      ? []
      : [`${status.destination} last failed with: ${status.retrying}`],
  );
  return notes.length === 0 ? '' : ` (${notes.join('; ')})`;
}
