import pg from 'pg';

const HOW =
  'Run them with a PostgreSQL server: TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm test ' +
  '(any role that may CREATE DATABASE; each test makes and drops its own). `.ci/run` does this for you.';

/**
 * Vitest's global setup: with TEST_DATABASE_URL, checks that the server answers before anything runs (a clear
 * error rather than every PostgreSQL test failing); without it, says plainly that the PostgreSQL run is skipped.
 */
export default async function setup(): Promise<(() => void) | undefined> {
  const url = process.env.TEST_DATABASE_URL?.trim();
  if (!url) {
    const notice = () =>
      process.stderr.write(
        `\n*** PostgreSQL run SKIPPED: TEST_DATABASE_URL is not set. The end-to-end suite ran on SQLite only; ` +
          `the store's PostgreSQL tests and the multi-process tests (test/multiprocess) did not run.\n*** ${HOW}\n\n`,
      );
    notice();
    return notice;
  }
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (error) {
    const where = new URL(url);
    throw new Error(
      `TEST_DATABASE_URL is set, but PostgreSQL at ${where.hostname}:${where.port || 5432} does not answer ` +
        `(${error instanceof Error ? error.message : String(error)}). Start it, or unset TEST_DATABASE_URL to run ` +
        `on SQLite only.`,
      { cause: error },
    );
  } finally {
    await client.end().catch(() => {});
  }
  return undefined;
}
