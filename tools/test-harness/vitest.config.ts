import { defineConfig } from 'vitest/config';
import { sharedTestConfig } from '../../vitest.shared.js';

export default defineConfig({
  test: {
    ...sharedTestConfig,
    // Hooks may provision a Python environment (the first MLflow install on a machine
    // takes ~1 min) and start a server that migrates a fresh SQLite database. Tests that
    // need more than the shared default set their own timeout.
    hookTimeout: 240_000,
  },
});
