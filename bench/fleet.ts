/**
 * What the `processes` scenario needs beyond {@link BenchWorld}: a PostgreSQL server to make a fresh database on
 * for each fleet of bot processes, and guilds whose interactions Discord sends to a given shard.
 */
import { onServer } from '../test/support/databases.js';

/** Where the bench looks for PostgreSQL when neither BENCH_DATABASE_URL nor TEST_DATABASE_URL is set. */
export const DEFAULT_BENCH_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/**
 * The PostgreSQL server the `processes` scenario uses: BENCH_DATABASE_URL, else TEST_DATABASE_URL (the tests'
 * server), else {@link DEFAULT_BENCH_DATABASE_URL}. Any database on it; the role must be allowed to CREATE DATABASE.
 */
export function benchDatabaseServer(env: NodeJS.ProcessEnv = process.env): string {
  return env['BENCH_DATABASE_URL']?.trim() || env['TEST_DATABASE_URL']?.trim() || DEFAULT_BENCH_DATABASE_URL;
}

/** host:port/database of a connection string, without the user or password (for messages). */
export function describeServer(url: string): string {
  try {
    const where = new URL(url);
    return `${where.hostname}:${where.port || '5432'}${where.pathname}`;
  } catch {
    return 'an unparsable connection string';
  }
}

/** Why PostgreSQL at `url` cannot be used (it does not answer, refuses the login, ...); undefined when it answers. */
export async function postgresProblem(url: string): Promise<string | undefined> {
  try {
    await onServer(url, 'SELECT 1');
    return undefined;
  } catch (error) {
    const message = error instanceof Error ? error.message || error.name : String(error);
    return `PostgreSQL at ${describeServer(url)} does not answer (${message})`;
  }
}
