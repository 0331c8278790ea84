/**
 * A run: what user code logs to. Every call validates at once (bad input
 * throws a typed error naming the key), then lands in memory; the journal
 * takes it in batches and the deliveries send it on in the background, so a
 * logging call never waits for the network and never throws for a backend.
 *
 * This is the whole of what a run offers; the engine's side of it stays
 * inside core (run-impl.ts).
 */
import type { TrackstackError } from '../contract/errors.js';
import type { LoggingLimits } from '../contract/limits.js';
import type { Logger } from '../contract/log.js';
import type { RetryPolicy } from '../contract/retry.js';
import type { ConsoleStream, FinalRunStatus, RunRef, RunStatus } from '../contract/types.js';
import type { HistogramInput, ImageValue } from '../engine/media.js';
import type { SourceOptions } from '../engine/source.js';
import type { DatasetInputOptions } from '../engine/validation.js';
import type { SystemMetricsOptions } from './system-monitor.js';

declare global {
  // `await using run = ...` needs these; declared here too so that a program
  // compiled without @types/node or lib "esnext.disposable" still reads core's types.
  interface SymbolConstructor {
    readonly asyncDispose: unique symbol;
  }
  interface AsyncDisposable {
    [Symbol.asyncDispose](): PromiseLike<void>;
  }
}

export interface MetricOptions {
  /** Whole number >= 0; default 0, as in MLflow. */
  step?: number;
  /** Epoch milliseconds or a Date; default now. */
  timestamp?: number | Date;
}

/** Where a media value goes in the run's timeline (`logImage`, `logTable`, `logHistogram`). */
export interface MediaOptions {
  /** Whole number >= 0; default 0, as in MLflow. */
  step?: number;
  /** Epoch milliseconds or a Date; default now. */
  timestamp?: number | Date;
}

export interface ImageOptions extends MediaOptions {
  /** Shown under the image (W&B's caption; MLflow keeps it in the image's metadata). */
  caption?: string;
}

export interface HistogramOptions extends MediaOptions {
  /** Bins for raw values: 1 to 512, default 64 (W&B's). Not with counted bins. */
  bins?: number;
}

/** A table: column names, and rows of one cell per column. */
export interface TableInput {
  columns: readonly string[];
  rows: readonly (readonly (string | number | boolean | null | ImageValue | Uint8Array)[])[];
}

export interface ConsoleOptions {
  /** Default 'stdout'. */
  stream?: ConsoleStream;
  /** Epoch milliseconds or a Date; default now. */
  timestamp?: number | Date;
}

export interface ArtifactOptions {
  /**
   * Where the file (or directory) goes inside the run's artifacts, POSIX
   * separators; default its own base name.
   */
  artifactPath?: string;
}

export interface DestinationReport {
  name: string;
  url: string | undefined;
  runId: string | undefined;
  /** Events not yet acknowledged by this destination: they are in the journal. */
  pendingEvents: number;
  finished: boolean;
  /** Typed errors (BackendError) the destination answered with. */
  errors: TrackstackError[];
}

export interface EndReport {
  uid: string;
  /** The final status; RUNNING from `flush()` and from a process that attached to another's run. */
  status: RunStatus;
  destinations: DestinationReport[];
  /** Events left undelivered across all destinations (0 when everything arrived). */
  pendingEvents: number;
  /** How to deliver what is left, when something is. */
  hint: string | undefined;
}

export interface EndOptions {
  /** How long to wait for delivery before leaving the rest in the journal. */
  timeoutMs?: number;
}

export interface StartRunOptions {
  /** Experiment (MLflow) or project-level grouping; default "Default". */
  experiment?: string;
  /** Display name; default a generated `run-<date>-<time>-<4 hex>`. */
  name?: string;
  tags?: Record<string, string | number | boolean>;
  /** Params to log right away (same rules as `logParams`). */
  params?: Record<string, unknown>;
  /** The run's trackstack id: give one to resume a run (see `resume`). Default: a new UUIDv7. */
  id?: string;
  /**
   * With `id`: 'never' (default) refuses an id that exists, 'allow' resumes it
   * when it exists and creates it otherwise, 'must' refuses an id that does not exist.
   */
  resume?: 'never' | 'allow' | 'must';
  /**
   * Join a run another process started (`trackstack run` children, data-loader
   * workers, training ranks): this process writes its own journal segment and
   * delivers it, and `end()` only flushes; the owner ends the run. Default:
   * true when TRACKSTACK_RUN_ID is set and `id` is not given.
   */
  attach?: boolean;
  /**
   * The parent of a child run: the `Run`, or its uid (a child started in
   * another process of this machine, from the parent's `run.uid`; the parent
   * must be in the same store). MLflow nests the child, W&B groups it under
   * the parent's id. See also `run.startChild`.
   */
  parent?: Run | string;
  /** 'offline' (or TRACKSTACK_MODE=offline) journals only; `trackstack sync` delivers later. */
  mode?: 'online' | 'offline';
  /** How long `startRun` waits for the backend to create the run before going on journal-only. Default 10 s. */
  startTimeoutMs?: number;
  /** How long `end()` waits for delivery. Default 30 s. */
  endTimeoutMs?: number;
  /** How often buffered points are journaled. Default 1000 ms. */
  flushIntervalMs?: number;
  /** Points held in memory before they are journaled. Default 8192. */
  bufferSize?: number;
  retry?: Partial<RetryPolicy>;
  logger?: Logger;
  /**
   * Tee everything the process writes to stdout and stderr into the run's
   * console output (see `Run.logConsole`) until the run ends; the terminal
   * still shows it. Default false.
   */
  captureConsole?: boolean;
  /**
   * Record where the run ran: git commit, branch, remote (credentials
   * removed), dirty or not, entry point, command line, user, host, Node, OS.
   * Default true; false (or TRACKSTACK_CAPTURE_SOURCE=0) turns it off. An
   * object says which command ran (`trackstack run` passes the one it wraps).
   */
  captureSource?: boolean | SourceOptions;
  /**
   * Sample what the machine is doing (CPU, memory, disk, network, GPUs) every
   * `intervalS` (default 10 s) as `system/…` metrics. Default on; false (or
   * TRACKSTACK_SYSTEM_METRICS=0) turns it off. `nodeId` names this process
   * among several logging to one run: its keys become `system/<nodeId>/…`.
   */
  systemMetrics?: false | SystemMetricsOptions;
}

export interface Run extends AsyncDisposable {
  /** trackstack's id of the run (UUIDv7); also the backend tag `trackstack.uid`. */
  readonly uid: string;
  readonly experiment: string;
  readonly name: string;
  readonly startTime: number;
  /** The run's directory in the store (journal, staged artifacts, delivery state). */
  readonly dir: string;
  /** The parent run, when it was given as a `Run` (see `parentUid` for one given by its uid). */
  readonly parent: Run | undefined;
  /** The parent's uid: a child run (`parent`, `startChild`) has one. */
  readonly parentUid: string | undefined;
  /** Where a person looks at the run: the first destination's page, else the run's directory. */
  readonly url: string;
  /** The backend refs known so far, by destination name. */
  readonly refs: Record<string, RunRef | undefined>;
  readonly status: RunStatus;
  /** Whether this process joined a run another process owns (see StartRunOptions.attach). */
  readonly attached: boolean;
  readonly ended: boolean;
  /** The strictest limits of the run's destinations: what every call is checked against. */
  readonly effectiveLimits: Readonly<LoggingLimits>;

  /**
   * Starts a child run of this one with the tracker that started it (the same
   * as `tracker.startRun({ ...options, parent: run })`): MLflow nests it,
   * W&B groups it under this run's id, `trackstack runs list` shows it under
   * this run. The parent may end first; its children go on.
   */
  startChild(options?: StartRunOptions): Promise<Run>;

  /** The backend ref of one destination, waiting for the backend run to be created if need be. */
  backendRef(destination: string): Promise<RunRef | undefined>;

  logMetric(key: string, value: number, options?: MetricOptions): void;
  /** Logs several metrics at one step and time; all are checked before any is logged. */
  logMetrics(values: Record<string, number>, options?: MetricOptions): void;
  logParam(key: string, value: unknown): void;
  /**
   * Logs params. Nested objects are flattened with '.', arrays logged as JSON
   * (see the README). A param logged again with another value throws
   * PARAM_CONFLICT; nothing from a call that throws is logged.
   */
  logParams(params: Record<string, unknown>): void;
  setTag(key: string, value: string | number | boolean): void;
  /** Sets tags; the last value of a key wins. */
  setTags(tags: Record<string, string | number | boolean>): void;
  /**
   * Logs console output: `\n` ends a line, `\r` rewrites the current one (see
   * ConsoleLine). Text need not be whole lines; an open line is journaled as it
   * stands and updated later. A process that attached to another's run logs
   * none (its numbering would collide with the owner's): it warns once.
   */
  logConsole(text: string, options?: ConsoleOptions): void;
  /**
   * Logs a file, or a directory recursively. Each file is copied into the run's
   * directory (copy-on-write where the file system can) before this resolves,
   * so the upload cannot miss a file the script later deletes or overwrites.
   */
  logArtifact(path: string, options?: ArtifactOptions): Promise<void>;
  /**
   * Records a dataset the run read: MLflow's dataset inputs (`runs/log-inputs`), the local
   * store, and what other flavors make of it. With `path`, its digest (the first 16 hex
   * digits of the file's SHA-256), source and source type come from the file. A backend that
   * does not record inputs says so once; the journal keeps them all.
   */
  logInput(input: DatasetInputOptions): Promise<void>;
  /**
   * Logs an image at a key and step: PNG or JPEG bytes, a file path, or an
   * `image()` value. Its format, width and height come from its header; a
   * truncated file or another format throws a `ValidationError` naming the
   * key. The bytes are staged in the run's directory before this resolves.
   */
  logImage(
    key: string,
    image: Uint8Array | string | ImageValue,
    options?: ImageOptions,
  ): Promise<void>;
  /**
   * Logs a table at a key and step. Cells are strings, numbers, booleans,
   * null or images (`image()`); every row has one cell per column. The table
   * and its images are staged before this resolves.
   */
  logTable(key: string, table: TableInput, options?: MediaOptions): Promise<void>;
  /**
   * Logs a histogram at a key and step: raw values (binned as numpy bins
   * them, 64 bins unless `bins` says otherwise, at most 512), or
   * `{ bins, counts }` already counted (bins are the edges).
   */
  logHistogram(key: string, values: HistogramInput, options?: HistogramOptions): void;
  /** Writes text as an artifact at `path` (UTF-8), staged before this resolves. */
  logText(path: string, text: string): Promise<void>;
  /** Writes a value as a JSON artifact at `path` (indented by 2, as MLflow's `log_dict`). */
  logJson(path: string, value: unknown): Promise<void>;
  /**
   * Journals what is buffered and waits until every destination acknowledged
   * everything logged before the call (or `timeoutMs` passed: the report says
   * what is pending). Throws the first typed error a destination refused data
   * with since the run started.
   */
  flush(options?: EndOptions): Promise<EndReport>;
  /**
   * Ends the run: journals the final status, waits a bounded time for delivery,
   * and reports what is left. Never throws for a backend; calling it again
   * returns the same report.
   */
  end(status?: FinalRunStatus, options?: EndOptions): Promise<EndReport>;
  /** `await using run = ...`: ends FINISHED (FAILED when the process is going down with an error). */
  [Symbol.asyncDispose](): Promise<void>;
}
