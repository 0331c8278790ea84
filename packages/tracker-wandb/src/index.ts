/**
 * @trackstack/tracker-wandb: the Weights & Biases flavor.
 */

export { VERSION } from './version.js';
export {
  type Bucket,
  type FileStreamRequest,
  type ResumeStatus,
  USER_AGENT,
  WandbClient,
} from './wandb-client.js';
export {
  type ResolvedWandbConfig,
  resolveWandbConfig,
  WANDB_DEFAULT_BASE_URL,
  type WandbConfig,
  wandbConfigSchema,
  wandbRunIdProblem,
} from './wandb-config.js';
export { OUTPUT_LOG, outputLogLine } from './wandb-console.js';
export {
  isWandbRetryableStatus,
  MAX_RATE_LIMIT_PAUSE_MS,
  rateLimitPauseMs,
  WandbError,
} from './wandb-error.js';
export { historyRows, jsonWithNonFinite } from './wandb-history.js';
export {
  generateWandbRunId,
  WandbOfflineRun,
  type WandbOfflineRunOptions,
} from './wandb-offline-run.js';
export { type ProtobufField, ProtobufWriter, readProtobufFields } from './wandb-protobuf.js';
export {
  encodeRecord,
  formatWandbNumber,
  WANDB_FIELDS,
  WANDB_OUTPUT_TYPE,
  type WandbRecord,
} from './wandb-records.js';
export { paramValue, stepRunWandbId, wandbConfig } from './wandb-run-config.js';
export { WandbExperimentTracker } from './wandb-tracker.js';
export {
  scanWandbTransactionLog,
  WANDB_LOG_BLOCK_SIZE,
  type WandbLogScan,
  WandbTransactionLogWriter,
} from './wandb-transaction-log.js';
