/**
 * @trackstack/core/testing: what a flavor author tests with.
 */
export {
  type BackendRunView,
  type ConformanceContext,
  type ConformanceOptions,
  type ConformanceTest,
  describeFlavorConformance,
  injectFaults,
  type LoggedRun,
  metricHistories,
} from './conformance.js';
export {
  type BackendOperation,
  InMemoryBackend,
  InMemoryTracker,
  inMemoryConfigSchema,
  type RecordedCall,
  type StoredRun,
} from './in-memory-tracker.js';
export { journalNow } from './journal-now.js';
export { TEST_JPEG, TEST_PNG } from './test-images.js';
