/**
 * The class every flavor extends: the backend interface with its defaults.
 * A flavor implements a handful of primitives (createRun, writeBatch,
 * uploadArtifact, finishRun, validateConnection) and says what its backend
 * takes (`limits`, `capabilities`); the engine does the rest, and the tracker
 * API (`createTracker`, `getTracker`) is what user code holds: it never sees
 * these primitives.
 */
import type { ExperimentBackend, FlavorCapabilities } from './backend.js';
import { DEFAULT_CAPABILITIES } from './backend.js';
import { TrackstackError } from './errors.js';
import { type Flavor, markTrackerClass, type TrackerClass, type TrackerOptions } from './flavor.js';
import { DEFAULT_LIMITS, type FlavorLimits } from './limits.js';
import { consoleLogger, type Logger } from './log.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry.js';
import { defaultStepRunLayout, type StepRunInfo, type StepRunLayout } from './step-run.js';
import type { ArtifactUpload, FinalRunStatus, ResumeOptions, RunInit, RunRef } from './types.js';
import type { WriteBatch } from './write-batch.js';

export abstract class BaseExperimentTracker<C = Record<string, unknown>>
  implements ExperimentBackend
{
  static {
    markTrackerClass(BaseExperimentTracker);
  }

  readonly config: C;
  readonly name: string;
  /** The store it was made for, if any: `createTracker` keeps its runs there. */
  readonly storeDir: string | undefined;
  /** Where it says things a person should read; runs of a tracker made from it say them there too. */
  readonly logger: Logger;
  /** The policy for retries the flavor makes itself; the engine retries primitives. */
  protected readonly retry: RetryPolicy;

  constructor(config: C, options: TrackerOptions = {}) {
    this.config = config;
    const flavor = (this.constructor as TrackerClass).FLAVOR;
    this.name = options.name ?? flavor?.name ?? this.constructor.name;
    this.storeDir = options.storeDir;
    this.logger = options.logger ?? consoleLogger;
    this.retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  }

  /** The flavor this tracker is an instance of. */
  get flavor(): Flavor {
    const flavor = (this.constructor as TrackerClass).FLAVOR;
    if (flavor === undefined) {
      throw new TrackstackError('INVALID_FLAVOR', `${this.constructor.name} has no static FLAVOR`);
    }
    return flavor;
  }

  /** What a logging call is checked against, and what one request holds: MLflow's by default. */
  get limits(): FlavorLimits {
    return DEFAULT_LIMITS;
  }

  get capabilities(): FlavorCapabilities {
    return DEFAULT_CAPABILITIES;
  }

  /** The experiment of a run that names none; default none ("Default"). */
  get defaultExperiment(): string | undefined {
    return undefined;
  }

  abstract createRun(init: RunInit): Promise<RunRef>;

  /** Default: the ref as persisted (a backend with nothing to reopen or look up). */
  resumeRun(ref: RunRef, _options: ResumeOptions): Promise<RunRef> {
    return Promise.resolve(ref);
  }

  abstract writeBatch(run: RunRef, batch: WriteBatch): Promise<void>;

  abstract uploadArtifact(run: RunRef, artifact: ArtifactUpload): Promise<void>;

  abstract finishRun(run: RunRef, status: FinalRunStatus, endTime: number): Promise<void>;

  abstract validateConnection(): Promise<void>;

  runMetadata(_ref: RunRef): Record<string, string> {
    return {};
  }

  /**
   * The default: one run per step, named `<pipeline run>_<step>`, in an
   * experiment named after the pipeline, its id derived from the step run id
   * so a retried step resumes its run. MLflow overrides it (one run per
   * pipeline run, a nested child per step with `nested`).
   */
  stepRunLayout(info: StepRunInfo): StepRunLayout {
    return defaultStepRunLayout(info);
  }
}
