/**
 * @trackstack/tracker-mlflow: the MLflow flavor. This file is its whole
 * public API.
 */
export {
  type MlflowConfig,
  mlflowConfigSchema,
  type ResolvedMlflowConfig,
  resolveMlflowConfig,
} from './mlflow-config.js';
export { MlflowError } from './mlflow-error.js';
export { MlflowExperimentTracker } from './mlflow-tracker.js';
export { VERSION } from './version.js';
