import { describe, expect, it } from 'vitest';
import { fairOrder, type Dispatch } from '../../src/generation/fairQueue.js';
import type { WaitingJob } from '../../src/store/jobClaims.js';

const job = (id: number, guildId: string | null, requesterId: string) => ({ id, guildId, requesterId });

describe('fairOrder', () => {
  it('is first come, first served when nobody was served yet and everyone is alone', () => {
    const waiting = [job(1, 'g1', 'a'), job(2, 'g2', 'b'), job(3, 'g3', 'c')];
    expect(fairOrder(waiting, []).map((j) => j.id)).toEqual([1, 2, 3]);
  });

  it('alternates guilds so a busy server cannot starve a quiet one', () => {
    const waiting = [job(1, 'busy', 'a'), job(2, 'busy', 'b'), job(3, 'busy', 'c'), job(4, 'quiet', 'd')];
    expect(fairOrder(waiting, []).map((j) => j.id)).toEqual([1, 4, 2, 3]);
  });

  it('alternates members within a guild', () => {
    const waiting = [job(1, 'g', 'a'), job(2, 'g', 'a'), job(3, 'g', 'a'), job(4, 'g', 'b')];
    expect(fairOrder(waiting, []).map((j) => j.id)).toEqual([1, 4, 2, 3]);
  });

  it('serves first whoever was served longest ago', () => {
    const waiting = [job(1, 'g1', 'a'), job(2, 'g2', 'b')];
    const dispatches = [
      { guildId: 'g1', requesterId: 'a', at: 200 },
      { guildId: 'g2', requesterId: 'b', at: 100 },
    ];
    expect(fairOrder(waiting, dispatches).map((j) => j.id)).toEqual([2, 1]);
  });

  it('keeps each member’s own jobs in order and treats DMs as one more guild', () => {
    const waiting = [job(5, null, 'a'), job(3, null, 'a'), job(4, 'g', 'b')];
    expect(fairOrder(waiting, []).map((j) => j.id)).toEqual([3, 4, 5]);
  });
});

/**
 * The rule written out literally, as a reference: repeatedly pick the guild served longest ago (ties: its oldest
 * job), then its member served longest ago (ties: their oldest job), take that member's oldest job and count both
 * as served now. Quadratic; fairOrder must produce exactly this order.
 */
function referenceOrder(waiting: readonly WaitingJob[], dispatches: readonly Dispatch[]): number[] {
  const served = new Map<string, number>();
  const mark = (key: string, at: number) => served.set(key, Math.max(served.get(key) ?? Number.NEGATIVE_INFINITY, at));
  for (const d of dispatches) {
    mark(`g:${d.guildId ?? '@dm'}`, d.at);
    mark(`m:${d.guildId ?? '@dm'}/${d.requesterId}`, d.at);
  }
  const left = [...waiting].sort((a, b) => a.id - b.id);
  const order: number[] = [];
  let clock = Math.max(0, ...dispatches.map((d) => d.at)) + 1;
  const better = (a: [number, number], b: [number, number]) => a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
  while (left.length > 0) {
    const guilds = [...new Set(left.map((j) => j.guildId ?? '@dm'))];
    const guildKey = (g: string): [number, number] => [
      served.get(`g:${g}`) ?? Number.NEGATIVE_INFINITY,
      Math.min(...left.filter((j) => (j.guildId ?? '@dm') === g).map((j) => j.id)),
    ];
    const guild = guilds.reduce((best, g) => (better(guildKey(g), guildKey(best)) ? g : best));
    const inGuild = left.filter((j) => (j.guildId ?? '@dm') === guild);
    const members = [...new Set(inGuild.map((j) => j.requesterId))];
    const memberKey = (m: string): [number, number] => [
      served.get(`m:${guild}/${m}`) ?? Number.NEGATIVE_INFINITY,
      Math.min(...inGuild.filter((j) => j.requesterId === m).map((j) => j.id)),
    ];
    const member = members.reduce((best, m) => (better(memberKey(m), memberKey(best)) ? m : best));
    const next = inGuild.find((j) => j.requesterId === member)!;
    order.push(next.id);
    left.splice(left.indexOf(next), 1);
    served.set(`g:${guild}`, clock);
    served.set(`m:${guild}/${member}`, clock);
    clock += 1;
  }
  return order;
}

/** Deterministic pseudo-random numbers (mulberry32), so a failure can be replayed from its seed. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('fairOrder against the rule written out literally', () => {
  it('agrees on 300 random queues (guilds, DMs, members with several jobs, past dispatches with ties)', () => {
    for (let seed = 1; seed <= 300; seed += 1) {
      const next = random(seed);
      const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
      const guilds = ['g1', 'g2', 'g3', null];
      const members = ['a', 'b', 'c', 'd', 'e'];
      const ids = [...Array(1 + Math.floor(next() * 40)).keys()].map((i) => i + 1).sort(() => next() - 0.5);
      const waiting = ids.map((id) => job(id, pick(guilds), pick(members)));
      const dispatches = Array.from({ length: Math.floor(next() * 12) }, () => ({
        guildId: pick(guilds),
        requesterId: pick(members),
        at: 1 + Math.floor(next() * 5), // few distinct times: plenty of ties
      }));
      expect(
        fairOrder(waiting, dispatches).map((j) => j.id),
        `seed ${seed}`,
      ).toEqual(referenceOrder(waiting, dispatches));
    }
  });
});
