import { defineConfig } from 'vitest/config';
import { sharedTestConfig } from '../../vitest.shared.js';

export default defineConfig({
  // The pages' pure parts (web/src) are tested here too; the pages themselves in chromium.
  test: {
    ...sharedTestConfig,
    include: ['src/**/*.test.ts', 'web/src/**/*.test.ts'],
    testTimeout: 60_000,
  },
});
