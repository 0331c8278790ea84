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
} from './wandb-config.js';
export { isWandbRetryableStatus, WandbError } from './wandb-error.js';
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
  type WandbRecord,
} from './wandb-records.js';
export {
  historyRows,
  jsonWithNonFinite,
  paramValue,
  WandbExperimentTracker,
  wandbConfig,
} from './wandb-tracker.js';
export {
  scanWandbTransactionLog,
  WANDB_LOG_BLOCK_SIZE,
  type WandbLogScan,
  WandbTransactionLogWriter,
} from './wandb-transaction-log.js';
