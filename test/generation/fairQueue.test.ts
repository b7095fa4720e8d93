import { describe, expect, it } from 'vitest';
import { fairOrder } from '../../src/generation/fairQueue.js';

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
