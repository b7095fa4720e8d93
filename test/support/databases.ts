import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase, type Database } from '../../src/store/database.js';

/**
 * The PostgreSQL server tests may use: TEST_DATABASE_URL (any database on it; each test gets a fresh one of its
 * own). Unset: the PostgreSQL runs are skipped, and `npm test` says so (test/support/postgresNotice.ts).
 */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL?.trim() || undefined;

/** The engines a test runs against: SQLite always, PostgreSQL when TEST_DATABASE_URL names a server. */
export const ENGINES: ReadonlyArray<'sqlite' | 'postgres'> = TEST_DATABASE_URL ? ['sqlite', 'postgres'] : ['sqlite'];

/**
 * A fresh, empty PostgreSQL database on `server` (default: the test server), named `<prefix>_<random>`; `drop`
 * removes it (and ends its connections). The bench makes its databases this way too.
 */
export async function createPostgresDatabase(
  server: string | undefined = TEST_DATABASE_URL,
  prefix = 'imagen_test',
): Promise<{ url: string; drop(): Promise<void> }> {
  if (!server) throw new Error('TEST_DATABASE_URL is not set');
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  await onServer(server, `CREATE DATABASE ${name}`);
  const url = new URL(server);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => onServer(server, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

/** Runs one statement on the PostgreSQL server at `server` (rejects when it does not answer within 5 s). */
export async function onServer(server: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: server, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query(statement);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * A fresh database of `engine` (SQLite in memory, or a new PostgreSQL database), with the bot's schema;
 * `close` closes and, for PostgreSQL, drops it.
 */
export async function freshDatabase(engine: 'sqlite' | 'postgres'): Promise<Database> {
  if (engine === 'sqlite') return openDatabase({ path: ':memory:' });
  const created = await createPostgresDatabase();
  const database = await openDatabase({ url: created.url, path: '' });
  return {
    ...database,
    async close() {
      await database.close();
      await created.drop();
    },
  };
}
