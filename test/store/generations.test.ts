import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { MIGRATIONS, migrate, openDatabase, type Db } from '../../src/store/database.js';
import { DamagedRowError, GenerationStore, type NewGeneration } from '../../src/store/generations.js';
import { newGeneration } from './newGeneration.js';

let db: Db | undefined;
afterEach(() => {
  db?.close();
  db = undefined;
});

const fresh: NewGeneration = newGeneration({ safetyTolerance: '2' });

describe('GenerationStore rows', () => {
  it('keeps what the server adds apart from what the member chose', () => {
    db = openDatabase(':memory:');
    const generation = new GenerationStore(db).create(fresh);
    expect(generation).toMatchObject({ input: fresh.input, safetyTolerance: '2' });
    const stored = db.prepare('SELECT input_json, safety_tolerance FROM generations').get() as {
      input_json: string;
      safety_tolerance: string;
    };
    expect(JSON.parse(stored.input_json)).toEqual(fresh.input);
    expect(stored.safety_tolerance).toBe('2');
  });

  it('lifts the safety tolerance out of the input of rows written before it had a column of its own', () => {
    db = new Database(':memory:');
    // Up to the step before the one that gave the safety tolerance its own column.
    migrate(
      db,
      MIGRATIONS.findIndex((step) => step.includes('ADD COLUMN safety_tolerance')),
    );
    db.prepare(
      `INSERT INTO generations (status, model_id, input_json, requester_id, channel_id, application_id, created_at)
       VALUES ('done', 'imagen4', ?, '1', '2', '3', 1)`,
    ).run(
      JSON.stringify({
        prompt: 'old',
        aspect_ratio: '4:3',
        num_images: 1,
        seed: 9,
        resolution: '2K',
        safety_tolerance: '5',
      }),
    );
    migrate(db);
    const row = db.prepare('SELECT input_json, safety_tolerance FROM generations').get() as {
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
    expect(new GenerationStore(db).require(1)).toMatchObject({
      modelId: 'imagen4',
      safetyTolerance: '5',
      input: { seed: 9 },
    });
  });

  it('fails loudly, naming the field, on a damaged row, and still resumes the others', () => {
    db = openDatabase(':memory:');
    const store = new GenerationStore(db);
    store.create(fresh);
    store.create(fresh);
    db.prepare(`UPDATE generations SET input_json = '{"prompt": 5}' WHERE id = 1`).run();
    expect(() => store.require(1)).toThrow(DamagedRowError);
    expect(() => store.require(1)).toThrow(/generation 1 .* input_json: prompt/);
    db.prepare(`UPDATE generations SET status = 'lost' WHERE id = 1`).run();
    expect(() => store.require(1)).toThrow(/status/);
    db.prepare(`UPDATE generations SET status = 'waiting' WHERE id = 1`).run();
    const { generations, damaged } = store.unfinished();
    expect(generations.map((g) => g.id)).toEqual([2]);
    expect(damaged.map((error) => error.id)).toEqual([1]);
  });

  it('reads a failure kind a later version wrote as unknown rather than failing', () => {
    db = openDatabase(':memory:');
    const store = new GenerationStore(db);
    store.create(fresh);
    db.prepare(`UPDATE generations SET status = 'failed', failure_kind = 'from_the_future' WHERE id = 1`).run();
    expect(store.require(1).failureKind).toBe('unknown');
  });
});
