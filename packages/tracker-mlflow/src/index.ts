/**
 * @trackstack/tracker-mlflow: the MLflow flavor.
 */
export {
  MlflowRestClient,
  type MlflowRun,
  type MlflowRunInfo,
  USER_AGENT,
} from './mlflow-client.js';
export {
  type MlflowConfig,
  mlflowConfigSchema,
  type ResolvedMlflowConfig,
  resolveMlflowConfig,
} from './mlflow-config.js';
export { MlflowError } from './mlflow-error.js';
export { MlflowExperimentTracker } from './mlflow-tracker.js';

export { VERSION } from './version.js';
