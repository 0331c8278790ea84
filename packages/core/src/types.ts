/** Types shared by the contract, the run engine and the flavors. */

export type RunStatus = 'RUNNING' | 'FINISHED' | 'FAILED' | 'KILLED';
export type FinalRunStatus = Exclude<RunStatus, 'RUNNING'>;

/** What a flavor gets to create a backend run. Everything here is already validated. */
export interface RunInit {
  /** trackstack's own run id (UUIDv7), also written to the backend as tag `trackstack.uid`. */
  uid: string;
  experiment: string;
  name: string;
  /** Tags given at start, including `trackstack.uid`. */
  tags: Record<string, string>;
  /** Epoch milliseconds. */
  startTime: number;
  /** The parent's backend ref, for nested runs (only when the flavor has `nestedRuns`). */
  parent?: RunRef | undefined;
}

/**
 * A flavor's handle on a backend run. It is persisted in the journal's delivery
 * state, so it must be JSON: `runId` is the backend's id, `url` where a person
 * looks at it, `data` anything else the flavor needs to find the run again.
 */
export interface RunRef {
  runId: string;
  url?: string | undefined;
  experimentId?: string | undefined;
  data?: Record<string, unknown> | undefined;
}

export interface ResumeOptions {
  /** The run goes on: set it running again if the backend has it ended. */
  reopen: boolean;
}

export interface KeyValue {
  key: string;
  value: string;
}

export interface MetricPoint {
  key: string;
  /** May be NaN or ±Infinity; a flavor encodes them the way its backend expects. */
  value: number;
  step: number;
  /** Epoch milliseconds. */
  timestamp: number;
}

export type ConsoleStream = 'stdout' | 'stderr';

/**
 * One line of a run's console output (`run.logConsole`, `captureConsole`).
 * `line` numbers the run's output from 0, both streams together, and goes on
 * across resumes. A line that was still open (no newline yet) is sent again
 * with the same number as it grows or is rewritten by `\r` (progress bars):
 * the last text sent for a number is the line.
 */
export interface ConsoleLine {
  line: number;
  stream: ConsoleStream;
  /** The line without its newline; `\r` rewrites already applied. */
  text: string;
  /** Epoch milliseconds: when the line was started. */
  timestamp: number;
}

/**
 * One request's worth of data, already validated and cut to the flavor's
 * `limits`. Within a batch, params come before tags before metrics; metric
 * points keep the order they were logged in.
 */
export interface WriteBatch {
  params: KeyValue[];
  tags: KeyValue[];
  metrics: MetricPoint[];
  /**
   * Console lines, in line order, one entry per line number (the latest
   * text). Only flavors with `capabilities.console` get them; absent when none.
   */
  console?: ConsoleLine[];
}

export interface ArtifactUpload {
  /** Absolute path of the staged copy in the run's directory (safe to read, never changes). */
  localPath: string;
  /** Destination path inside the run's artifacts, POSIX separators, no `..`. */
  path: string;
  size: number;
  sha256: string;
  contentType: string;
}

/**
 * What one `writeBatch` may hold: usually a backend's per-request limits (a
 * flavor may take more and send a batch as several requests). Core validates
 * keys and values against the strictest limits of a run's destinations at the
 * call, and cuts batches to them.
 */
export interface FlavorLimits {
  maxMetricsPerBatch: number;
  maxParamsPerBatch: number;
  maxTagsPerBatch: number;
  /** Metrics + params + tags in one request. */
  maxEntitiesPerBatch: number;
  /** An estimate of the encoded request body; batches are cut to stay under it. */
  maxBatchBytes: number;
  maxKeyLength: number;
  maxParamValueLength: number;
  maxTagValueLength: number;
}

export interface FlavorCapabilities {
  /** Only one batch of a run in flight at a time, delivered in journal order. */
  orderedWrites: boolean;
  /** Batches of one run in flight at once when writes need no order. */
  maxConcurrency: number;
  nestedRuns: boolean;
  artifacts: boolean;
  /** The flavor can find an existing backend run again (`resumeRun`). */
  resume: boolean;
  /**
   * At least this long between two writes of a run (W&B paces file_stream).
   * Writes that queue up meanwhile are merged, within `limits`; the wait is
   * skipped when the run ends or `flush()` is called. Default 0.
   */
  minWriteIntervalMs?: number;
  /**
   * The flavor takes console output (`WriteBatch.console`). Default false: the
   * journal keeps it. A line sent again replaces the earlier text, so such a
   * flavor wants `orderedWrites`.
   */
  console?: boolean;
}

/** MLflow's limits: the strictest of the well-known backends, so a safe default. */
export const DEFAULT_LIMITS: Readonly<FlavorLimits> = Object.freeze({
  maxMetricsPerBatch: 1000,
  maxParamsPerBatch: 100,
  maxTagsPerBatch: 100,
  maxEntitiesPerBatch: 1000,
  maxBatchBytes: 1_000_000,
  maxKeyLength: 250,
  maxParamValueLength: 6000,
  maxTagValueLength: 8000,
});

export const DEFAULT_CAPABILITIES: Readonly<FlavorCapabilities> = Object.freeze({
  orderedWrites: false,
  maxConcurrency: 4,
  nestedRuns: false,
  artifacts: true,
  resume: true,
});

/** ZenML's step-run information, trimmed to what trackers use. */
export interface StepRunInfo {
  pipelineName: string;
  /** The pipeline run's name, shared by all its steps. */
  pipelineRunName: string;
  /** The pipeline run's id. */
  pipelineRunId: string;
  stepName: string;
  /** The step run's id; a retried step has the same one, so its run is resumed, not duplicated. */
  stepRunId: string;
  /** Per-step tracker settings (e.g. `experiment_name`, `nested`, `tags`). */
  settings?: Record<string, unknown> | undefined;
}

export type StepRunMetadata = Record<string, string> & { experiment_tracker_url: string };
