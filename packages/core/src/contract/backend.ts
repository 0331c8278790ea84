/**
 * The backend interface: what a flavor implements so that the engine can
 * deliver a run to it. The engine knows a destination only through this
 * interface (as OpenTelemetry's batch processor knows only `SpanExporter`);
 * `BaseExperimentTracker` is the class flavors extend to implement it.
 */
import type { FlavorTracker } from './flavor.js';
import type { FlavorLimits } from './limits.js';
import type { StepRunInfo, StepRunLayout } from './step-run.js';
import type {
  ArtifactUpload,
  DatasetInput,
  FinalRunStatus,
  Media,
  MediaKind,
  ResumeOptions,
  RunInit,
  RunRef,
} from './types.js';
import type { WriteBatch } from './write-batch.js';

export interface FlavorCapabilities {
  /** Only one request of a run in flight at a time, delivered in journal order. */
  orderedWrites: boolean;
  /** Requests of one run in flight at once when writes need no order. */
  maxConcurrency: number;
  nestedRuns: boolean;
  artifacts: boolean;
  /** The flavor can find an existing backend run again (`resumeRun`). */
  resume: boolean;
  /**
   * At least this long between two writes of a run (W&B paces file_stream).
   * What the journal holds meanwhile waits in the batcher and goes out as one
   * request, within `limits.request`; the wait is skipped when the run ends or
   * `flush()` is called. Default 0.
   */
  minWriteIntervalMs?: number;
  /**
   * The flavor takes console output (`WriteBatch.console`). Default false: the
   * journal keeps it. A line sent again replaces the earlier text, so such a
   * flavor wants `orderedWrites`.
   */
  console?: boolean;
  /**
   * How metric points are laid out in requests. 'logged' (the default): in
   * logging order. 'by-key': the points the batcher holds (up to ten
   * requests' worth) are grouped key by key, each key's points in logging
   * order, before they are cut into requests: fewer keys a request, for a
   * backend that costs per key (MLflow updates a `latest_metrics` row per key
   * a request holds). Ignored with `orderedWrites`.
   */
  metricOrder?: 'logged' | 'by-key';
  /**
   * The flavor records the datasets a run read (`logInput`). Default false:
   * the journal keeps them (the local store shows them) and core says once
   * per run that this backend does not.
   */
  inputs?: boolean;
  /**
   * The media kinds the flavor takes (`logMedia`): images, tables,
   * histograms. Default none: the journal keeps them (the local store shows
   * them) and core says once per run and kind that this backend does not.
   */
  media?: readonly MediaKind[];
}

export const DEFAULT_CAPABILITIES: Readonly<FlavorCapabilities> = Object.freeze({
  orderedWrites: false,
  maxConcurrency: 4,
  nestedRuns: false,
  artifacts: true,
  resume: true,
});

/**
 * A destination the engine delivers runs to. Every primitive may be called
 * again after a failure or a crash with the same arguments: make each one
 * idempotent. Errors are classified as `BackendError`s (`retryable`,
 * `retryAfterMs`) so that the engine retries every backend the same way.
 */
export interface ExperimentBackend extends FlavorTracker {
  /** What a logging call is checked against, and what one request holds. */
  readonly limits: FlavorLimits;
  readonly capabilities: FlavorCapabilities;
  /** The experiment a run goes to when `startRun` names none (e.g. MLflow's `experiment_name`). */
  readonly defaultExperiment?: string | undefined;
  /**
   * Creates the backend run, or finds it when a run with tag
   * `trackstack.uid = init.uid` already exists: a retry must not leave a
   * second run behind.
   */
  createRun(init: RunInit): Promise<RunRef>;
  /**
   * Finds a backend run again from its persisted ref (resume, sync, another
   * process of the same run). With `reopen`, a backend run that had ended is
   * set running again; without it, nothing about the run may change.
   */
  resumeRun(ref: RunRef, options: ResumeOptions): Promise<RunRef>;
  /** Writes one request's worth, already validated and cut to `limits.request`. */
  writeBatch(run: RunRef, batch: WriteBatch): Promise<void>;
  /** Uploads one staged file. Only called when `capabilities.artifacts` is true. */
  uploadArtifact(run: RunRef, artifact: ArtifactUpload): Promise<void>;
  /** Records one dataset input. Only called when `capabilities.inputs` is true; idempotent. */
  logInput?(run: RunRef, input: DatasetInput): Promise<void>;
  /**
   * Records one image, table or histogram at its key and step. Only called for the kinds in
   * `capabilities.media`; idempotent (a retry sends the same value again).
   */
  logMedia?(run: RunRef, media: Media): Promise<void>;
  /** Marks the backend run FINISHED, FAILED or KILLED at `endTime` (epoch ms). */
  finishRun(run: RunRef, status: FinalRunStatus, endTime: number): Promise<void>;
  /** Extra step metadata for a backend run (e.g. `mlflow_run_id`). */
  runMetadata(ref: RunRef): Record<string, string>;
  /** How a ZenML step maps to runs of this backend (see `StepRunLayout`). */
  stepRunLayout(info: StepRunInfo): StepRunLayout;
}

/** Whether a flavor's tracker is a backend (every flavor but `local`, whose store is the journal). */
export function isExperimentBackend(tracker: FlavorTracker): tracker is ExperimentBackend {
  return typeof (tracker as Partial<ExperimentBackend>).writeBatch === 'function';
}
