/**
 * @trackstack/tracker-template: a flavor that posts runs as JSON to an HTTP
 * endpoint, and the reference server of that protocol.
 */

export {
  type BatchBody,
  type CreateRunBody,
  type TemplateArtifact,
  TemplateClient,
  type TemplateHealth,
  type TemplateRun,
  type TemplateRunSummary,
  USER_AGENT,
  type WireMetric,
  type WireNumber,
} from './template-client.js';
export {
  type ResolvedTemplateConfig,
  resolveTemplateConfig,
  type TemplateConfig,
  templateConfigSchema,
} from './template-config.js';
export { TemplateError } from './template-error.js';
export {
  MAX_BATCH_ENTITIES,
  startTemplateServer,
  TEMPLATE_PROTOCOL_VERSION,
  TemplateServer,
  type TemplateServerOptions,
} from './template-server.js';
export { TEMPLATE_LIMITS, TemplateExperimentTracker } from './template-tracker.js';

export { VERSION } from './version.js';
