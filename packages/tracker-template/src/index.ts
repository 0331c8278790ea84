/**
 * @trackstack/tracker-template: a flavor that posts runs as JSON to an HTTP
 * endpoint, and the reference server of that protocol. This file is its
 * whole public API.
 */

// The protocol (README.md), as the client sends it and the server keeps it
export type {
  BatchBody,
  CreateRunBody,
  TemplateArtifact,
  TemplateHealth,
  TemplateRun,
  TemplateRunSummary,
  WireMetric,
  WireNumber,
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
export { TemplateExperimentTracker } from './template-tracker.js';

export { VERSION } from './version.js';
