/**
 * @trackstack/core: the experiment-tracker contract, the run engine, the
 * journal and the local default flavor. This file is the whole public API;
 * `./flavor` has the helpers flavor authors use, `./testing` the
 * conformance kit, `./store` the store and the read path (CLI, viewer).
 *
 * The source reads top-down by folder, each layer importing only those
 * below it: tracker/ (what users hold) > registry/, local/, store/ > engine/
 * (journal, batcher, sender, cursors) > contract/ (imports nothing).
 */

// The contract: what a flavor implements
export {
  DEFAULT_CAPABILITIES,
  type ExperimentBackend,
  type FlavorCapabilities,
  isExperimentBackend,
} from './contract/backend.js';
export { BaseExperimentTracker } from './contract/base-tracker.js';
export {
  BackendError,
  type BackendErrorCode,
  type BackendErrorOptions,
  TrackstackError,
  type TrackstackErrorCode,
  type TrackstackErrorOptions,
  toBackendError,
  ValidationError,
  type ValidationRule,
} from './contract/errors.js';
export {
  type ConcreteTrackerClass,
  type ConfigSchema,
  configJsonSchema,
  defineFlavor,
  FLAVOR_NAME,
  FLAVOR_TYPE,
  type Flavor,
  type FlavorDefinition,
  type FlavorTracker,
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
  type TrackerOptions,
} from './contract/flavor.js';
export {
  DEFAULT_LIMITS,
  type FlavorLimits,
  type LoggingLimits,
  type RequestLimits,
} from './contract/limits.js';
export { consoleLogger, type Logger, silentLogger } from './contract/log.js';
export { DEFAULT_RETRY_POLICY, type RetryPolicy, retryDelay } from './contract/retry.js';
export {
  defaultStepRunLayout,
  type StepRunInfo,
  type StepRunLayout,
  type StepRunMetadata,
  type StepRunOptions,
} from './contract/step-run.js';
export {
  type ArtifactUpload,
  type ConsoleLine,
  type ConsoleStream,
  type DatasetInput,
  type FinalRunStatus,
  type HistogramMedia,
  type ImageMedia,
  type KeyValue,
  type Media,
  type MediaImage,
  type MediaKind,
  type MetricPoint,
  type ResumeOptions,
  type RunInit,
  type RunRef,
  type RunSource,
  type RunStatus,
  type TableCell,
  type TableMedia,
  UID_TAG,
} from './contract/types.js';
export { forEachMetric, type MetricVisitor, type WriteBatch } from './contract/write-batch.js';
export {
  DEFAULT_HISTOGRAM_BINS,
  type HistogramInput,
  type ImageValue,
  image,
  isImageValue,
  MAX_CAPTION_LENGTH,
  MAX_HISTOGRAM_BINS,
  MAX_IMAGE_BYTES,
  MAX_IMAGE_PIXELS,
  MAX_TABLE_COLUMNS,
  MAX_TABLE_ROWS,
} from './engine/media.js';
export { redactCommand, type SourceOptions } from './engine/source.js';
export {
  DEFAULT_SYSTEM_METRICS_INTERVAL_S,
  SYSTEM_METRIC_PREFIX,
} from './engine/system-metrics.js';
// Validation rules, for flavors that check more than core does
export {
  type DatasetInputOptions,
  flattenParams,
  MAX_PARAM_DEPTH,
  RESERVED_TAG_PREFIX,
  validateKey,
} from './engine/validation.js';
// The local flavor and the registry
export {
  type LocalArtifact,
  type LocalMedia,
  LocalRuns,
  type RunDelivery,
  type RunSnapshot,
  type RunSummary,
  type RunView,
} from './local/local-runs.js';
export { type LocalConfig, LocalExperimentTracker } from './local/local-tracker.js';
export type { MetricSummary, Series, SeriesOptions, SeriesPoint } from './local/run-index.js';
export {
  BUILT_IN_FLAVORS,
  type FlavorOrigin,
  FlavorRegistry,
  loadFlavorSource,
  type RegistryEntry,
} from './registry/registry.js';
export { resolveStoreDir } from './store/store-dir.js';
// The tracker API: what user code holds
export { currentRun } from './tracker/context.js';
export { type GetTrackerOptions, getTracker, TRACKER_ENV } from './tracker/get-tracker.js';
export { CAPTURE_SOURCE_ENV, DEFAULT_EXPERIMENT, RUN_ID_ENV } from './tracker/open-run.js';
export type {
  ArtifactOptions,
  ConsoleOptions,
  DestinationReport,
  EndOptions,
  EndReport,
  HistogramOptions,
  ImageOptions,
  MediaOptions,
  MetricOptions,
  Run,
  StartRunOptions,
  TableInput,
} from './tracker/run.js';
export { type SyncOptions, type SyncReport, syncRun } from './tracker/sync.js';
export {
  SYSTEM_METRICS_ENV,
  SYSTEM_METRICS_INTERVAL_ENV,
  type SystemMetricsOptions,
} from './tracker/system-monitor.js';
export {
  type CreateTrackerOptions,
  createTracker,
  type StepRunResult,
  type Tracker,
  type TrackerMember,
} from './tracker/tracker.js';
export { withRun } from './tracker/with-run.js';
export { VERSION } from './version.js';
