/**
 * @trackstack/tracker-tensorboard: runs written as TensorBoard event files, in plain
 * TypeScript (no TensorFlow). This file is its whole public API.
 */
export {
  type ResolvedTensorboardConfig,
  resolveTensorboardConfig,
  type TensorboardConfig,
  tensorboardConfigSchema,
} from './tensorboard-config.js';
export { TensorboardError } from './tensorboard-error.js';
export { TensorboardExperimentTracker } from './tensorboard-tracker.js';
export { VERSION } from './version.js';
