import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fairOrder } from '../../src/generation/fairQueue.js';
import type { Database } from '../../src/store/database.js';
import { GenerationStore, type Generation } from '../../src/store/generations.js';
import { JobClaims } from '../../src/store/jobClaims.js';
import { ENGINES, freshDatabase } from '../support/databases.js';
import { newGeneration } from './newGeneration.js';

const NOW = 1_750_000_000_000;
const LEASE_MS = 60_000;
const SINCE = NOW - 24 * 60 * 60 * 1000;

const ALICE = '200000000000000001';
const BOB = '200000000000000002';
const CAROL = '200000000000000003';
const G1 = '300000000000000001';
const G2 = '300000000000000002';
const G3 = '300000000000000003';

/** One bot process on the shared database: its own owner name, for its store and its claims alike. */
interface Process {
  readonly store: GenerationStore;
  readonly claims: JobClaims;
  create(guildId: string, requesterId: string, createdAt?: number): Promise<Generation>;
}

const ids = (generations: readonly Generation[]) => generations.map((g) => g.id);
const sorted = (values: Iterable<number>) => [...values].sort((a, b) => a - b);

describe.each(ENGINES)('JobClaims (%s)', (engine) => {
  let database: Database;
  beforeEach(async () => {
    database = await freshDatabase(engine);
  });
  afterEach(async () => {
    await database.close();
  });

  function bot(owner: string): Process {
    const claimant = { owner, leaseMs: LEASE_MS };
    const store = new GenerationStore(database, claimant);
    return {
      store,
      claims: new JobClaims(database, claimant),
      create: (guildId, requesterId, createdAt = NOW) =>
        store.create(newGeneration({ guildId, requesterId, createdAt })),
    };
  }

  const claim = (p: Process, candidates: readonly Generation[], cap: number, now = NOW) =>
    p.claims.claimTurns(new Set(ids(candidates)), cap, fairOrder, now, SINCE).then(({ claimed }) => sorted(claimed));

  describe('claimTurns', () => {
    it('fills only the slots every process’s jobs at fal leave free, in fair order', async () => {
      const a = bot('a');
      const b = bot('b');
      const x = await b.create(G2, BOB);
      expect(await claim(b, [x], 3)).toEqual([x.id]);

      const a1 = await a.create(G1, ALICE);
      const a2 = await a.create(G1, ALICE);
      const a3 = await a.create(G1, CAROL);
      // Three slots, one of them b's: a gets two, and they alternate its members rather than go oldest first.
      expect(await claim(a, [a1, a2, a3], 3)).toEqual([a1.id, a3.id]);
      await expect(a.store.require(a1.id)).resolves.toMatchObject({ status: 'pending', dispatchedAt: NOW });
      await expect(a.store.require(a3.id)).resolves.toMatchObject({ status: 'pending', dispatchedAt: NOW });
      await expect(a.store.require(a2.id)).resolves.toMatchObject({ status: 'waiting', dispatchedAt: null });
      expect(await claim(a, [a2], 3)).toEqual([]);

      // b's job holds its slot all the way through fal and delivery, and frees it when it ends.
      await b.store.markSubmitted(x.id, 'request-x', NOW);
      expect(await claim(a, [a2], 3)).toEqual([]);
      await b.store.setStatus(x.id, 'delivering');
      expect(await claim(a, [a2], 3)).toEqual([]);
      await b.store.markDone(x.id, '400000000000000001', 1, 0.08, NOW);
      expect(await claim(a, [a2], 3)).toEqual([a2.id]);
    });

    it('takes only its own waiting jobs, and leaves a turn that is another process’s to it', async () => {
      const a = bot('a');
      const b = bot('b');
      const a1 = await a.create(G1, ALICE);
      const b1 = await b.create(G2, BOB);
      const a2 = await a.create(G3, CAROL);
      // One slot, and a's job is next in line: b neither takes it nor jumps ahead with its own, and says a's is due.
      expect(await b.claims.claimTurns(new Set([b1.id]), 1, fairOrder, NOW, SINCE)).toEqual({
        claimed: [],
        othersDue: true,
      });
      expect(await claim(a, [a1], 1)).toEqual([a1.id]);
      await a.store.markDone(a1.id, '400000000000000001', 1, 0.08, NOW);
      // Now b's job (the older) is next: a waits.
      expect(await claim(a, [a2], 1)).toEqual([]);
      // Even handed b's job as a candidate, a does not take it.
      expect(await claim(a, [b1, a2], 2)).toEqual([a2.id]);
      await expect(b.store.require(b1.id)).resolves.toMatchObject({ status: 'waiting' });
      expect(await b.claims.claimTurns(new Set([b1.id]), 3, fairOrder, NOW, SINCE)).toEqual({
        claimed: [b1.id],
        othersDue: false,
      });
    });

    it('does not let the waiting jobs of a process whose lease ran out hold up the line', async () => {
      const a = bot('a');
      const b = bot('b');
      const dead = await a.create(G1, ALICE, NOW - 2 * LEASE_MS);
      const b1 = await b.create(G2, BOB);
      // a still counts its own (it is alive after all); b sees only what a live process holds.
      expect((await a.claims.waitingInOrder(fairOrder, NOW, SINCE)).map((job) => job.id)).toEqual([dead.id, b1.id]);
      expect((await b.claims.waitingInOrder(fairOrder, NOW, SINCE)).map((job) => job.id)).toEqual([b1.id]);
      expect(await claim(b, [b1], 1)).toEqual([b1.id]);
    });
  });

  describe('renew', () => {
    it('extends this process’s leases and reports the jobs it holds and those cancelled elsewhere', async () => {
      const a = bot('a');
      const b = bot('b');
      const a1 = await a.create(G1, ALICE);
      const a2 = await a.create(G1, ALICE);
      const a3 = await a.create(G1, ALICE);
      const b1 = await b.create(G2, BOB);
      await a.store.markDone(a3.id, '400000000000000001', 1, 0.08, NOW);
      expect(await b.claims.requestCancel(a2.id)).toBe(true);

      // a works a1 and a2, and is winding down a3 (finished a moment ago): still its own, not lost.
      const renewal = await a.claims.renew(NOW + 1000, [a1.id, a2.id, a3.id]);
      expect(sorted(renewal.held)).toEqual([a1.id, a2.id, a3.id]);
      expect(renewal.cancelRequested).toEqual([a2.id]);
      // A process renews only what it works, and never another's job.
      expect(await b.claims.renew(NOW + 1000, [b1.id, a1.id])).toEqual({ held: new Set([b1.id]), cancelRequested: [] });
      expect(await b.claims.renew(NOW + 1000, [])).toEqual({ held: new Set(), cancelRequested: [] });

      // The leases now run from the renewal: past the first lease, nobody may take these jobs over yet.
      const c = bot('c');
      expect((await c.claims.adopt(NOW + LEASE_MS + 500, { all: false })).generations).toEqual([]);
      const later = await c.claims.adopt(NOW + LEASE_MS + 1001, { all: false });
      expect(later.generations.map(({ generation }) => generation.id)).toEqual([a1.id, a2.id, b1.id]);
    });
  });

  describe('renew, for a job this process holds but no longer works', () => {
    it('lets its lease run out, so it is taken over and resumed rather than held forever', async () => {
      const a = bot('a');
      const b = bot('b');
      const orphan = await a.create(G1, ALICE);
      const worked = await a.create(G1, ALICE);
      await a.claims.renew(NOW + LEASE_MS, [worked.id]);
      const taken = await b.claims.adopt(NOW + LEASE_MS + 1, { all: false });
      expect(taken.generations.map(({ generation }) => generation.id)).toEqual([orphan.id]);
    });
  });

  describe('a job another process took over', () => {
    it('can no longer be moved to delivering (or on) by the process that lost it', async () => {
      const a = bot('a');
      const b = bot('b');
      const job = await a.create(G1, ALICE);
      await a.store.markSubmitted(job.id, 'request-1', NOW);
      await b.claims.adopt(NOW + LEASE_MS + 1, { all: false });
      expect(await a.store.setStatus(job.id, 'delivering')).toBe(false);
      expect(await b.store.setStatus(job.id, 'delivering')).toBe(true);
      // Idempotent for its holder (a resume from delivering), and never out of a final state.
      expect(await b.store.setStatus(job.id, 'delivering')).toBe(true);
      await b.store.markDone(job.id, '400000000000000001', 1, 0.08, NOW);
      expect(await b.store.setStatus(job.id, 'delivering')).toBe(false);
    });
  });

  describe('adopt', () => {
    it('takes over only unfinished jobs whose lease ran out, unless told to take them all', async () => {
      const a = bot('a');
      const b = bot('b');
      const dead = await a.create(G1, ALICE, NOW - 2 * LEASE_MS);
      const alive = await a.create(G1, ALICE);
      const finished = await a.create(G1, ALICE, NOW - 2 * LEASE_MS);
      await a.store.markFailed(finished.id, 'failed', 'unknown', NOW - LEASE_MS);
      expect(await a.claims.requestCancel(dead.id)).toBe(true);

      const taken = await b.claims.adopt(NOW, { all: false });
      expect(taken.damaged).toEqual([]);
      expect(taken.generations.map(({ generation, cancelRequested }) => [generation.id, cancelRequested])).toEqual([
        [dead.id, true],
      ]);
      // The adopted job is b's now: a no longer holds it, even while still working on it.
      expect((await a.claims.renew(NOW, [dead.id, alive.id])).held).toEqual(new Set([alive.id]));
      expect((await b.claims.renew(NOW, [dead.id])).held).toEqual(new Set([dead.id]));

      // `all` (a SQLite file has one process): every unfinished job, whatever its lease.
      const all = await b.claims.adopt(NOW, { all: true });
      expect(all.generations.map(({ generation }) => generation.id)).toEqual([dead.id, alive.id]);
      expect((await a.claims.renew(NOW, [alive.id])).held).toEqual(new Set());
      await expect(b.store.require(finished.id)).resolves.toMatchObject({ status: 'failed' });
    });
  });

  describe('release', () => {
    it('lets another process take this one’s jobs over at once, and only this one’s', async () => {
      const a = bot('a');
      const b = bot('b');
      const c = bot('c');
      const a1 = await a.create(G1, ALICE);
      const a2 = await a.create(G1, ALICE);
      await b.create(G2, BOB);
      expect((await c.claims.adopt(NOW + 1, { all: false })).generations).toEqual([]);
      await a.claims.release(NOW + 1);
      const taken = await c.claims.adopt(NOW + 1, { all: false });
      expect(taken.generations.map(({ generation }) => generation.id)).toEqual([a1.id, a2.id]);
    });
  });

  describe('requestCancel', () => {
    it('is false for a job that has already finished, or does not exist', async () => {
      const a = bot('a');
      const b = bot('b');
      const done = await a.create(G1, ALICE);
      await a.store.markDone(done.id, '400000000000000001', 1, 0.08, NOW);
      const cancelled = await a.create(G1, ALICE);
      await a.store.markFailed(cancelled.id, 'cancelled', 'cancelled', NOW);
      const waiting = await a.create(G1, ALICE);

      expect(await b.claims.requestCancel(done.id)).toBe(false);
      expect(await b.claims.requestCancel(cancelled.id)).toBe(false);
      expect(await b.claims.requestCancel(waiting.id + 1)).toBe(false);
      expect(await b.claims.requestCancel(waiting.id)).toBe(true);
      expect((await a.claims.renew(NOW, [waiting.id])).cancelRequested).toEqual([waiting.id]);
    });

    it.skipIf(engine === 'sqlite')('still wakes processes after their listening connection was cut', async () => {
      const a = bot('a');
      const b = bot('b');
      const job = await a.create(G1, ALICE);
      const cut = await sql<{ cut: boolean }>`
        SELECT pg_terminate_backend(pid) AS cut FROM pg_stat_activity
        WHERE datname = current_database() AND query LIKE 'LISTEN%'`.execute(database.db);
      expect(cut.rows.map((row) => row.cut)).toEqual([true]);
      // Reconnected (within a second or so), it catches up with one wake-up, then hears the next.
      await new Promise<void>((resolve) => a.claims.onWake(resolve));
      const woken = new Promise<void>((resolve) => a.claims.onWake(resolve));
      expect(await b.claims.requestCancel(job.id)).toBe(true);
      await woken;
    });

    it.skipIf(engine === 'sqlite')('wakes the process holding the job (PostgreSQL)', async () => {
      const a = bot('a');
      const b = bot('b');
      const job = await a.create(G1, ALICE);
      const woken = new Promise<void>((resolve) => a.claims.onWake(resolve));
      expect(await b.claims.requestCancel(job.id)).toBe(true);
      await woken;
      expect((await a.claims.renew(NOW, [job.id])).cancelRequested).toEqual([job.id]);
    });
  });
});
