import { sql, type ExpressionBuilder, type Kysely } from 'kysely';
import type { Database } from './database.js';
import { UNFINISHED_STATUSES, parseGenerationRow, type FailureKind, type Generation } from './generationRow.js';
import type { Schema } from './schema.js';

export { DamagedRowError, FAILURE_KINDS, UNFINISHED_STATUSES } from './generationRow.js';
export type { FailureKind, Generation, GenerationStatus, ImageRef } from './generationRow.js';

/** Where one delivered image of a result lives on Discord. */
export interface ResultImage {
  readonly index: number;
  readonly messageId: string;
  /** The attachment URL as Discord last gave it (signed: refresh it before use). */
  readonly url: string;
  readonly width: number | null;
  readonly height: number | null;
}

/** Everything the limits are checked against, read in the same transaction that saves the new job. */
export interface UsageSnapshot {
  /** The member's unfinished jobs in this server (waiting, at fal, or being delivered). */
  readonly memberActiveJobs: number;
  /** When the member last started a job in this server. */
  readonly memberLastJobAt: number | null;
  readonly memberImagesToday: number;
  readonly guildImagesToday: number;
  readonly guildCostTodayUsd: number;
  readonly globalCostTodayUsd: number;
}

/** What is saved for a new job: the request's own fields, plus its accounting. */
export type NewGeneration = Pick<
  Generation,
  | 'modelId'
  | 'input'
  | 'safetyTolerance'
  | 'action'
  | 'imageRefs'
  | 'requesterId'
  | 'guildId'
  | 'channelId'
  | 'applicationId'
  | 'parentId'
  | 'createdAt'
  | 'appPermissions'
  | 'attachmentSizeLimit'
  | 'inThread'
  | 'quotaImages'
  | 'costUsd'
> & { readonly interactionToken: string; readonly tokenExpiresAt: number };

/** A page of {@link GenerationStore.historyOf}: newest first, and whether more lie on either side. */
export interface HistoryPage {
  readonly generations: Generation[];
  readonly newer: boolean;
  readonly older: boolean;
}

/** Which process a new job belongs to, and for how long before another may take it over (jobClaims.ts). */
export interface Claimant {
  readonly owner: string;
  readonly leaseMs: number;
}

type Db = Kysely<Schema>;
type Generations = ExpressionBuilder<Schema, 'generations'>;

/** A server's rows (`guild_id = ?`, or DMs: `guild_id IS NULL`). */
export function inGuild(guildId: string | null) {
  return (eb: Generations) => (guildId === null ? eb('guild_id', 'is', null) : eb('guild_id', '=', guildId));
}

const UNFINISHED = [...UNFINISHED_STATUSES];

/** A server's totals since `since` (what /imagine-usage shows, and what its limits are checked against). */
function guildSince(db: Db, guildId: string | null, since: number) {
  return db
    .selectFrom('generations')
    .select([
      sql<number>`COALESCE(SUM(quota_images), 0)`.as('quotaImages'),
      sql<number>`COALESCE(SUM(cost_usd), 0)`.as('costUsd'),
      sql<number>`COUNT(*)`.as('jobs'),
      sql<number>`COALESCE(SUM(image_count), 0)`.as('images'),
    ])
    .where(inGuild(guildId))
    .where('created_at', '>=', since);
}

/**
 * The generations table, and what hangs off it (delivered parts, result images). Every state change is one
 * statement, so a crash leaves a consistent row. The same queries run on SQLite and PostgreSQL.
 */
export class GenerationStore {
  readonly #database: Database;
  readonly #db: Db;
  readonly #claimant: Claimant;

  constructor(database: Database, claimant: Claimant) {
    this.#database = database;
    this.#db = database.db;
    this.#claimant = claimant;
  }

  /** Saves a new job, waiting in the bot's queue and held by this process. */
  async create(generation: NewGeneration, db: Db = this.#db): Promise<Generation> {
    const row = await db
      .insertInto('generations')
      .values({
        status: 'waiting',
        model_id: generation.modelId,
        input_json: JSON.stringify(generation.input),
        safety_tolerance: generation.safetyTolerance,
        action: generation.action,
        image_refs_json: generation.imageRefs.length > 0 ? JSON.stringify(generation.imageRefs) : null,
        requester_id: generation.requesterId,
        guild_id: generation.guildId,
        channel_id: generation.channelId,
        application_id: generation.applicationId,
        interaction_token: generation.interactionToken,
        token_expires_at: generation.tokenExpiresAt,
        parent_id: generation.parentId,
        created_at: generation.createdAt,
        app_permissions: generation.appPermissions,
        attachment_size_limit: generation.attachmentSizeLimit,
        in_thread: generation.inThread ? 1 : 0,
        quota_images: generation.quotaImages,
        cost_usd: generation.costUsd,
        owner: this.#claimant.owner,
        lease_expires_at: generation.createdAt + this.#claimant.leaseMs,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return parseGenerationRow(row);
  }

  /**
   * Inserts a generation only if `decide`, given the usage so far, returns no refusal. The read and the insert
   * are one transaction, and admissions go one at a time across processes (`Database.serialize`), so parallel
   * requests (from any number of processes) cannot slip past a limit together.
   */
  async createIfAllowed<R>(
    generation: NewGeneration,
    dayStart: number,
    decide: (usage: UsageSnapshot) => R | undefined,
  ): Promise<{ ok: true; generation: Generation } | { ok: false; refusal: R }> {
    return this.#db.transaction().execute(async (trx) => {
      await this.#database.serialize(trx, 'admission');
      const refusal = decide(await this.usage(generation.guildId, generation.requesterId, dayStart, trx));
      if (refusal !== undefined) return { ok: false as const, refusal };
      return { ok: true as const, generation: await this.create(generation, trx) };
    });
  }

  /** What a member and their server have used since `dayStart`, and what the whole bot has spent. */
  async usage(
    guildId: string | null,
    requesterId: string,
    dayStart: number,
    db: Db = this.#db,
  ): Promise<UsageSnapshot> {
    // One statement (one round trip inside the admission lock): the member's, the server's and the bot's usage.
    const member = db
      .selectFrom('generations')
      .select([
        sql<number>`COALESCE(SUM(CASE WHEN status IN (${sql.join(UNFINISHED)}) THEN 1 ELSE 0 END), 0)`.as('active'),
        sql<number | null>`MAX(created_at)`.as('last'),
        sql<number>`COALESCE(SUM(CASE WHEN created_at >= ${dayStart} THEN quota_images ELSE 0 END), 0)`.as('images'),
      ])
      .where(inGuild(guildId))
      .where('requester_id', '=', requesterId);
    const guild = guildSince(db, guildId, dayStart);
    const everyone = db
      .selectFrom('generations')
      .select(sql<number>`COALESCE(SUM(cost_usd), 0)`.as('cost'))
      .where('created_at', '>=', dayStart);
    const row = await db
      .selectFrom([member.as('m'), guild.as('g'), everyone.as('e')])
      .select([
        'm.active',
        'm.last',
        'm.images as memberImages',
        'g.quotaImages as guildImages',
        'g.costUsd as guildCost',
        'e.cost as globalCost',
      ])
      .executeTakeFirst();
    return {
      memberActiveJobs: row?.active ?? 0,
      memberLastJobAt: row?.last ?? null,
      memberImagesToday: row?.memberImages ?? 0,
      guildImagesToday: row?.guildImages ?? 0,
      guildCostTodayUsd: row?.guildCost ?? 0,
      globalCostTodayUsd: row?.globalCost ?? 0,
    };
  }

  /** A server's totals since `since`: jobs, images delivered, images counted against quotas, spend. */
  async guildTotals(
    guildId: string | null,
    since: number,
  ): Promise<{ jobs: number; images: number; quotaImages: number; costUsd: number }> {
    const row = await guildSince(this.#db, guildId, since).executeTakeFirst();
    return {
      jobs: row?.jobs ?? 0,
      images: row?.images ?? 0,
      quotaImages: row?.quotaImages ?? 0,
      costUsd: row?.costUsd ?? 0,
    };
  }

  /** A member's unfinished jobs in a server, oldest first. */
  async activeOf(guildId: string | null, requesterId: string): Promise<Generation[]> {
    const rows = await this.#db
      .selectFrom('generations')
      .selectAll()
      .where(inGuild(guildId))
      .where('requester_id', '=', requesterId)
      .where('status', 'in', UNFINISHED)
      .orderBy('id')
      .execute();
    return rows.map(parseGenerationRow);
  }

  async get(id: number): Promise<Generation | undefined> {
    const row = await this.#db.selectFrom('generations').selectAll().where('id', '=', id).executeTakeFirst();
    return row ? parseGenerationRow(row) : undefined;
  }

  async require(id: number): Promise<Generation> {
    const generation = await this.get(id);
    if (!generation) throw new Error(`generation ${id} does not exist`);
    return generation;
  }

  /** Records fal's request id the moment fal accepts the job, so a restart can pick it up again. */
  async markSubmitted(id: number, falRequestId: string, at: number): Promise<void> {
    await this.#db
      .updateTable('generations')
      .set({ status: 'queued', fal_request_id: falRequestId, submitted_at: at })
      .where('id', '=', id)
      .execute();
  }

  /**
   * Moves a job at fal forward (running at fal, then being delivered); never backward, and never out of a final
   * state, whatever order two writes reach the database in. Only while this process holds the job: false when
   * it does not (another process took it over) or the job has ended, so the move to delivering is the gate a
   * process passes before it posts anything.
   */
  async setStatus(id: number, status: 'running' | 'delivering'): Promise<boolean> {
    const from = status === 'running' ? ['pending', 'queued'] : ['pending', 'queued', 'running', 'delivering'];
    const result = await this.#db
      .updateTable('generations')
      .set({ status })
      .where('id', '=', id)
      .where('owner', '=', this.#claimant.owner)
      .where('status', 'in', from)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  }

  /**
   * Final states erase the interaction token (it is only kept while the job needs it) and the lease (the owner
   * stays: who finished it). Usage and cost are settled here: `imageCount` images delivered (the member's quota),
   * `costUsd` for the images fal returned (its bill).
   */
  async markDone(id: number, messageId: string | null, imageCount: number, costUsd: number, at: number): Promise<void> {
    await this.#db
      .updateTable('generations')
      .set({
        status: 'done',
        message_id: messageId,
        image_count: imageCount,
        quota_images: imageCount,
        cost_usd: costUsd,
        finished_at: at,
        interaction_token: null,
        lease_expires_at: null,
      })
      .where('id', '=', id)
      .execute();
  }

  /**
   * A job that ended without images gives its images back to the member's quota; its cost is kept only when
   * fal may have billed it (`billed`).
   */
  async markFailed(
    id: number,
    status: 'failed' | 'cancelled',
    failureKind: FailureKind,
    at: number,
    billed = false,
  ): Promise<void> {
    await this.#db
      .updateTable('generations')
      .set({
        status,
        failure_kind: failureKind,
        finished_at: at,
        interaction_token: null,
        quota_images: 0,
        lease_expires_at: null,
        ...(!billed && { cost_usd: 0 }),
      })
      .where('id', '=', id)
      .execute();
  }

  /** The messages of a result Discord already has, by part (1 = the first message): what a resume must not post again. */
  async deliveredParts(id: number): Promise<Map<number, string>> {
    const rows = await this.#db
      .selectFrom('delivered_parts')
      .select(['part', 'message_id'])
      .where('generation_id', '=', id)
      .orderBy('part')
      .execute();
    return new Map(rows.map((row) => [row.part, row.message_id]));
  }

  /** Records one part of a result the moment Discord has accepted it. */
  async recordPart(id: number, part: number, messageId: string, at: number): Promise<void> {
    await this.#db
      .insertInto('delivered_parts')
      .values({ generation_id: id, part, message_id: messageId, delivered_at: at })
      .onConflict((oc) =>
        oc.columns(['generation_id', 'part']).doUpdateSet({ message_id: messageId, delivered_at: at }),
      )
      .execute();
  }

  /** Where each delivered image of a result lives on Discord (0-based index), oldest part first. */
  async resultImages(id: number): Promise<ResultImage[]> {
    const rows = await this.#db
      .selectFrom('result_images')
      .select(['image_index', 'message_id', 'url', 'width', 'height'])
      .where('generation_id', '=', id)
      .orderBy('image_index')
      .execute();
    return rows.map((row) => ({
      index: row.image_index,
      messageId: row.message_id,
      url: row.url,
      width: row.width,
      height: row.height,
    }));
  }

  /** Records where Discord put one image of a result (the message that carries it, and its attachment URL). */
  async recordResultImage(id: number, image: ResultImage): Promise<void> {
    const place = { message_id: image.messageId, url: image.url, width: image.width, height: image.height };
    await this.#db
      .insertInto('result_images')
      .values({ generation_id: id, image_index: image.index, ...place })
      .onConflict((oc) => oc.columns(['generation_id', 'image_index']).doUpdateSet(place))
      .execute();
  }

  /**
   * Forgets the result message if it is `messageId` (a member deleted it); the row stays for history and rerolls.
   */
  async clearMessage(id: number, messageId: string): Promise<void> {
    await this.#db
      .updateTable('generations')
      .set({ message_id: null })
      .where('id', '=', id)
      .where('message_id', '=', messageId)
      .execute();
  }

  /** Forgets the images a deleted message carried: nothing may act on them any more. */
  async forgetImagesOf(id: number, messageId: string): Promise<void> {
    await this.#db
      .deleteFrom('result_images')
      .where('generation_id', '=', id)
      .where('message_id', '=', messageId)
      .execute();
  }

  /**
   * One page of a member's generations in a server, newest first: the `limit` just older than `before`, the
   * `limit` just newer than `after`, or (neither) the newest. `older`/`newer` say whether more rows lie beyond
   * the page's last and first entries, for the page buttons.
   */
  async historyOf(
    guildId: string | null,
    requesterId: string,
    page: { readonly before?: number; readonly after?: number; readonly limit: number },
  ): Promise<HistoryPage> {
    const limit = Math.max(1, Math.floor(page.limit));
    const member = this.#db.selectFrom('generations').where(inGuild(guildId)).where('requester_id', '=', requesterId);
    const rows =
      page.after !== undefined
        ? (await member.selectAll().where('id', '>', page.after).orderBy('id', 'asc').limit(limit).execute()).reverse()
        : await member
            .selectAll()
            .where('id', '<', page.before ?? Number.MAX_SAFE_INTEGER)
            .orderBy('id', 'desc')
            .limit(limit)
            .execute();
    const generations = rows.map(parseGenerationRow);
    const first = generations[0];
    const last = generations.at(-1);
    const any = async (op: '<' | '>', id: number) =>
      (await member.select('id').where('id', op, id).limit(1).executeTakeFirst()) !== undefined;
    return {
      generations,
      newer: first !== undefined && (await any('>', first.id)),
      older: last !== undefined && (await any('<', last.id)),
    };
  }

  /** The generation a result message shows: its first message (`message_id`) or any part of a split result. */
  async findByMessageId(messageId: string): Promise<Generation | undefined> {
    const row =
      (await this.#db.selectFrom('generations').selectAll().where('message_id', '=', messageId).executeTakeFirst()) ??
      (await this.#db
        .selectFrom('delivered_parts as p')
        .innerJoin('generations as g', 'g.id', 'p.generation_id')
        .selectAll('g')
        .where('p.message_id', '=', messageId)
        .executeTakeFirst());
    return row ? parseGenerationRow(row) : undefined;
  }
}
