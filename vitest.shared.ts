/**
 * Test settings every package shares. Under CI a JSON report is written beside
 * the package too, so `scripts/test-summary.mjs` can print one closing line
 * for the whole repository.
 */
import type { ViteUserConfig } from 'vitest/config';

export const sharedTestConfig: NonNullable<ViteUserConfig['test']> = {
  include: ['src/**/*.test.ts'],
  testTimeout: 60_000,
  reporters: process.env.CI
    ? ['default', ['json', { outputFile: '.test-results.json' }]]
    : ['default'],
};
