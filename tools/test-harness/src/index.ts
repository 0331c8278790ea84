export {
  type Fault,
  type FaultKind,
  type FaultLogEntry,
  type FaultProxy,
  type FaultProxyOptions,
  type RandomFaultOptions,
  startFaultProxy,
  xorshift32,
} from './fault-proxy.js';
export { freePort } from './free-port.js';
export { git } from './git.js';
export {
  basicAuthHeader,
  ensureMlflowEnv,
  MLFLOW_ADMIN_USERNAME,
  type MlflowServer,
  type MlflowServerOptions,
  startMlflowServer,
} from './mlflow.js';
export {
  MlflowOracle,
  type MlflowOracleMetricSummary,
  type MlflowOraclePoint,
  type MlflowOracleRun,
  type MlflowOracleRunOptions,
} from './mlflow-oracle.js';
export {
  MLFLOW_POOL_ENV,
  type MlflowStack,
  type MlflowStackOptions,
  startMlflowStack,
} from './mlflow-stack.js';
export { findPostgresBin, type Postgres, startPostgres } from './postgres.js';
export { type RunResult, run as runProcess } from './process.js';
export {
  basePython,
  type EnsurePythonEnvOptions,
  ensurePythonEnv,
  MLFLOW_REQUIREMENTS,
  MLFLOW_S3_REQUIREMENTS,
  MLFLOW_SCALE_REQUIREMENTS,
  MLFLOW_SYSTEM_METRICS_REQUIREMENTS,
  PYTHON_ENV_MARKER,
  type PythonEnv,
  pythonEnvBuilds,
  type RunPythonOptions,
  requirementsHash,
  runPython,
  TENSORBOARD_REQUIREMENTS,
  venvCacheRoot,
  WANDB_MEDIA_REQUIREMENTS,
  WANDB_REQUIREMENTS,
} from './python-env.js';
export {
  ensureMlflowS3Env,
  S3_FAKE_CREDENTIALS,
  type S3Server,
  startS3Server,
} from './s3.js';
export {
  ensureTensorboardEnv,
  startTensorboard,
  type TensorboardServer,
  type TensorboardServerOptions,
} from './tensorboard.js';
export {
  type DiffWandbOptions,
  diffWandbRecordings,
  type NormalizeWandbOptions,
  normalizeWandbRecording,
  summarizeWandbRecording,
  WANDB_PLACEHOLDERS,
  type WandbJson,
  type WandbRecordedRequest,
  type WandbRecording,
  type WandbSessionSummary,
} from './wandb-recording.js';
export {
  parseWandbJson,
  startWandbServer,
  stringifyWandbJson,
  WANDB_FAKE_API_KEY,
  type WandbArtifact,
  type WandbArtifactFile,
  type WandbArtifactState,
  type WandbArtifactUse,
  type WandbFault,
  type WandbFaultKind,
  type WandbRequest,
  type WandbRequestKind,
  type WandbRun,
  type WandbRunRef,
  type WandbServer,
  type WandbServerOptions,
  type WandbStoredFile,
  type WandbUnknownOperation,
  type WandbUpsert,
  wandbArtifactDigest,
} from './wandb-server.js';
