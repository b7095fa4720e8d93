import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // The e2e suites each start loopback servers and a bot; on a 2-core machine a few at a time is plenty.
    maxWorkers: 2,
  },
});
