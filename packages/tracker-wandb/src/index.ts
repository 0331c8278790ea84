/**
 * @trackstack/tracker-wandb: the Weights & Biases flavor. The public API: the
 * tracker, its config (schema, types, the resolved form with W&B's
 * environment variables) and its error. Everything else (the W&B client, the
 * offline `.wandb` writer, protobuf and record encoding) is internal.
 */

export { VERSION } from './version.js';
export {
  type ResolvedWandbConfig,
  resolveWandbConfig,
  type WandbConfig,
  wandbConfigSchema,
} from './wandb-config.js';
export { WandbError } from './wandb-error.js';
export { WandbExperimentTracker } from './wandb-tracker.js';
