/**
 * An offline W&B run on disk, laid out and written the way `wandb.init(mode=
 * "offline")` of wandb 0.30.0 does, so that `wandb sync <dir>` uploads it:
 *
 * ```
 * <dir>/wandb/offline-run-YYYYMMDD_HHMMSS-<id>/   (local time, as the SDK)
 *   run-<id>.wandb              the transaction log
 *   run-<id>.wandb.syncstate    {"starting_step":0,"starting_runtime":0}
 *   files/                      files that `wandb sync` uploads
 * ```
 *
 * Records follow the SDK's order and shapes: header, run (with `_wandb: {}`
 * first in its config), then per history row a summary record with the row's
 * items followed by the history record (`wandb sync` builds the run summary
 * from summary records only), config and summary updates as they come, files,
 * then `_wandb.runtime`/`_runtime` and the exit record last (`wandb sync`
 * ignores records after exit, and marks a run without one as failed).
 *
 * The tracker's offline runs: `write`, `upload`, `finish` and `ref` take
 * trackstack's batches, artifacts and end (`WandbRun`); the other methods
 * write W&B's records one by one, as `wandb.init(mode="offline")`'s run does.
 */
import { randomInt } from 'node:crypto';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, isAbsolute, join, posix, sep } from 'node:path';
import {
  type ArtifactUpload,
  type DatasetInput,
  type FinalRunStatus,
  forEachMetric,
  type HistogramMedia,
  type ImageMedia,
  type RunRef,
  type TableMedia,
  type WriteBatch,
} from '@trackstack/core';
import { VERSION } from './version.js';
import { rawConsoleText } from './wandb-console.js';
import { histogramValue, imageValue, mediaItems } from './wandb-media.js';
import type { WandbMetadata } from './wandb-metadata.js';
import {
  encodeRecord,
  formatWandbNumber,
  type HistoryKey,
  HistoryRowEncoder,
  keyedItems,
  type WandbFilePolicy,
  type WandbOutputType,
  type WandbRecordBody,
} from './wandb-records.js';
import { EXIT_CODES, type WandbRun } from './wandb-run.js';
import { datasetConfig, paramValue } from './wandb-run-config.js';
import { isSystemKey, SystemSamples, type WandbSystemSample } from './wandb-system.js';
import { wandbTable } from './wandb-table.js';
import { WandbTransactionLogWriter } from './wandb-transaction-log.js';

export interface WandbOfflineRunOptions {
  /** The directory that gets (or has) the `wandb/` directory, like the SDK's `dir`. */
  dir: string;
  project: string;
  entity?: string;
  /** 8 characters of [a-z0-9] by default, like the SDK's. */
  runId?: string;
  displayName?: string;
  group?: string;
  jobType?: string;
  notes?: string;
  tags?: readonly string[];
  config?: Readonly<Record<string, unknown>>;
  /** Defaults to os.hostname(). */
  host?: string;
  /** Epoch ms; defaults to now. History `_runtime` is measured from it. */
  startTimeMs?: number;
  /** Written into the header record (wandb-core puts its own version there); nothing reads it. */
  producer?: string;
  /** The trackstack run's uid, kept in the run's ref. */
  uid?: string;
  /** Where the run ran: the run record's git, and an environment record (wandb-metadata.json). */
  metadata?: WandbMetadata;
}

const RUN_ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** A writer id like wandb-core's: 32 characters of [a-z0-9]. */
function generateWriterId(): string {
  let id = '';
  for (let i = 0; i < 32; i++) id += RUN_ID_ALPHABET[randomInt(RUN_ID_ALPHABET.length)];
  return id;
}

/** A run id like the SDK's: 8 characters of [a-z0-9]. */
export function generateWandbRunId(): string {
  let id = '';
  for (let i = 0; i < 8; i++) id += RUN_ID_ALPHABET[randomInt(RUN_ID_ALPHABET.length)];
  return id;
}

/** The key's entry for a row, once the key and the value are known to be good. */
function checkedKey(encoder: HistoryRowEncoder, name: string, value: unknown): HistoryKey {
  const key = encoder.key(name);
  if (key === undefined) {
    throw new TypeError(`W&B history key ${JSON.stringify(name)} is set by W&B itself`);
  }
  if (typeof value !== 'number') {
    throw new TypeError(`W&B history value for ${JSON.stringify(name)} is not a number`);
  }
  return key;
}

export class WandbOfflineRun implements WandbRun {
  readonly runId: string;
  /** `<dir>/wandb/offline-run-YYYYMMDD_HHMMSS-<id>`: the path to give `wandb sync`. */
  readonly runDir: string;
  /** `<runDir>/run-<id>.wandb`. */
  readonly logPath: string;
  readonly filesDir: string;
  readonly startTimeMs: number;

  private readonly project: string;
  private readonly entity: string | undefined;
  private readonly uid: string | undefined;
  /** The datasets of the run by name (`logInput`), for the config key `datasets`. */
  private readonly datasets: Record<string, Record<string, string>> = {};
  /** The console line each stream's terminal is on (its newline not written yet). */
  private readonly consoleOpen: { stdout: number | undefined; stderr: number | undefined } = {
    stdout: undefined,
    stderr: undefined,
  };
  private readonly log: WandbTransactionLogWriter;
  private num = 0;
  /** The open row's step (its keys and values are in `rows`), or -1. */
  private pendingStep = -1;
  private pendingTimestampMs = 0;
  private readonly rows: HistoryRowEncoder;
  private readonly scratchKeys: HistoryKey[] = [];
  private readonly scratchValues: number[] = [];
  private readonly appendRecord = (payload: Uint8Array): void => {
    this.log.append(payload);
  };
  private lastStep = -1;
  private exited = false;

  private constructor(options: WandbOfflineRunOptions) {
    const runId = options.runId ?? generateWandbRunId();
    if (!/^[A-Za-z0-9_-]+$/.test(runId)) {
      throw new TypeError(`W&B run id ${JSON.stringify(runId)}: use letters, digits, _ and -`);
    }
    this.runId = runId;
    this.project = options.project;
    this.entity = options.entity;
    this.uid = options.uid;
    this.startTimeMs = options.startTimeMs ?? Date.now();
    this.runDir = join(
      options.dir,
      'wandb',
      `offline-run-${localTimespec(this.startTimeMs)}-${runId}`,
    );
    this.logPath = join(this.runDir, `run-${runId}.wandb`);
    this.filesDir = join(this.runDir, 'files');
    this.rows = new HistoryRowEncoder(this.startTimeMs);
    mkdirSync(this.filesDir, { recursive: true });
    this.log = WandbTransactionLogWriter.create(this.logPath);
    // What the SDK writes for a new run; `wandb sync` reads it to keep re-syncs idempotent.
    writeFileSync(
      `${this.logPath}.syncstate`,
      JSON.stringify({ starting_step: 0, starting_runtime: 0 }),
      { flag: 'wx' },
    );
  }

  /** Creates the run directory and writes the header and run records. */
  static create(options: WandbOfflineRunOptions): WandbOfflineRun {
    const run = new WandbOfflineRun(options);
    try {
      run.record({
        header: {
          producer: options.producer ?? `@trackstack/tracker-wandb ${VERSION}`,
        },
      });
      run.record({
        run: {
          runId: run.runId,
          entity: options.entity,
          project: options.project,
          displayName: options.displayName,
          runGroup: options.group,
          jobType: options.jobType,
          notes: options.notes,
          tags: options.tags,
          host: options.host ?? options.metadata?.host ?? hostname(),
          startTimeMs: run.startTimeMs,
          config: [
            { key: '_wandb', valueJson: '{}' },
            ...keyedItems(options.config ?? {}, 'config'),
          ],
          ...(options.metadata?.git === undefined ? {} : { git: options.metadata.git }),
        },
      });
      const metadata = options.metadata;
      if (metadata !== undefined) {
        const { startedAt, ...rest } = metadata;
        run.record({
          environment: {
            ...rest,
            startedAtMs: Date.parse(startedAt),
            writerId: generateWriterId(),
          },
        });
      }
      run.log.flush();
    } catch (err) {
      run.log.close();
      throw err;
    }
    return run;
  }

  ref(): RunRef {
    return {
      runId: this.runId,
      url: `file://${this.runDir}`,
      data: { project: this.project, startTime: this.startTimeMs, offline: true, uid: this.uid },
    };
  }

  /**
   * A batch: params as config, metric points as history rows (as `history()`
   * per row of consecutive same-step points would, without an object per row
   * or per point), console lines as raw output; then fsync. Tags are not
   * written (W&B's offline runs take them at the start only).
   */
  write(batch: WriteBatch): void {
    if (batch.params.length > 0) {
      const update: Record<string, unknown> = {};
      for (const { key, value } of batch.params) update[key] = paramValue(value);
      this.config(update);
    }
    this.historyPoints(batch);
    for (const line of batch.console ?? []) {
      const text = rawConsoleText(this.consoleOpen[line.stream], line);
      this.consoleOpen[line.stream] = line.line;
      this.output(line.stream, text, line.timestamp);
    }
    this.flush();
  }

  upload(artifact: ArtifactUpload): void {
    this.file(artifact.path, artifact.localPath);
  }

  /**
   * An image's file into `files/media/...` (a files record: `wandb sync` uploads it), then its
   * value in the history row of its step, as the SDK writes media; a histogram's value only.
   */
  logMedia(media: ImageMedia | HistogramMedia): void {
    const { value, files } = media.kind === 'image' ? imageValue(media) : histogramValue(media);
    for (const file of files) this.file(file.path, file.localPath);
    this.historyValue(media.step, media.key, value, media.timestamp);
    this.flush();
  }

  /**
   * A table as the SDK logs one offline: its `run_table` artifact (the files copied into
   * the run directory's `artifacts/`, so `wandb sync` finds them wherever the store is),
   * the run copy as a run file, then the `table-file` value in the row of its step.
   */
  async logTable(media: TableMedia): Promise<void> {
    const table = await wandbTable(this.runId, media);
    const { artifact } = table;
    const dir = join(this.runDir, 'artifacts', artifact.digest);
    const entries = artifact.entries.map((entry) => {
      const localPath = join(dir, ...entry.path.split('/'));
      mkdirSync(dirname(localPath), { recursive: true });
      if (entry.bytes !== undefined) writeFileSync(localPath, entry.bytes);
      else copyFileSync(entry.localPath!, localPath);
      return { path: entry.path, digest: entry.digest, size: entry.size, localPath };
    });
    this.record({
      artifact: {
        runId: this.runId,
        project: this.project,
        ...(this.entity === undefined ? {} : { entity: this.entity }),
        type: artifact.type,
        name: artifact.name,
        digest: artifact.digest,
        aliases: artifact.aliases,
        clientId: artifact.clientId,
        sequenceClientId: artifact.sequenceClientId,
        entries,
      },
    });
    this.fileBytes(table.runFile.path, table.runFile.bytes);
    this.historyValue(media.step, media.key, table.value, media.timestamp);
    this.flush();
  }

  /**
   * Sets a media value (an object) at `key` in the row at `step`, as `history` sets numbers;
   * `false` when the step is below the current one (dropped, as the SDK drops it).
   */
  historyValue(
    step: number,
    key: string,
    value: Record<string, unknown>,
    timestampMs: number,
  ): boolean {
    this.checkRow(step, timestampMs);
    checkedKey(this.rows, key, 0);
    if (!this.applyRow(step, 0, timestampMs)) return false;
    this.rows.setItems(key, mediaItems(key, value));
    return true;
  }

  /** The run's datasets, as config key `datasets` (every update sends them all). */
  logInput(input: DatasetInput): void {
    this.datasets[input.name] = datasetConfig(input);
    this.config({ datasets: { ...this.datasets } });
    this.flush();
  }

  /** Ends the open console lines, then `exit` with the status's exit code and `close`. */
  finish(status: FinalRunStatus, endTime: number): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      if (this.consoleOpen[stream] !== undefined) this.output(stream, '\n', endTime);
    }
    this.exit(EXIT_CODES[status], endTime);
    this.close();
  }

  /** Adds or replaces top-level config keys (values as JSON; NaN becomes null, as in the SDK). */
  config(update: Readonly<Record<string, unknown>>): void {
    const items = keyedItems(update, 'config');
    if (items.length > 0) this.record({ config: { update: items } });
  }

  /**
   * Logs metric values at a step, like `run.log(values, step=step)`. As in the
   * SDK, values for the current step are merged and the row is written when a
   * higher step arrives (or at `exit`/`close`); a step lower than the current
   * one is dropped, and `false` says so. The row gets `_step`, `_runtime`
   * (seconds since the start) and `_timestamp` (epoch seconds), from the
   * latest `timestampMs` given for the step. `values` may be a Map (no
   * conversion to an object needed when the caller has one).
   */
  history(
    step: number,
    values: Readonly<Record<string, number>> | ReadonlyMap<string, number>,
    timestampMs: number,
  ): boolean {
    this.checkRow(step, timestampMs);
    // Checked first (nothing changes when a key or value is refused), then set into the row.
    const encoder = this.rows;
    const keys = this.scratchKeys;
    const numbers = this.scratchValues;
    let n = 0;
    if (values instanceof Map) {
      for (const [name, value] of values as ReadonlyMap<string, number>) {
        keys[n] = checkedKey(encoder, name, value);
        numbers[n++] = value;
      }
    } else {
      const record = values as Readonly<Record<string, number>>;
      for (const name of Object.keys(record)) {
        const value = record[name];
        keys[n] = checkedKey(encoder, name, value);
        numbers[n++] = value as number;
      }
    }
    return this.applyRow(step, n, timestampMs);
  }

  /**
   * What `history` does for each row of consecutive same-step points (the
   * row's timestamp is the latest of its points'), straight from the batch's
   * columns (`forEachMetric`).
   */
  private historyPoints(batch: WriteBatch): void {
    const encoder = this.rows;
    const keys = this.scratchKeys;
    const numbers = this.scratchValues;
    let step = -1;
    let timestampMs = 0;
    let n = 0;
    let samples: SystemSamples | undefined;
    forEachMetric(batch, (key, value, pointStep, timestamp) => {
      // System metrics are W&B stats records, not history.
      if (isSystemKey(key)) {
        samples ??= new SystemSamples();
        samples.add(key, value, pointStep, timestamp);
        return;
      }
      if (n > 0 && pointStep !== step) {
        this.checkRow(step, timestampMs);
        this.applyRow(step, n, timestampMs);
        n = 0;
      }
      if (n === 0) {
        step = pointStep;
        timestampMs = timestamp;
      } else if (timestamp > timestampMs) timestampMs = timestamp;
      keys[n] = checkedKey(encoder, key, value);
      numbers[n++] = value;
    });
    if (n > 0) {
      this.checkRow(step, timestampMs);
      this.applyRow(step, n, timestampMs);
    }
    for (const sample of samples?.take() ?? []) this.stats(sample);
  }

  /** One system sample as wandb-core records it: a `stats` record (always sent by `wandb sync`). */
  private stats(sample: WandbSystemSample): void {
    this.ensureOpen();
    this.record(
      {
        stats: {
          timestampMs: sample.timestampMs,
          items: sample.items.map(([key, value]) => ({ key, valueJson: formatWandbNumber(value) })),
        },
      },
      false,
    );
  }

  private checkRow(step: number, timestampMs: number): void {
    this.ensureOpen();
    if (!Number.isSafeInteger(step) || step < 0) {
      throw new RangeError(`W&B history step must be a non-negative integer, got ${step}`);
    }
    if (!Number.isFinite(timestampMs)) throw new RangeError(`invalid timestamp ${timestampMs}`);
  }

  /** Merges the `n` checked keys and values in the scratch arrays into the row at `step`. */
  private applyRow(step: number, n: number, timestampMs: number): boolean {
    const encoder = this.rows;
    const keys = this.scratchKeys;
    const numbers = this.scratchValues;
    if (this.pendingStep === step) {
      for (let i = 0; i < n; i++) encoder.set(keys[i]!, numbers[i]!);
      this.pendingTimestampMs = timestampMs;
      return true;
    }
    // Below the open row, or at/below the last written one: the SDK drops these too.
    if (step <= this.lastStep || step < this.pendingStep) return false;
    this.commitHistory();
    encoder.startRow();
    for (let i = 0; i < n; i++) encoder.set(keys[i]!, numbers[i]!);
    this.pendingStep = step;
    this.pendingTimestampMs = timestampMs;
    return true;
  }

  /**
   * Console text as the SDK's `console="wrap"` captures it: a raw chunk of
   * stdout or stderr (`\n` ends a line, `\r` rewrites it); `wandb sync` makes
   * `output.log` of it.
   */
  output(stream: WandbOutputType, text: string, timestampMs: number = Date.now()): void {
    this.ensureOpen();
    if (text.length === 0) return;
    this.record({ outputRaw: { stream, text, timestampMs } });
  }

  /** Sets top-level summary keys, like `run.summary.update(...)`. */
  summary(update: Readonly<Record<string, unknown>>): void {
    const items = keyedItems(update, 'summary');
    if (items.length > 0) this.record({ summary: { update: items } });
  }

  /** Writes bytes to `files/<relativePath>` and records it, as `file` does for a copy. */
  fileBytes(relativePath: string, bytes: Uint8Array): void {
    const target = this.filePath(relativePath);
    writeFileSync(target, bytes);
    this.record({ files: { files: [{ path: relativePath, policy: 'now' }] } });
  }

  /**
   * Copies `sourcePath` to `files/<relativePath>` and records it, so that
   * `wandb sync` uploads it under that name.
   */
  file(relativePath: string, sourcePath: string, policy: WandbFilePolicy = 'now'): void {
    const name = relativePath.split(sep).join('/');
    copyFileSync(sourcePath, this.filePath(name));
    this.record({ files: { files: [{ path: name, policy }] } });
  }

  /** The path of a run file, its directory made; the name checked to stay inside `files/`. */
  private filePath(relativePath: string): string {
    this.ensureOpen();
    const name = relativePath.split(sep).join('/');
    const normalized = posix.normalize(name);
    if (
      name === '' ||
      isAbsolute(relativePath) ||
      posix.isAbsolute(name) ||
      normalized !== name ||
      normalized === '..' ||
      normalized.startsWith('../')
    ) {
      throw new TypeError(
        `W&B file name ${JSON.stringify(relativePath)} must be a normalized relative path`,
      );
    }
    const target = join(this.filesDir, ...name.split('/'));
    mkdirSync(dirname(target), { recursive: true });
    return target;
  }

  /**
   * Ends the run: writes the pending history row, the run time into the
   * summary (`_wandb.runtime`, `_runtime`, whole seconds, as the SDK does),
   * then the exit record, and flushes. Only `close()` may follow.
   */
  exit(exitCode: number, endTimeMs: number = Date.now()): void {
    this.ensureOpen();
    this.commitHistory();
    const runtime = String(Math.max(0, Math.floor((endTimeMs - this.startTimeMs) / 1000)));
    this.record({
      summary: {
        update: [
          { nestedKey: ['_wandb', 'runtime'], valueJson: runtime },
          { key: '_runtime', valueJson: runtime },
        ],
      },
    });
    this.record({ exit: { exitCode, runtime: Number(runtime) } });
    this.exited = true;
    this.log.flush();
  }

  /** Writes the pending history row to the log (the SDK would keep it open for more values). */
  commitHistory(): void {
    const step = this.pendingStep;
    if (step < 0) return;
    this.pendingStep = -1;
    this.lastStep = step;
    this.ensureOpen();
    // Both records at once, items encoded once: summary, then history.
    this.rows.encodeRow(this.num + 1, step, this.pendingTimestampMs, this.appendRecord);
    this.num += 2;
  }

  /** fsync: what was written survives a machine crash. */
  flush(): void {
    this.log.flush();
  }

  /**
   * Writes the pending history row and closes the file. Without `exit()`
   * first, `wandb sync` will mark the run as failed, as for a crashed run.
   */
  close(): void {
    if (!this.exited) this.commitHistory();
    this.exited = true;
    this.log.close();
  }

  private ensureOpen(): void {
    if (this.exited) throw new Error(`W&B offline run ${this.runId} has ended`);
  }

  /** `streamId` is set on the records that come from the user, as wandb-core does. */
  private record(body: WandbRecordBody, fromUser = true): void {
    if (this.exited) throw new Error(`W&B offline run ${this.runId} has ended`);
    this.num += 1;
    const streamId = fromUser ? this.runId : undefined;
    this.log.append(encodeRecord({ ...body, num: this.num, streamId }));
  }
}

/** `YYYYMMDD_HHMMSS` in local time, as the SDK names run directories. */
function localTimespec(epochMs: number): string {
  const d = new Date(epochMs);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}_${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}
