import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../src/store/database.js';
import { GenerationStore } from '../../src/store/generations.js';
import { newGeneration } from './newGeneration.js';

let db: Db | undefined;
afterEach(() => {
  db?.close();
  db = undefined;
});

const ALICE = '200000000000000001';
const BOB = '200000000000000002';
const GUILD = '300000000000000001';
const OTHER_GUILD = '300000000000000009';

function job(requesterId: string, guildId: string | null) {
  return newGeneration({ requesterId, guildId });
}

describe('GenerationStore.historyOf', () => {
  it('pages one member’s generations in one server, newest first, both ways', () => {
    db = openDatabase(':memory:');
    const store = new GenerationStore(db);
    const mine: number[] = [];
    for (let i = 0; i < 7; i += 1) {
      mine.push(store.create(job(ALICE, GUILD)).id);
      store.create(job(BOB, GUILD));
      store.create(job(ALICE, OTHER_GUILD));
    }
    const ids = (page: { generations: { id: number }[] }) => page.generations.map((g) => g.id);
    const newest = mine.toReversed();

    const first = store.historyOf(GUILD, ALICE, { limit: 3 });
    expect(ids(first)).toEqual(newest.slice(0, 3));
    expect(first).toMatchObject({ newer: false, older: true });

    const second = store.historyOf(GUILD, ALICE, { before: newest[2]!, limit: 3 });
    expect(ids(second)).toEqual(newest.slice(3, 6));
    expect(second).toMatchObject({ newer: true, older: true });

    const last = store.historyOf(GUILD, ALICE, { before: newest[5]!, limit: 3 });
    expect(ids(last)).toEqual(newest.slice(6));
    expect(last).toMatchObject({ newer: true, older: false });

    const back = store.historyOf(GUILD, ALICE, { after: newest[3]!, limit: 3 });
    expect(ids(back)).toEqual(newest.slice(0, 3));
    expect(back).toMatchObject({ newer: false, older: true });
  });

  it('keeps servers apart, including no server at all', () => {
    db = openDatabase(':memory:');
    const store = new GenerationStore(db);
    const dm = store.create(job(ALICE, null));
    store.create(job(ALICE, GUILD));
    expect(store.historyOf(null, ALICE, { limit: 5 }).generations.map((g) => g.id)).toEqual([dm.id]);
    expect(store.historyOf(OTHER_GUILD, ALICE, { limit: 5 })).toEqual({ generations: [], newer: false, older: false });
  });
});

describe('GenerationStore.findByMessageId', () => {
  it('finds a result by its first message or by any part of a split result', () => {
    db = openDatabase(':memory:');
    const store = new GenerationStore(db);
    store.create(job(ALICE, GUILD));
    const split = store.create(job(ALICE, GUILD));
    store.recordPart(split.id, 1, '400000000000000001', 2);
    store.recordPart(split.id, 2, '400000000000000002', 2);
    store.markDone(split.id, '400000000000000001', 4, 0.32, 3);
    expect(store.findByMessageId('400000000000000001')?.id).toBe(split.id);
    expect(store.findByMessageId('400000000000000002')?.id).toBe(split.id);
    expect(store.findByMessageId('400000000000000003')).toBeUndefined();
  });
});
