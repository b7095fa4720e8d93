import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/store/database.js';
import { GenerationStore } from '../../src/store/generations.js';
import { ENGINES, freshDatabase } from '../support/databases.js';
import { newGeneration } from './newGeneration.js';

const ALICE = '200000000000000001';
const BOB = '200000000000000002';
const GUILD = '300000000000000001';
const OTHER_GUILD = '300000000000000009';
const CLAIMANT = { owner: 'test-process', leaseMs: 60_000 };

function job(requesterId: string, guildId: string | null) {
  return newGeneration({ requesterId, guildId });
}

describe.each(ENGINES)('GenerationStore (%s)', (engine) => {
  let database: Database;
  let store: GenerationStore;
  beforeEach(async () => {
    database = await freshDatabase(engine);
    store = new GenerationStore(database, CLAIMANT);
  });
  afterEach(async () => {
    await database.close();
  });

  describe('historyOf', () => {
    it('pages one member’s generations in one server, newest first, both ways', async () => {
      const mine: number[] = [];
      for (let i = 0; i < 7; i += 1) {
        mine.push((await store.create(job(ALICE, GUILD))).id);
        await store.create(job(BOB, GUILD));
        await store.create(job(ALICE, OTHER_GUILD));
      }
      const ids = (page: { generations: { id: number }[] }) => page.generations.map((g) => g.id);
      const newest = mine.toReversed();

      const first = await store.historyOf(GUILD, ALICE, { limit: 3 });
      expect(ids(first)).toEqual(newest.slice(0, 3));
      expect(first).toMatchObject({ newer: false, older: true });

      const second = await store.historyOf(GUILD, ALICE, { before: newest[2]!, limit: 3 });
      expect(ids(second)).toEqual(newest.slice(3, 6));
      expect(second).toMatchObject({ newer: true, older: true });

      const last = await store.historyOf(GUILD, ALICE, { before: newest[5]!, limit: 3 });
      expect(ids(last)).toEqual(newest.slice(6));
      expect(last).toMatchObject({ newer: true, older: false });

      const back = await store.historyOf(GUILD, ALICE, { after: newest[3]!, limit: 3 });
      expect(ids(back)).toEqual(newest.slice(0, 3));
      expect(back).toMatchObject({ newer: false, older: true });
    });

    it('keeps servers apart, including no server at all', async () => {
      const dm = await store.create(job(ALICE, null));
      await store.create(job(ALICE, GUILD));
      expect((await store.historyOf(null, ALICE, { limit: 5 })).generations.map((g) => g.id)).toEqual([dm.id]);
      expect(await store.historyOf(OTHER_GUILD, ALICE, { limit: 5 })).toEqual({
        generations: [],
        newer: false,
        older: false,
      });
    });
  });

  describe('findByMessageId', () => {
    it('finds a result by its first message or by any part of a split result', async () => {
      await store.create(job(ALICE, GUILD));
      const split = await store.create(job(ALICE, GUILD));
      await store.recordPart(split.id, 1, '400000000000000001', 2);
      await store.recordPart(split.id, 2, '400000000000000002', 2);
      await store.markDone(split.id, '400000000000000001', 4, 0.32, 3);
      expect((await store.findByMessageId('400000000000000001'))?.id).toBe(split.id);
      expect((await store.findByMessageId('400000000000000002'))?.id).toBe(split.id);
      expect(await store.findByMessageId('400000000000000003')).toBeUndefined();
    });
  });
});
