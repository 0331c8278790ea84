/**
 * The base class every tracker extends. A flavor implements a handful of
 * primitives (createRun, writeBatch, uploadArtifact, finishRun,
 * validateConnection); everything a user calls (startRun, the run API, the
 * step lifecycle) is built here on top of them, once, for every flavor.
 */
import { createRequire } from 'node:module';
import { runInContext } from './context.js';
import { type Destination, openRun, type StartRunOptions } from './engine/open-run.js';
import { TrackstackError } from './errors.js';
import { type Flavor, markTrackerClass, type TrackerClass } from './flavor.js';
import { consoleLogger, type Logger } from './log.js';
import type { Run } from './run.js';
import { resolveStoreDir } from './store/store-dir.js';
import {
  type ArtifactUpload,
  DEFAULT_CAPABILITIES,
  DEFAULT_LIMITS,
  type FinalRunStatus,
  type FlavorCapabilities,
  type FlavorLimits,
  type ResumeOptions,
  type RunInit,
  type RunRef,
  type StepRunInfo,
  type StepRunMetadata,
  type WriteBatch,
} from './types.js';

/** `uuid` loads on the first step run, not with the package (sync: its CJS build). */
const requireCjs = createRequire(import.meta.url);
let uuidModule: typeof import('uuid') | undefined;
function uuid(): typeof import('uuid') {
  uuidModule ??= requireCjs('uuid') as typeof import('uuid');
  return uuidModule;
}

export interface TrackerOptions {
  /** The tracker's name in the store (e.g. "prod"); default the flavor's name. */
  name?: string;
  /** The store the runs' journals live in; default the resolved store (see README). */
  storeDir?: string;
  logger?: Logger;
  /** Defaults for every `startRun` of this tracker (timeouts, mode, ...). */
  runDefaults?: StartRunOptions;
}

/** Namespace of the run ids derived from ZenML step run ids (UUIDv5), so a retried step resumes. */
const STEP_RUN_NAMESPACE = '6f1b5c1e-1d0a-4a8e-9a47-7c1c0a2f3e10';

export interface StepRunResult<T> {
  value: T;
  metadata: Record<string, string>;
}

export abstract class BaseExperimentTracker<C = Record<string, unknown>> {
  static {
    markTrackerClass(BaseExperimentTracker);
  }

  readonly config: C;
  readonly name: string;
  readonly storeDir: string;
  protected readonly logger: Logger;
  protected readonly runDefaults: StartRunOptions;
  private readonly stepRuns = new Map<string, Run>();

  constructor(config: C, options: TrackerOptions = {}) {
    this.config = config;
    const flavor = (this.constructor as TrackerClass).FLAVOR;
    this.name = options.name ?? flavor?.name ?? this.constructor.name;
    this.storeDir = options.storeDir ?? resolveStoreDir();
    this.logger = options.logger ?? consoleLogger;
    this.runDefaults = options.runDefaults ?? {};
  }

  /** The flavor this tracker is an instance of. */
  get flavor(): Flavor {
    const flavor = (this.constructor as TrackerClass).FLAVOR;
    if (flavor === undefined) {
      throw new TrackstackError('INVALID_FLAVOR', `${this.constructor.name} has no static FLAVOR`);
    }
    return flavor;
  }

  /** Per-request limits of the backend. Override to loosen or tighten MLflow's defaults. */
  get limits(): FlavorLimits {
    return DEFAULT_LIMITS;
  }

  get capabilities(): FlavorCapabilities {
    return DEFAULT_CAPABILITIES;
  }

  // ---- The primitives a flavor implements -------------------------------------------------

  /**
   * Creates the backend run, or finds it when a run with tag
   * `trackstack.uid = init.uid` already exists: core may call this again after
   * a timeout, and a retry must not leave a second run behind.
   */
  abstract createRun(init: RunInit): Promise<RunRef>;

  /**
   * Finds a backend run again from its persisted ref (resume, sync, another
   * process of the same run). With `reopen`, the run goes on: a backend run
   * that had ended is set running again. Without it (the run already ended
   * and its status was delivered), nothing about the run may change.
   */
  resumeRun(ref: RunRef, _options: ResumeOptions): Promise<RunRef> {
    return Promise.resolve(ref);
  }

  /**
   * Writes one batch, already validated and cut to `limits`. May be called
   * again with the same batch after a failure or a crash: make it idempotent.
   */
  abstract writeBatch(run: RunRef, batch: WriteBatch): Promise<void>;

  /** Uploads one staged file. Only called when `capabilities.artifacts` is true. */
  abstract uploadArtifact(run: RunRef, artifact: ArtifactUpload): Promise<void>;

  /** Marks the backend run FINISHED, FAILED or KILLED at `endTime` (epoch ms). */
  abstract finishRun(run: RunRef, status: FinalRunStatus, endTime: number): Promise<void>;

  /** A cheap authenticated call; throws a BackendError when the backend cannot be used. */
  abstract validateConnection(): Promise<void>;

  /** Extra step metadata for a backend run (e.g. `mlflow_run_id`). */
  runMetadata(_ref: RunRef): Record<string, string> {
    return {};
  }

  // ---- What users call ---------------------------------------------------------------------

  /** Where a run's data goes: this tracker alone (the local flavor: nowhere but the journal). */
  destinations(): Destination[] {
    return [{ name: this.name, tracker: this }];
  }

  startRun(options: StartRunOptions = {}): Promise<Run> {
    return openRun(this.storeDir, this.destinations(), {
      logger: this.logger,
      ...this.runDefaults,
      ...options,
    });
  }

  /**
   * Runs `fn` inside a new run: `currentRun()` returns it, and it ends FINISHED,
   * or FAILED when `fn` throws (the error is rethrown).
   */
  async withRun<T>(options: StartRunOptions, fn: (run: Run) => Promise<T> | T): Promise<T> {
    const run = await this.startRun(options);
    return runInContext(run, fn);
  }

  /** ZenML's step lifecycle, 1: start (or resume) the step's run. */
  async prepareStepRun(info: StepRunInfo): Promise<Run> {
    const existing = this.stepRuns.get(info.stepRunId);
    if (existing !== undefined && !existing.ended) return existing;
    const run = await this.startStepRun(info);
    this.stepRuns.set(info.stepRunId, run);
    return run;
  }

  /** ZenML's step lifecycle, 2: what the step's run is, for the pipeline's metadata. Never throws. */
  async getStepRunMetadata(info: StepRunInfo): Promise<Record<string, string>> {
    const run = this.stepRuns.get(info.stepRunId);
    if (run === undefined) {
      this.logger.warn(`no run for step ${info.stepName}: call prepareStepRun first`);
      return {};
    }
    const metadata: Record<string, string> = {
      experiment_tracker_url: run.url,
      trackstack_run_uid: run.uid,
    };
    try {
      // Bounded: a step must not hang on a backend that is down (the URL falls back to the journal).
      const first = this.destinations()[0]?.name;
      const timeout = new Promise<undefined>((resolve) => {
        setTimeout(() => resolve(undefined), this.runDefaults.startTimeoutMs ?? 10_000).unref();
      });
      const ref =
        first === undefined ? undefined : await Promise.race([run.backendRef(first), timeout]);
      if (ref !== undefined) {
        Object.assign(metadata, this.runMetadata(ref));
        if (ref.url !== undefined) metadata.experiment_tracker_url = ref.url;
      }
    } catch (error) {
      this.logger.warn(`step ${info.stepName}: metadata incomplete (${(error as Error).message})`);
    }
    return metadata as StepRunMetadata;
  }

  /** ZenML's step lifecycle, 3: end the step's run, FAILED when the step failed. */
  async cleanupStepRun(info: StepRunInfo, stepFailed: boolean): Promise<void> {
    const run = this.stepRuns.get(info.stepRunId);
    if (run === undefined) return;
    this.stepRuns.delete(info.stepRunId);
    await this.endStepRun(info, run, stepFailed ? 'FAILED' : 'FINISHED');
  }

  /** All three around `fn`, with `currentRun()` set inside it. */
  async runStep<T>(info: StepRunInfo, fn: (run: Run) => Promise<T> | T): Promise<StepRunResult<T>> {
    const run = await this.prepareStepRun(info);
    let failed = true;
    try {
      const value = await runInContext(run, fn, { endOnExit: false });
      failed = false;
      const metadata = await this.getStepRunMetadata(info);
      return { value, metadata };
    } finally {
      await this.cleanupStepRun(info, failed);
    }
  }

  /** Starts the run a step logs to. Override for layouts of several runs (MLflow's nested runs). */
  protected startStepRun(info: StepRunInfo): Promise<Run> {
    return this.startRun(this.stepRunOptions(info));
  }

  /** Ends a step's run; an override that started more runs ends them here. */
  protected async endStepRun(_info: StepRunInfo, run: Run, status: FinalRunStatus): Promise<void> {
    await run.end(status);
  }

  /**
   * How a step maps to a run. The default: one run per step, named
   * `<pipeline run>_<step>`, in an experiment named after the pipeline, with
   * an id derived from the step run id so a retried step resumes its run.
   * Flavors override it (MLflow shares one run per pipeline run).
   */
  protected stepRunOptions(info: StepRunInfo): StartRunOptions {
    const settings = info.settings ?? {};
    const experiment =
      typeof settings.experiment_name === 'string' ? settings.experiment_name : info.pipelineName;
    return {
      experiment,
      name: `${info.pipelineRunName}_${info.stepName}`,
      id: uuid().v5(info.stepRunId, STEP_RUN_NAMESPACE),
      resume: 'allow',
      tags: {
        'zenml.pipeline': info.pipelineName,
        'zenml.pipeline_run': info.pipelineRunName,
        'zenml.step': info.stepName,
      },
    };
  }
}
