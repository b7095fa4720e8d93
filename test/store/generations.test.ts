import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SQLITE_MIGRATIONS, migrateSqlite, openSqlite, type Database } from '../../src/store/database.js';
import { DamagedRowError, GenerationStore, type NewGeneration } from '../../src/store/generations.js';
import { JobClaims } from '../../src/store/jobClaims.js';
import { ENGINES, freshDatabase } from '../support/databases.js';
import { newGeneration } from './newGeneration.js';

const fresh: NewGeneration = newGeneration({ safetyTolerance: '2' });
const CLAIMANT = { owner: 'test-process', leaseMs: 60_000 };

describe.each(ENGINES)('GenerationStore rows (%s)', (engine) => {
  let database: Database;
  beforeEach(async () => {
    database = await freshDatabase(engine);
  });
  afterEach(async () => {
    await database.close();
  });

  it('keeps what the server adds apart from what the member chose', async () => {
    const generation = await new GenerationStore(database, CLAIMANT).create(fresh);
    expect(generation).toMatchObject({ input: fresh.input, safetyTolerance: '2' });
    const { rows } = await sql<{
      input_json: string;
      safety_tolerance: string;
    }>`SELECT input_json, safety_tolerance FROM generations`.execute(database.db);
    expect(rows).toHaveLength(1);
    expect(JSON.parse(rows[0]!.input_json)).toEqual(fresh.input);
    expect(rows[0]!.safety_tolerance).toBe('2');
  });

  it('fails loudly, naming the field, on a damaged row, and still resumes the others', async () => {
    const store = new GenerationStore(database, CLAIMANT);
    const claims = new JobClaims(database, CLAIMANT);
    await store.create(fresh);
    await store.create(fresh);
    await sql`UPDATE generations SET input_json = '{"prompt": 5}' WHERE id = 1`.execute(database.db);
    await expect(store.require(1)).rejects.toThrow(DamagedRowError);
    await expect(store.require(1)).rejects.toThrow(/generation 1 .* input_json: prompt/);
    await sql`UPDATE generations SET status = 'lost' WHERE id = 1`.execute(database.db);
    await expect(store.require(1)).rejects.toThrow(/status/);
    await sql`UPDATE generations SET status = 'waiting' WHERE id = 1`.execute(database.db);
    const { generations, damaged } = await claims.adopt(2, { all: true });
    expect(generations.map(({ generation }) => generation.id)).toEqual([2]);
    expect(damaged.map((error) => error.id)).toEqual([1]);
  });

  it('reads a failure kind a later version wrote as unknown rather than failing', async () => {
    const store = new GenerationStore(database, CLAIMANT);
    await store.create(fresh);
    await sql`UPDATE generations SET status = 'failed', failure_kind = 'from_the_future' WHERE id = 1`.execute(
      database.db,
    );
    expect((await store.require(1)).failureKind).toBe('unknown');
  });

  it('reads an id no row has as missing, however large (members type ids into /imagine-show)', async () => {
    const store = new GenerationStore(database, CLAIMANT);
    await store.create(fresh);
    expect(await store.get(2)).toBeUndefined();
    // jobReference.ts and customId.ts accept any safe integer.
    expect(await store.get(Number.MAX_SAFE_INTEGER)).toBeUndefined();
    await expect(store.require(Number.MAX_SAFE_INTEGER)).rejects.toThrow(/does not exist/);
  });
});

describe('GenerationStore rows from an older SQLite schema', () => {
  let dir: string | undefined;
  let database: Database | undefined;
  afterEach(async () => {
    await database?.close();
    database = undefined;
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('lifts the safety tolerance out of the input of rows written before it had a column of its own', async () => {
    dir = mkdtempSync(join(tmpdir(), 'imagen-migration-'));
    const path = join(dir, 'imagine.sqlite');
    const file = new SqliteDatabase(path);
    try {
      // Up to the step before the one that gave the safety tolerance its own column.
      migrateSqlite(
        file,
        SQLITE_MIGRATIONS.findIndex((step) => step.includes('ADD COLUMN safety_tolerance')),
      );
      file
        .prepare(
          `INSERT INTO generations (status, model_id, input_json, requester_id, channel_id, application_id, created_at)
           VALUES ('done', 'imagen4', ?, '1', '2', '3', 1)`,
        )
        .run(
          JSON.stringify({
            prompt: 'old',
            aspect_ratio: '4:3',
            num_images: 1,
            seed: 9,
            resolution: '2K',
            safety_tolerance: '5',
          }),
        );
      migrateSqlite(file);
      const row = file.prepare('SELECT input_json, safety_tolerance FROM generations').get() as {
        input_json: string;
        safety_tolerance: string;
      };
      expect(row.safety_tolerance).toBe('5');
      expect(JSON.parse(row.input_json)).toEqual({
        prompt: 'old',
        aspect_ratio: '4:3',
        num_images: 1,
        seed: 9,
        resolution: '2K',
      });
    } finally {
      file.close();
    }
    // The bot opens the migrated file as usual and reads the old row through the store.
    database = openSqlite(path);
    await expect(new GenerationStore(database, CLAIMANT).require(1)).resolves.toMatchObject({
      modelId: 'imagen4',
      safetyTolerance: '5',
      input: { seed: 9 },
    });
  });
});
