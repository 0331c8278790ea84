import { defineConfig } from 'vitest/config';
import { sharedTestConfig } from '../../vitest.shared.js';

export default defineConfig({
  test: {
    ...sharedTestConfig,
    // Each file starts its own peers (MLflow, PostgreSQL, servers) and some run for minutes
    // (the outage test keeps a server down for TRACKSTACK_OUTAGE_SECONDS, default 60).
    testTimeout: 600_000,
    hookTimeout: 300_000,
    // Latency figures are measured in the test process: no other file competes for its CPU
    // more than it must. Files run one at a time.
    fileParallelism: false,
    pool: 'forks',
    execArgv: ['--expose-gc'],
  },
});
