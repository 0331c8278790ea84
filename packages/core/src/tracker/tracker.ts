/**
 * The tracker a user holds: runs, `withRun`, and ZenML's step lifecycle, on
 * top of one or more flavors' trackers (several make a group: one run, one
 * journal, delivered to each). It exposes no backend primitive: those are
 * the engine's to call.
 */
import { type ExperimentBackend, isExperimentBackend } from '../contract/backend.js';
import type { Flavor, FlavorTracker } from '../contract/flavor.js';
import { type LoggingLimits, strictestLoggingLimits } from '../contract/limits.js';
import { consoleLogger, type Logger } from '../contract/log.js';
import {
  defaultStepRunLayout,
  type StepRunInfo,
  type StepRunMetadata,
  type StepRunOptions,
} from '../contract/step-run.js';
import type { FinalRunStatus } from '../contract/types.js';
import { resolveStoreDir } from '../store/store-dir.js';
import { runInContext } from './context.js';
import { DEFAULT_EXPERIMENT, openRun } from './open-run.js';
import type { Run, StartRunOptions } from './run.js';

export interface StepRunResult<T> {
  value: T;
  metadata: Record<string, string>;
}

/** One flavor's tracker inside a tracker: its name in the store and its flavor's name. */
export interface TrackerMember {
  name: string;
  flavor: string;
}

export interface Tracker {
  /** Its name in the store (`prod`), or its members' names joined by `+` for a group. */
  readonly name: string;
  /** The flavor of a single tracker; undefined for a group (see `members`). */
  readonly flavor: Flavor | undefined;
  readonly members: readonly TrackerMember[];
  /** The store its runs' journals live in. */
  readonly storeDir: string;
  /** What every logging call of its runs is checked against: the strictest of its members'. */
  readonly limits: Readonly<LoggingLimits>;
  startRun(options?: StartRunOptions): Promise<Run>;
  /**
   * Runs `fn` inside a new run: `currentRun()` returns it, and it ends FINISHED,
   * or FAILED when `fn` throws (the error is rethrown).
   */
  withRun<T>(options: StartRunOptions, fn: (run: Run) => Promise<T> | T): Promise<T>;
  /** ZenML's step lifecycle, 1: start (or resume) the step's run. */
  prepareStepRun(info: StepRunInfo): Promise<Run>;
  /** ZenML's step lifecycle, 2: what the step's run is, for the pipeline's metadata. Never throws. */
  getStepRunMetadata(info: StepRunInfo): Promise<Record<string, string>>;
  /** ZenML's step lifecycle, 3: end the step's run, FAILED when the step failed. */
  cleanupStepRun(info: StepRunInfo, stepFailed: boolean): Promise<void>;
  /** All three around `fn`, with `currentRun()` set inside it. */
  runStep<T>(info: StepRunInfo, fn: (run: Run) => Promise<T> | T): Promise<StepRunResult<T>>;
  /** A cheap authenticated call to every member; throws a BackendError when one cannot be used. */
  validateConnection(): Promise<void>;
}

export interface CreateTrackerOptions {
  /** Default: the member's name, or the members' names joined by `+`. */
  name?: string;
  /** The store the runs' journals live in; default the first member's, else the resolved store. */
  storeDir?: string;
  /** Default the first member's logger, else stderr (TRACKSTACK_LOG). */
  logger?: Logger;
  /** Defaults for every `startRun` of this tracker (timeouts, mode, ...). */
  runDefaults?: StartRunOptions;
}

/** The backends behind the trackers this module made (for `syncRun`), never shown to users. */
const backendsOf = new WeakMap<Tracker, readonly ExperimentBackend[]>();

/** The backends a tracker delivers to (none for the local flavor). */
export function trackerBackends(tracker: Tracker): readonly ExperimentBackend[] {
  const backends = backendsOf.get(tracker);
  if (backends === undefined) {
    throw new TypeError('not a tracker made by createTracker() or getTracker()');
  }
  return backends;
}

/**
 * A tracker of one flavor's tracker, or a group of several:
 *
 *   const tracker = createTracker(new MlflowExperimentTracker({ tracking_uri }));
 *   await using run = await tracker.startRun({ experiment: 'iris' });
 */
export function createTracker(
  trackers: FlavorTracker | readonly FlavorTracker[],
  options: CreateTrackerOptions = {},
): Tracker {
  const members = Array.isArray(trackers) ? [...trackers] : [trackers as FlavorTracker];
  const tracker = new DefaultTracker(members, options);
  backendsOf.set(tracker, tracker.backends);
  return tracker;
}

/** A setting the flavors' trackers were made with (`storeDir`, `logger`): the first one's. */
function memberSetting<K extends 'storeDir' | 'logger'>(
  members: readonly FlavorTracker[],
  key: K,
): (K extends 'storeDir' ? string : Logger) | undefined {
  for (const member of members) {
    const value = (member as unknown as Partial<Record<K, unknown>>)[key];
    if (value !== undefined) return value as K extends 'storeDir' ? string : Logger;
  }
  return undefined;
}

class DefaultTracker implements Tracker {
  readonly name: string;
  readonly storeDir: string;
  readonly backends: readonly ExperimentBackend[];
  private readonly trackers: readonly FlavorTracker[];
  private readonly logger: Logger;
  private readonly runDefaults: StartRunOptions;
  private readonly stepRuns = new Map<string, { run: Run; parent: Run | undefined }>();

  constructor(trackers: readonly FlavorTracker[], options: CreateTrackerOptions) {
    this.trackers = trackers;
    this.backends = trackers.filter(isExperimentBackend);
    this.name = options.name ?? trackers.map((t) => t.name).join('+');
    this.storeDir = options.storeDir ?? memberSetting(trackers, 'storeDir') ?? resolveStoreDir();
    this.logger = options.logger ?? memberSetting(trackers, 'logger') ?? consoleLogger;
    this.runDefaults = options.runDefaults ?? {};
  }

  get flavor(): Flavor | undefined {
    return this.trackers.length === 1 ? this.trackers[0]!.flavor : undefined;
  }

  get members(): readonly TrackerMember[] {
    return this.trackers.map((t) => ({ name: t.name, flavor: t.flavor.name }));
  }

  get limits(): Readonly<LoggingLimits> {
    return strictestLoggingLimits(this.backends.map((b) => b.limits.logging));
  }

  startRun(options: StartRunOptions = {}): Promise<Run> {
    const merged: StartRunOptions = { logger: this.logger, ...this.runDefaults, ...options };
    merged.experiment ??=
      this.backends.length === 1 ? this.backends[0]!.defaultExperiment : undefined;
    merged.experiment ??= DEFAULT_EXPERIMENT;
    return openRun(this.storeDir, this.backends, this.limits, merged, (o) => this.startRun(o));
  }

  async withRun<T>(options: StartRunOptions, fn: (run: Run) => Promise<T> | T): Promise<T> {
    const run = await this.startRun(options);
    return runInContext(run, fn);
  }

  async prepareStepRun(info: StepRunInfo): Promise<Run> {
    const existing = this.stepRuns.get(info.stepRunId);
    if (existing !== undefined && !existing.run.ended) return existing.run;
    // One backend says how a step maps to its runs; a group or the local flavor takes the default.
    const layout =
      this.backends.length === 1 && this.trackers.length === 1
        ? this.backends[0]!.stepRunLayout(info)
        : defaultStepRunLayout(info);
    const parent =
      layout.parent === undefined ? undefined : await this.startRun(stepRun(layout.parent));
    const run = await this.startRun({ ...stepRun(layout.run), ...(parent ? { parent } : {}) });
    this.stepRuns.set(info.stepRunId, { run, parent });
    return run;
  }

  async getStepRunMetadata(info: StepRunInfo): Promise<Record<string, string>> {
    const step = this.stepRuns.get(info.stepRunId);
    if (step === undefined) {
      this.logger.warn(`no run for step ${info.stepName}: call prepareStepRun first`);
      return {};
    }
    const { run } = step;
    const metadata: Record<string, string> = {
      experiment_tracker_url: run.url,
      trackstack_run_uid: run.uid,
    };
    const first = this.backends[0];
    if (first === undefined) return metadata as StepRunMetadata;
    try {
      // Bounded: a step must not hang on a backend that is down (the URL falls back to the journal).
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<undefined>((resolve) => {
        timer = setTimeout(() => resolve(undefined), this.runDefaults.startTimeoutMs ?? 10_000);
      });
      const ref = await Promise.race([run.backendRef(first.name), timeout]);
      clearTimeout(timer);
      if (ref !== undefined) {
        Object.assign(metadata, first.runMetadata(ref));
        if (ref.url !== undefined) metadata.experiment_tracker_url = ref.url;
      }
    } catch (error) {
      this.logger.warn(`step ${info.stepName}: metadata incomplete (${(error as Error).message})`);
    }
    return metadata as StepRunMetadata;
  }

  async cleanupStepRun(info: StepRunInfo, stepFailed: boolean): Promise<void> {
    const step = this.stepRuns.get(info.stepRunId);
    if (step === undefined) return;
    this.stepRuns.delete(info.stepRunId);
    const status: FinalRunStatus = stepFailed ? 'FAILED' : 'FINISHED';
    await step.run.end(status);
    await step.parent?.end(status);
  }

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

  async validateConnection(): Promise<void> {
    await Promise.all(this.trackers.map((t) => t.validateConnection()));
  }
}

/** A step's run resumes when the step is retried: its id is derived from the step. */
function stepRun(options: StepRunOptions): StartRunOptions {
  return { ...options, resume: 'allow' };
}
