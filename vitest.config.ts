import { defineConfig } from 'vitest/config';

const shared = {
  testTimeout: 30_000,
  hookTimeout: 30_000,
};

/**
 * Every test runs on SQLite; the end-to-end suite runs a second time on PostgreSQL when TEST_DATABASE_URL names a
 * server (`.ci/run` always does). Without it, test/support/postgresNotice.ts says at the end that the PostgreSQL
 * run was skipped and how to run it.
 */
const postgres = Boolean(process.env.TEST_DATABASE_URL?.trim());

export default defineConfig({
  test: {
    // The e2e suites each start loopback servers and a bot; on a 2-core machine a few at a time is plenty.
    maxWorkers: 2,
    globalSetup: ['test/support/build.ts', 'test/support/postgresNotice.ts'],
    projects: [
      { test: { ...shared, name: 'sqlite', include: ['test/**/*.test.ts'], exclude: ['test/multiprocess/**'] } },
      ...(postgres
        ? [
            {
              test: {
                ...shared,
                name: 'postgres',
                include: ['test/e2e/**/*.test.ts', 'test/multiprocess/**/*.test.ts'],
                env: { IMAGEN_TEST_ENGINE: 'postgres' },
              },
            },
          ]
        : []),
    ],
  },
});
