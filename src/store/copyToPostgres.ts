import { sql } from 'kysely';
import type { Database } from './database.js';

/** How many rows go in one INSERT: well under PostgreSQL's 65,535 parameters for the widest table. */
const BATCH = 500;

/** Tables in an order that satisfies the foreign keys (generations before the rows that point at them). */
const TABLES = ['generations', 'delivered_parts', 'result_images', 'settings', 'guild_settings'] as const;

export type CopiedCounts = Record<(typeof TABLES)[number], number>;

/** Why a copy was refused, in words for the operator. */
export class CopyRefused extends Error {
  override readonly name = 'CopyRefused';
}

/**
 * Copies everything in a SQLite database (jobs, usage, result images, settings, command hashes) into an empty
 * PostgreSQL database with the bot's schema, in one transaction: it lands whole or not at all. Ids are kept, so
 * buttons on old results and /imagine-show numbers keep working; the id sequence continues after the highest.
 * @throws {CopyRefused} when PostgreSQL already holds generations (a second copy would mix two histories).
 */
export async function copyToPostgres(from: Database, to: Database): Promise<CopiedCounts> {
  if (from.engine !== 'sqlite' || to.engine !== 'postgres') {
    throw new CopyRefused('the copy goes from a SQLite file to PostgreSQL');
  }
  const existing = await to.db
    .selectFrom('generations')
    .select(sql<number>`COUNT(*)`.as('count'))
    .executeTakeFirst();
  if ((existing?.count ?? 0) > 0) {
    throw new CopyRefused(
      `PostgreSQL already holds ${existing?.count} generations: copy only into a new, empty database`,
    );
  }
  const counts = Object.fromEntries(TABLES.map((table) => [table, 0])) as CopiedCounts;
  await to.db.transaction().execute(async (trx) => {
    for (const table of TABLES) {
      const rows = await from.db.selectFrom(table).selectAll().execute();
      for (let start = 0; start < rows.length; start += BATCH) {
        // The rows come from the same schema, column for column (TypeScript cannot follow `table` through the loop).
        const batch = rows.slice(start, start + BATCH) as never;
        await trx.insertInto(table).values(batch).execute();
      }
      counts[table] = rows.length;
    }
    // An id given explicitly does not move the identity sequence: new jobs must start after the copied ones.
    await sql`SELECT setval(pg_get_serial_sequence('generations', 'id'), GREATEST((SELECT MAX(id) FROM generations), 1), (SELECT COUNT(*) > 0 FROM generations))`.execute(
      trx,
    );
  });
  return counts;
}
