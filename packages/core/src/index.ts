/**
 * @trackstack/core: the experiment-tracker contract, the run engine, the
 * journal and the local default flavor. This file is the whole public API.
 */

// The contract a flavor implements
export {
  BaseExperimentTracker,
  type StepRunResult,
  type TrackerOptions,
} from './base-tracker.js';
// Runs
export { currentRun } from './context.js';
export { forEachMetric, type MetricVisitor } from './engine/metric-batch.js';
export {
  DEFAULT_EXPERIMENT,
  type Destination,
  RUN_ID_ENV,
  type StartRunOptions,
  UID_TAG,
} from './engine/open-run.js';
export { DEFAULT_RETRY_POLICY, type RetryPolicy, retryDelay } from './engine/retry.js';
// Errors
export {
  BackendError,
  type BackendErrorOptions,
  describeNetworkFailure,
  isRetryableStatus,
  type NetworkFailure,
  parseRetryAfter,
  TrackstackError,
  type TrackstackErrorCode,
  toBackendError,
  ValidationError,
  type ValidationRule,
} from './errors.js';
export {
  type ConcreteTrackerClass,
  type ConfigSchema,
  configJsonSchema,
  defineFlavor,
  FLAVOR_TYPE,
  type Flavor,
  type FlavorDefinition,
  isFlavor,
  isTrackerClass,
  parseConfig,
  type ResolvedFlavor,
  resolveFlavor,
  SPECIFICATION_VERSION,
  type SpecificationVersion,
  secret,
  secretFields,
  type TrackerClass,
} from './flavor.js';
// The local flavor, the store and the registry
export { type GetTrackerOptions, getTracker, TRACKER_ENV, TrackerGroup } from './get-tracker.js';
export {
  type LocalArtifact,
  LocalRuns,
  type RunSnapshot,
  type RunSummary,
} from './local/local-runs.js';
export { type LocalConfig, LocalExperimentTracker } from './local/local-tracker.js';
export { consoleLogger, type Logger, silentLogger } from './log.js';
export {
  BUILT_IN_FLAVORS,
  type FlavorOrigin,
  FlavorRegistry,
  loadFlavorSource,
  type RegistryEntry,
} from './registry.js';
export {
  type ArtifactOptions,
  type ConsoleOptions,
  type DestinationReport,
  type EndOptions,
  type EndReport,
  type MetricOptions,
  Run,
} from './run.js';
export { resolveStoreDir } from './store/store-dir.js';
export { type SyncOptions, type SyncReport, syncRun } from './sync.js';
export {
  type ArtifactUpload,
  type ConsoleLine,
  type ConsoleStream,
  DEFAULT_CAPABILITIES,
  DEFAULT_LIMITS,
  type FinalRunStatus,
  type FlavorCapabilities,
  type FlavorLimits,
  type KeyValue,
  type MetricPoint,
  type ResumeOptions,
  type RunInit,
  type RunRef,
  type RunStatus,
  type StepRunInfo,
  type StepRunMetadata,
  type WriteBatch,
} from './types.js';
// Validation rules, for flavors that check more than core does
export {
  flattenParams,
  MAX_PARAM_DEPTH,
  RESERVED_TAG_PREFIX,
  validateKey,
} from './validation.js';
export { VERSION } from './version.js';
export { withRun } from './with-run.js';
