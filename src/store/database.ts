import { EventEmitter } from 'node:events';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import type pg from 'pg';
import { POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS } from './migrations.js';
import type { Schema } from './schema.js';

export { POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS } from './migrations.js';

export type Engine = 'sqlite' | 'postgres';

/** The transactions that go one at a time across processes ({@link Database.serialize}), each its own lock. */
export const LOCKS = { migration: 1, admission: 2, dispatch: 3, guildSettings: 4 } as const;
export type Lock = keyof typeof LOCKS;

/** Any fixed number: with a {@link LOCKS} entry, the bot's advisory locks among others on the same server. */
const LOCK_SPACE = 7_262_024;

/**
 * The bot's database, whichever engine holds it: every store queries `db` the same way. `notify` wakes every
 * process on the database (`onWake`), for what another process must act on soon (a freed fal slot, a cancel):
 * PostgreSQL's LISTEN/NOTIFY; with SQLite there is only this process, and nothing to wake.
 */
export interface Database {
  readonly db: Kysely<Schema>;
  readonly engine: Engine;
  /** Rejects when the database does not answer. */
  ping(): Promise<void>;
  /**
   * Makes the rest of transaction `trx` the only one, in any process, that holds `lock` (for `key`, e.g. one
   * server): PostgreSQL's advisory lock. SQLite needs nothing: one process, whose transactions Kysely runs on
   * one connection, one at a time.
   */
  serialize(trx: Kysely<Schema>, lock: Lock, key?: string): Promise<void>;
  notify(): Promise<void>;
  onWake(listener: () => void): void;
  close(): Promise<void>;
}

export interface DatabaseLocation {
  /** `postgres://…`: PostgreSQL. Unset: the SQLite file at `path`. */
  readonly url?: string | undefined;
  readonly path: string;
  /** PostgreSQL: connections kept at most (default 5), besides the one that listens for wake-ups. */
  readonly poolSize?: number | undefined;
}

/** The database could not be opened (or its schema brought up to date); `cause` says why. */
export class DatabaseUnavailable extends Error {
  override readonly name = 'DatabaseUnavailable';
}

/**
 * Opens (creating if needed) the bot's database and brings its schema up to date.
 * @throws {DatabaseUnavailable} when it cannot.
 */
export async function openDatabase(location: DatabaseLocation): Promise<Database> {
  try {
    return location.url ? await openPostgres(location.url, location.poolSize ?? 5) : openSqlite(location.path);
  } catch (error) {
    throw new DatabaseUnavailable(location.url ? 'PostgreSQL did not open' : 'the SQLite file did not open', {
      cause: error,
    });
  }
}

/** Opens a SQLite file; the schema is brought up to date before anything else reads it. */
export function openSqlite(path: string): Database {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const file = new SqliteDatabase(path);
  file.pragma('journal_mode = WAL');
  file.pragma('synchronous = NORMAL');
  file.pragma('foreign_keys = ON');
  file.pragma('busy_timeout = 5000');
  migrateSqlite(file);
  const db = new Kysely<Schema>({ dialect: new SqliteDialect({ database: preparedOnce(file) }) });
  return {
    db,
    engine: 'sqlite',
    async ping() {
      await sql`SELECT 1`.execute(db);
    },
    async serialize() {},
    async notify() {},
    onWake() {},
    async close() {
      await db.destroy();
    },
  };
}

/** How many distinct statements {@link preparedOnce} keeps; the bot has a few dozen. */
const STATEMENT_CACHE_SIZE = 256;

/**
 * The SQLite file as Kysely's dialect uses it, with each distinct statement prepared once: Kysely prepares every
 * query anew, and parsing the SQL again on every call made each job's queries cost several times more.
 */
function preparedOnce(file: SqliteDatabase.Database) {
  const statements = new Map<string, SqliteDatabase.Statement>();
  return {
    close: () => file.close(),
    prepare(text: string): SqliteDatabase.Statement {
      let statement = statements.get(text);
      if (!statement) {
        statement = file.prepare(text);
        if (statements.size >= STATEMENT_CACHE_SIZE) statements.delete(statements.keys().next().value ?? '');
        statements.set(text, statement);
      }
      return statement;
    },
  };
}

/** Applies the SQLite migrations not yet applied, up to `upTo` of them (all by default; tests stop earlier). */
export function migrateSqlite(file: SqliteDatabase.Database, upTo = SQLITE_MIGRATIONS.length): void {
  const applied = file.pragma('user_version', { simple: true }) as number;
  for (let version = applied; version < upTo; version += 1) {
    file.transaction(() => {
      file.exec(SQLITE_MIGRATIONS[version] ?? '');
      file.pragma(`user_version = ${version + 1}`);
    })();
  }
}

const WAKE_CHANNEL = 'imagen_bot_wake';
/** A lost LISTEN connection is tried again this often, for as long as it takes. */
const LISTEN_RETRY_MS = 1000;
/**
 * A server that stops answering fails a query within seconds rather than hanging it (and with it a job, a lease
 * renewal or /readyz); TCP keepalive finds a connection a dead peer left.
 */
const CONNECTION_OPTIONS = {
  connectionTimeoutMillis: 10_000,
  query_timeout: 30_000,
  keepAlive: true,
} as const;
const OID_INT8 = 20;
const OID_NUMERIC = 1700;

/**
 * Connects to PostgreSQL. BIGINT (times in ms, COUNT, SUM) and NUMERIC are read as JavaScript numbers, as SQLite
 * gives them: every value the bot stores fits a double exactly.
 */
async function openPostgres(url: string, poolSize: number): Promise<Database> {
  // Loaded only here: a bot on SQLite never carries the PostgreSQL driver in its memory.
  const { default: pg } = await import('pg');
  const asNumber = (value: string) => Number(value);
  const types = {
    getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
      oid === OID_INT8 || oid === OID_NUMERIC
        ? asNumber
        : (pg.types.getTypeParser(oid, format) as unknown)) as typeof pg.types.getTypeParser,
  };
  const pool = new pg.Pool({ connectionString: url, max: poolSize, types, ...CONNECTION_OPTIONS });
  // An idle connection the server dropped must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  const db = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) });
  try {
    await migratePostgres(db);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  const wake = new EventEmitter();
  let listener: pg.Client | undefined;
  let closing = false;
  // One connection listens for wake-ups; when it is lost it is made again, for as long as it takes. Meanwhile the
  // periodic renewal covers what a missed wake-up would have started; once back, one wake-up catches up.
  const connectListener = async (): Promise<pg.Client> => {
    const client = new pg.Client({ connectionString: url, types, ...CONNECTION_OPTIONS });
    client.on('notification', () => wake.emit('wake'));
    const lost = () => {
      if (closing || listener !== client) return;
      listener = undefined;
      void client.end().catch(() => {});
      retryListener();
    };
    client.on('error', lost);
    client.on('end', lost);
    try {
      await client.connect();
      await client.query(`LISTEN ${WAKE_CHANNEL}`);
    } catch (error) {
      void client.end().catch(() => {});
      throw error;
    }
    return client;
  };
  const retryListener = () => {
    setTimeout(() => {
      if (closing) return;
      connectListener().then(
        (client) => {
          if (closing) {
            void client.end().catch(() => {});
            return;
          }
          listener = client;
          wake.emit('wake');
        },
        () => retryListener(),
      );
    }, LISTEN_RETRY_MS).unref();
  };
  try {
    listener = await connectListener();
  } catch (error) {
    await db.destroy();
    throw error;
  }
  return {
    db,
    engine: 'postgres',
    async ping() {
      await sql`SELECT 1`.execute(db);
    },
    serialize: advisoryLock,
    async notify() {
      await sql`SELECT pg_notify(${WAKE_CHANNEL}, '')`.execute(db);
    },
    onWake(callback) {
      wake.on('wake', callback);
    },
    async close() {
      closing = true;
      await listener?.end().catch(() => {});
      await db.destroy();
    },
  };
}

/** PostgreSQL's transaction-level advisory lock: held until `trx` commits or rolls back. */
async function advisoryLock(trx: Kysely<Schema>, lock: Lock, key = ''): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(${LOCK_SPACE + LOCKS[lock]}, hashtext(${key}))`.execute(trx);
}

async function migratePostgres(db: Kysely<Schema>): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await advisoryLock(trx, 'migration');
    await sql`CREATE TABLE IF NOT EXISTS imagen_schema (version INTEGER NOT NULL)`.execute(trx);
    const { rows } = await sql<{ version: number }>`SELECT version FROM imagen_schema`.execute(trx);
    const applied = rows[0]?.version ?? 0;
    if (rows.length === 0) await sql`INSERT INTO imagen_schema (version) VALUES (0)`.execute(trx);
    for (let version = applied; version < POSTGRES_MIGRATIONS.length; version += 1) {
      await sql.raw(POSTGRES_MIGRATIONS[version] ?? '').execute(trx);
    }
    if (applied < POSTGRES_MIGRATIONS.length) {
      await sql`UPDATE imagen_schema SET version = ${POSTGRES_MIGRATIONS.length}`.execute(trx);
    }
  });
}
