import { sql } from 'kysely';
import type { Database } from './database.js';
import { DamagedRowError, UNFINISHED_STATUSES, parseGenerationRow, type Generation } from './generationRow.js';
import type { Claimant } from './generations.js';

/** A job in the bot's own queue, as the fair order sees it. */
export interface WaitingJob {
  readonly id: number;
  readonly guildId: string | null;
  readonly requesterId: string;
}

/** When a (guild, member) last had a job sent to fal. */
export interface Dispatch {
  readonly guildId: string | null;
  readonly requesterId: string;
  readonly at: number;
}

/** Puts waiting jobs in the order they go to fal (generation/fairQueue.ts). */
export type Order = (waiting: readonly WaitingJob[], dispatches: readonly Dispatch[]) => WaitingJob[];

/** What {@link JobClaims.renew} found: the jobs this process still holds, and those whose requester cancelled. */
export interface Renewal {
  readonly held: ReadonlySet<number>;
  readonly cancelRequested: readonly number[];
}

const UNFINISHED = [...UNFINISHED_STATUSES];
/** Sent to fal and not yet finished: what FAL_CONCURRENCY counts, across every process. */
const DISPATCHED = UNFINISHED.filter((status) => status !== 'waiting');

/**
 * Which bot process works which job, kept in the database so that every process on it shares one fal
 * concurrency cap, one fair order and one set of limits. A job belongs to the process that admitted it (it holds
 * the member's reply) under a lease it renews; when a process dies its leases run out and another process adopts
 * its jobs, resuming them by their fal request id. With SQLite there is one process, and the same code runs.
 */
export class JobClaims {
  readonly #database: Database;
  readonly #claimant: Claimant;

  constructor(database: Database, claimant: Claimant) {
    this.#database = database;
    this.#claimant = claimant;
  }

  /** How long a hold on a job lasts unrenewed. */
  get leaseMs(): number {
    return this.#claimant.leaseMs;
  }

  /** True on SQLite: one process has the file, so whatever is unfinished there is this process's. */
  get solo(): boolean {
    return this.#database.engine === 'sqlite';
  }

  /** Calls `listener` whenever another process asks the others to look at the queue ({@link notify}). */
  onWake(listener: () => void): void {
    this.#database.onWake(listener);
  }

  /**
   * Of this process's waiting jobs (`candidates`), those whose turn it is: among the first (free fal slots) of
   * every live waiting job in `order`. They are marked sent in the same transaction (one process at a time in
   * PostgreSQL), so the cap holds across processes. Jobs of other processes are left to them: `othersDue` says
   * some of theirs are due now (`notify` wakes them).
   */
  async claimTurns(
    candidates: ReadonlySet<number>,
    cap: number,
    order: Order,
    now: number,
    since: number,
  ): Promise<{ claimed: number[]; othersDue: boolean }> {
    const none = { claimed: [], othersDue: false };
    if (candidates.size === 0) return none;
    return this.#database.db.transaction().execute(async (trx) => {
      await this.#database.serialize(trx, 'dispatch');
      const running = await trx
        .selectFrom('generations')
        .select(sql<number>`COUNT(*)`.as('count'))
        .where('status', 'in', DISPATCHED)
        .executeTakeFirst();
      const free = cap - (running?.count ?? 0);
      if (free <= 0) return none;
      const due = order(await this.#liveWaiting(trx, now), await this.#lastDispatches(trx, since)).slice(0, free);
      const turns = due.filter((job) => candidates.has(job.id)).map((job) => job.id);
      const othersDue = turns.length < due.length;
      if (turns.length === 0) return { claimed: [], othersDue };
      const claimed = await trx
        .updateTable('generations')
        .set({ status: 'pending', dispatched_at: now })
        .where('id', 'in', turns)
        .where('status', '=', 'waiting')
        .where('owner', '=', this.#claimant.owner)
        .returning('id')
        .execute();
      return { claimed: claimed.map((row) => row.id), othersDue };
    });
  }

  /** Every live waiting job (of any process) in `order`: the places in line members are told. */
  async waitingInOrder(order: Order, now: number, since: number): Promise<WaitingJob[]> {
    const { db } = this.#database;
    return order(await this.#liveWaiting(db, now), await this.#lastDispatches(db, since));
  }

  /**
   * Extends the leases of the jobs this process works (`working`), and reports which of them it still holds (one
   * another process adopted while this one stalled is no longer its to work; one that just finished still is) and
   * which their requesters cancelled from another process. Only those: a row this process holds but no longer
   * works (its job ended in an error that could not be saved) runs out of lease, and is adopted and resumed.
   * A job admitted since `working` was read has a fresh lease of its own.
   */
  async renew(now: number, working: readonly number[]): Promise<Renewal> {
    if (working.length === 0) return { held: new Set(), cancelRequested: [] };
    const rows = await this.#database.db
      .updateTable('generations')
      .set({ lease_expires_at: now + this.#claimant.leaseMs })
      .where('owner', '=', this.#claimant.owner)
      .where('id', 'in', [...working])
      .returning(['id', 'status', 'cancel_requested'])
      .execute();
    const unfinished = new Set<string>(UNFINISHED);
    return {
      held: new Set(rows.map((row) => row.id)),
      cancelRequested: rows
        .filter((row) => row.cancel_requested === 1 && unfinished.has(row.status))
        .map((row) => row.id),
    };
  }

  /**
   * Asks whichever process holds an unfinished job to cancel it (it sees this at its next renewal, or at once
   * when woken). False when the job has already finished.
   */
  async requestCancel(id: number): Promise<boolean> {
    const row = await this.#database.db
      .updateTable('generations')
      .set({ cancel_requested: 1 })
      .where('id', '=', id)
      .where('status', 'in', UNFINISHED)
      .returning('id')
      .executeTakeFirst();
    if (row) await this.#database.notify();
    return row !== undefined;
  }

  /**
   * Takes over unfinished jobs whose lease ran out (their process died or shut down), oldest first; `all` takes
   * every unfinished job (a SQLite file has one process: whatever it left is this process's now). A row that
   * cannot be read is reported in `damaged` rather than stopping the others.
   */
  async adopt(
    now: number,
    options: { all: boolean },
  ): Promise<{ generations: Array<{ generation: Generation; cancelRequested: boolean }>; damaged: DamagedRowError[] }> {
    const { db, engine } = this.#database;
    const orphaned = db
      .selectFrom('generations')
      .select('id')
      .where('status', 'in', UNFINISHED)
      .$if(!options.all, (qb) =>
        qb.where((eb) => eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<', now)])),
      )
      .$if(engine === 'postgres', (qb) => qb.forUpdate().skipLocked());
    const rows = await db
      .updateTable('generations')
      .set({ owner: this.#claimant.owner, lease_expires_at: now + this.#claimant.leaseMs })
      .where('id', 'in', orphaned)
      .where('status', 'in', UNFINISHED)
      .$if(!options.all, (qb) =>
        qb.where((eb) => eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<', now)])),
      )
      .returningAll()
      .execute();
    const generations: Array<{ generation: Generation; cancelRequested: boolean }> = [];
    const damaged: DamagedRowError[] = [];
    for (const row of rows.sort((a, b) => a.id - b.id)) {
      try {
        generations.push({ generation: parseGenerationRow(row), cancelRequested: row.cancel_requested === 1 });
      } catch (error) {
        if (!(error instanceof DamagedRowError)) throw error;
        damaged.push(error);
      }
    }
    return { generations, damaged };
  }

  /**
   * For shutdown: this process's leases end now (`waiting`: only those of jobs still in the bot's queue, which a
   * stopping process sends nowhere), so another process takes those jobs over at once.
   */
  async release(now: number, which: 'waiting' | 'all' = 'all'): Promise<void> {
    await this.#database.db
      .updateTable('generations')
      .set({ lease_expires_at: now - 1 })
      .where('owner', '=', this.#claimant.owner)
      .where('status', 'in', which === 'waiting' ? ['waiting'] : UNFINISHED)
      .execute();
    await this.#database.notify();
  }

  /**
   * Puts jobs whose turn this process took back in line, as they were (it is stopping and will not send them):
   * whoever takes them over sends them as first submits, not as resubmits of a job fal may have.
   */
  async returnTurns(ids: readonly number[]): Promise<void> {
    if (ids.length === 0) return;
    await this.#database.db
      .updateTable('generations')
      .set({ status: 'waiting', dispatched_at: null })
      .where('id', 'in', [...ids])
      .where('owner', '=', this.#claimant.owner)
      .where('status', '=', 'pending')
      .where('fal_request_id', 'is', null)
      .execute();
  }

  /** Wakes every process on the database: a fal slot freed, a lease was released. */
  notify(): Promise<void> {
    return this.#database.notify();
  }

  async #liveWaiting(db: Database['db'], now: number): Promise<WaitingJob[]> {
    const rows = await db
      .selectFrom('generations')
      .select(['id', 'guild_id', 'requester_id'])
      .where('status', '=', 'waiting')
      .where((eb) => eb.or([eb('lease_expires_at', '>=', now), eb('owner', '=', this.#claimant.owner)]))
      .orderBy('id')
      .execute();
    return rows.map((row) => ({ id: row.id, guildId: row.guild_id, requesterId: row.requester_id }));
  }

  /** When each (guild, member) last had a job sent to fal, since `since`: what fair scheduling rotates on. */
  async #lastDispatches(db: Database['db'], since: number): Promise<Dispatch[]> {
    const rows = await db
      .selectFrom('generations')
      .select(['guild_id', 'requester_id', sql<number>`MAX(dispatched_at)`.as('at')])
      .where('dispatched_at', '>=', since)
      .groupBy(['guild_id', 'requester_id'])
      .execute();
    return rows.map((row) => ({ guildId: row.guild_id, requesterId: row.requester_id, at: row.at }));
  }
}
