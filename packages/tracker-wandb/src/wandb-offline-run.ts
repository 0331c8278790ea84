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
 */
import { randomInt } from 'node:crypto';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, isAbsolute, join, posix, sep } from 'node:path';
import { VERSION } from './version.js';
import {
  encodeHistoryRow,
  encodeRecord,
  formatWandbNumber,
  keyedItems,
  type WandbFilePolicy,
  type WandbItem,
  type WandbOutputType,
  type WandbRecordBody,
} from './wandb-records.js';
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
}

const RUN_ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** A run id like the SDK's: 8 characters of [a-z0-9]. */
export function generateWandbRunId(): string {
  let id = '';
  for (let i = 0; i < 8; i++) id += RUN_ID_ALPHABET[randomInt(RUN_ID_ALPHABET.length)];
  return id;
}

const RESERVED_HISTORY_KEYS = new Set(['_step', '_runtime', '_timestamp']);

interface PendingRow {
  step: number;
  values: Map<string, number>;
  timestampMs: number;
}

export class WandbOfflineRun {
  readonly runId: string;
  /** `<dir>/wandb/offline-run-YYYYMMDD_HHMMSS-<id>`: the path to give `wandb sync`. */
  readonly runDir: string;
  /** `<runDir>/run-<id>.wandb`. */
  readonly logPath: string;
  readonly filesDir: string;
  readonly startTimeMs: number;

  private readonly log: WandbTransactionLogWriter;
  private num = 0;
  private pending: PendingRow | undefined;
  private lastStep = -1;
  private exited = false;

  private constructor(options: WandbOfflineRunOptions) {
    const runId = options.runId ?? generateWandbRunId();
    if (!/^[A-Za-z0-9_-]+$/.test(runId)) {
      throw new TypeError(`W&B run id ${JSON.stringify(runId)}: use letters, digits, _ and -`);
    }
    this.runId = runId;
    this.startTimeMs = options.startTimeMs ?? Date.now();
    this.runDir = join(
      options.dir,
      'wandb',
      `offline-run-${localTimespec(this.startTimeMs)}-${runId}`,
    );
    this.logPath = join(this.runDir, `run-${runId}.wandb`);
    this.filesDir = join(this.runDir, 'files');
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
      run.write({
        header: {
          producer: options.producer ?? `@trackstack/tracker-wandb ${VERSION}`,
        },
      });
      run.write({
        run: {
          runId: run.runId,
          entity: options.entity,
          project: options.project,
          displayName: options.displayName,
          runGroup: options.group,
          jobType: options.jobType,
          notes: options.notes,
          tags: options.tags,
          host: options.host ?? hostname(),
          startTimeMs: run.startTimeMs,
          config: [
            { key: '_wandb', valueJson: '{}' },
            ...keyedItems(options.config ?? {}, 'config'),
          ],
        },
      });
      run.log.flush();
    } catch (err) {
      run.log.close();
      throw err;
    }
    return run;
  }

  /** Adds or replaces top-level config keys (values as JSON; NaN becomes null, as in the SDK). */
  config(update: Readonly<Record<string, unknown>>): void {
    const items = keyedItems(update, 'config');
    if (items.length > 0) this.write({ config: { update: items } });
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
    this.ensureOpen();
    if (!Number.isSafeInteger(step) || step < 0) {
      throw new RangeError(`W&B history step must be a non-negative integer, got ${step}`);
    }
    if (!Number.isFinite(timestampMs)) throw new RangeError(`invalid timestamp ${timestampMs}`);
    // One pass: checked into a new map, which becomes the row or is merged into the open one.
    const checked = new Map<string, number>();
    const check = (key: string, value: unknown): void => {
      if (RESERVED_HISTORY_KEYS.has(key)) {
        throw new TypeError(`W&B history key ${JSON.stringify(key)} is set by W&B itself`);
      }
      if (typeof value !== 'number') {
        throw new TypeError(`W&B history value for ${JSON.stringify(key)} is not a number`);
      }
      checked.set(key, value);
    };
    if (values instanceof Map) {
      for (const [key, value] of values as ReadonlyMap<string, number>) check(key, value);
    } else {
      const record = values as Readonly<Record<string, number>>;
      for (const key of Object.keys(record)) check(key, record[key]);
    }
    if (this.pending && step === this.pending.step) {
      for (const [key, value] of checked) this.pending.values.set(key, value);
      this.pending.timestampMs = timestampMs;
      return true;
    }
    // Below the open row, or at/below the last written one: the SDK drops these too.
    if (step <= this.lastStep || (this.pending && step < this.pending.step)) return false;
    this.commitHistory();
    this.pending = { step, values: checked, timestampMs };
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
    this.write({ outputRaw: { stream, text, timestampMs } });
  }

  /** Sets top-level summary keys, like `run.summary.update(...)`. */
  summary(update: Readonly<Record<string, unknown>>): void {
    const items = keyedItems(update, 'summary');
    if (items.length > 0) this.write({ summary: { update: items } });
  }

  /**
   * Copies `sourcePath` to `files/<relativePath>` and records it, so that
   * `wandb sync` uploads it under that name.
   */
  file(relativePath: string, sourcePath: string, policy: WandbFilePolicy = 'now'): void {
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
    copyFileSync(sourcePath, target);
    this.write({ files: { files: [{ path: name, policy }] } });
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
    this.write({
      summary: {
        update: [
          { nestedKey: ['_wandb', 'runtime'], valueJson: runtime },
          { key: '_runtime', valueJson: runtime },
        ],
      },
    });
    this.write({ exit: { exitCode, runtime: Number(runtime) } });
    this.exited = true;
    this.log.flush();
  }

  /** Writes the pending history row to the log (the SDK would keep it open for more values). */
  commitHistory(): void {
    const row = this.pending;
    if (!row) return;
    this.pending = undefined;
    this.lastStep = row.step;
    const items: WandbItem[] = [];
    for (const [key, value] of row.values) {
      items.push({ nestedKey: [key], valueJson: formatWandbNumber(value) });
    }
    items.push(
      { nestedKey: ['_timestamp'], valueJson: formatWandbNumber(row.timestampMs / 1000) },
      {
        nestedKey: ['_runtime'],
        valueJson: formatWandbNumber(Math.max(0, row.timestampMs - this.startTimeMs) / 1000),
      },
      { nestedKey: ['_step'], valueJson: String(row.step) },
    );
    // Both records at once (`write` would encode the items twice): summary, then history.
    this.ensureOpen();
    const { summary, history } = encodeHistoryRow(this.num + 1, items, row.step);
    this.num += 2;
    this.log.append(summary);
    this.log.append(history);
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
  private write(body: WandbRecordBody, fromUser = true): void {
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
