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

/** A fresh, empty PostgreSQL database on the test server; `drop` removes it (and ends its connections). */
export async function createPostgresDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  if (!TEST_DATABASE_URL) throw new Error('TEST_DATABASE_URL is not set');
  const name = `imagen_test_${randomBytes(6).toString('hex')}`;
  await admin(`CREATE DATABASE ${name}`);
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

async function admin(statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
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
