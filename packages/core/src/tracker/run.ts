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
import type { ConsoleStream, FinalRunStatus, RunRef, RunStatus } from '../contract/types.js';

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

export interface Run extends AsyncDisposable {
  /** trackstack's id of the run (UUIDv7); also the backend tag `trackstack.uid`. */
  readonly uid: string;
  readonly experiment: string;
  readonly name: string;
  readonly startTime: number;
  /** The run's directory in the store (journal, staged artifacts, delivery state). */
  readonly dir: string;
  readonly parent: Run | undefined;
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
