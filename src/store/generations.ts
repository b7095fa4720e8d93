import type { Db } from './database.js';
import {
  DamagedRowError,
  UNFINISHED_STATUSES,
  parseGenerationRow,
  type FailureKind,
  type Generation,
  type GenerationStatus,
} from './generationRow.js';

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

const UNFINISHED_SQL = UNFINISHED_STATUSES.map((status) => `'${status}'`).join(', ');

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

/** A job in the bot's own queue, as the scheduler sees it. */
export interface WaitingJob {
  readonly id: number;
  readonly guildId: string | null;
  readonly requesterId: string;
}

interface WaitingRow {
  id: number;
  guild_id: string | null;
  requester_id: string;
}

/** A page of {@link GenerationStore.historyOf}: newest first, and whether more lie on either side. */
export interface HistoryPage {
  readonly generations: Generation[];
  readonly newer: boolean;
  readonly older: boolean;
}

/** The generations table. Every state change is one statement, so a crash leaves a consistent row. */
export class GenerationStore {
  readonly #insert;
  readonly #byId;
  readonly #unfinished;
  readonly #submitted;
  readonly #status;
  readonly #done;
  readonly #failed;
  readonly #clearMessage;
  readonly #forgetImages;
  readonly #dispatched;
  readonly #waiting;
  readonly #lastDispatches;
  readonly #memberUsage;
  readonly #guildUsage;
  readonly #globalCost;
  readonly #createIfAllowed;
  readonly #activeOfMember;
  readonly #parts;
  readonly #recordPart;
  readonly #resultImages;
  readonly #recordResultImage;

  constructor(db: Db) {
    this.#insert = db.prepare(
      `INSERT INTO generations (status, model_id, input_json, safety_tolerance, action, image_refs_json, requester_id,
         guild_id, channel_id, application_id, interaction_token, token_expires_at, parent_id, created_at, app_permissions,
         attachment_size_limit, in_thread, quota_images, cost_usd)
       VALUES ('waiting', @modelId, @inputJson, @safetyTolerance, @action, @imageRefsJson, @requesterId, @guildId, @channelId, @applicationId,
         @interactionToken, @tokenExpiresAt, @parentId, @createdAt, @appPermissions, @attachmentSizeLimit, @inThread,
         @quotaImages, @costUsd)`,
    );
    this.#byId = db.prepare<[number], unknown>('SELECT * FROM generations WHERE id = ?');
    this.#unfinished = db.prepare<[], { id: number }>(
      `SELECT id FROM generations WHERE status IN (${UNFINISHED_SQL}) ORDER BY id`,
    );
    this.#submitted = db.prepare<[string, number, number]>(
      `UPDATE generations SET status = 'queued', fal_request_id = ?, submitted_at = ? WHERE id = ?`,
    );
    this.#status = db.prepare<[GenerationStatus, number]>('UPDATE generations SET status = ? WHERE id = ?');
    this.#done = db.prepare<[{ messageId: string | null; images: number; costUsd: number; at: number; id: number }]>(
      `UPDATE generations SET status = 'done', message_id = @messageId, image_count = @images, quota_images = @images,
         cost_usd = @costUsd, finished_at = @at, interaction_token = NULL WHERE id = @id`,
    );
    this.#failed = db.prepare<[GenerationStatus, string, number, number, number]>(
      `UPDATE generations SET status = ?, failure_kind = ?, finished_at = ?, interaction_token = NULL,
         quota_images = 0, cost_usd = CASE WHEN ? THEN cost_usd ELSE 0 END WHERE id = ?`,
    );
    this.#dispatched = db.prepare<[number, number]>(
      `UPDATE generations SET status = 'pending', dispatched_at = ? WHERE id = ? AND status = 'waiting'`,
    );
    this.#waiting = db.prepare<[], WaitingRow>(
      `SELECT id, guild_id, requester_id FROM generations WHERE status = 'waiting' ORDER BY id`,
    );
    this.#memberUsage = db.prepare<
      [number, string | null, string],
      { active: number; last: number | null; images: number }
    >(
      `SELECT COALESCE(SUM(status IN (${UNFINISHED_SQL})), 0) AS active, MAX(created_at) AS last,
         COALESCE(SUM(CASE WHEN created_at >= ? THEN quota_images ELSE 0 END), 0) AS images
       FROM generations WHERE guild_id IS ? AND requester_id = ?`,
    );
    this.#guildUsage = db.prepare<
      [string | null, number],
      { images: number; cost: number; jobs: number; delivered: number }
    >(
      `SELECT COALESCE(SUM(quota_images), 0) AS images, COALESCE(SUM(cost_usd), 0) AS cost, COUNT(*) AS jobs,
         COALESCE(SUM(image_count), 0) AS delivered
       FROM generations WHERE guild_id IS ? AND created_at >= ?`,
    );
    this.#globalCost = db.prepare<[number], { cost: number }>(
      'SELECT COALESCE(SUM(cost_usd), 0) AS cost FROM generations WHERE created_at >= ?',
    );
    this.#activeOfMember = db.prepare<[string | null, string], unknown>(
      `SELECT * FROM generations WHERE guild_id IS ? AND requester_id = ? AND status IN (${UNFINISHED_SQL}) ORDER BY id`,
    );
    this.#createIfAllowed = db.transaction(
      <R>(generation: NewGeneration, dayStart: number, decide: (usage: UsageSnapshot) => R | undefined) => {
        const refusal = decide(this.usage(generation.guildId, generation.requesterId, dayStart));
        if (refusal !== undefined) return { ok: false as const, refusal };
        return { ok: true as const, generation: this.create(generation) };
      },
    );
    this.#lastDispatches = db.prepare<[number], { guild_id: string | null; requester_id: string; at: number }>(
      `SELECT guild_id, requester_id, MAX(dispatched_at) AS at FROM generations
       WHERE dispatched_at >= ? GROUP BY guild_id, requester_id`,
    );
    this.#clearMessage = db.prepare<[number]>('UPDATE generations SET message_id = NULL WHERE id = ?');
    this.#forgetImages = db.prepare<[number, string]>(
      'DELETE FROM result_images WHERE generation_id = ? AND message_id = ?',
    );
    this.#parts = db.prepare<[number], { part: number; message_id: string }>(
      'SELECT part, message_id FROM delivered_parts WHERE generation_id = ? ORDER BY part',
    );
    this.#recordPart = db.prepare<[number, number, string, number]>(
      `INSERT INTO delivered_parts (generation_id, part, message_id, delivered_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (generation_id, part) DO UPDATE SET message_id = excluded.message_id, delivered_at = excluded.delivered_at`,
    );
    this.#resultImages = db.prepare<
      [number],
      { image_index: number; message_id: string; url: string; width: number | null; height: number | null }
    >(
      'SELECT image_index, message_id, url, width, height FROM result_images WHERE generation_id = ? ORDER BY image_index',
    );
    this.#recordResultImage = db.prepare<[number, number, string, string, number | null, number | null]>(
      `INSERT INTO result_images (generation_id, image_index, message_id, url, width, height) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (generation_id, image_index) DO UPDATE SET message_id = excluded.message_id, url = excluded.url,
         width = excluded.width, height = excluded.height`,
    );
    this.#history = prepareHistoryStatements(db);
  }

  create(generation: NewGeneration): Generation {
    const { lastInsertRowid } = this.#insert.run({
      modelId: generation.modelId,
      inputJson: JSON.stringify(generation.input),
      safetyTolerance: generation.safetyTolerance,
      action: generation.action,
      imageRefsJson: generation.imageRefs.length > 0 ? JSON.stringify(generation.imageRefs) : null,
      requesterId: generation.requesterId,
      guildId: generation.guildId,
      channelId: generation.channelId,
      applicationId: generation.applicationId,
      interactionToken: generation.interactionToken,
      tokenExpiresAt: generation.tokenExpiresAt,
      parentId: generation.parentId,
      createdAt: generation.createdAt,
      appPermissions: generation.appPermissions,
      attachmentSizeLimit: generation.attachmentSizeLimit,
      inThread: generation.inThread ? 1 : 0,
      quotaImages: generation.quotaImages,
      costUsd: generation.costUsd,
    });
    return this.require(Number(lastInsertRowid));
  }

  /**
   * Inserts a generation only if `decide`, given the usage so far, returns no refusal. The read and the insert
   * are one SQLite transaction, so parallel requests cannot slip past a limit together.
   */
  createIfAllowed<R>(
    generation: NewGeneration,
    dayStart: number,
    decide: (usage: UsageSnapshot) => R | undefined,
  ): { ok: true; generation: Generation } | { ok: false; refusal: R } {
    return this.#createIfAllowed(generation, dayStart, decide) as
      { ok: true; generation: Generation } | { ok: false; refusal: R };
  }

  /** What a member and their server have used since `dayStart`, and what the whole bot has spent. */
  usage(guildId: string | null, requesterId: string, dayStart: number): UsageSnapshot {
    const member = this.#memberUsage.get(dayStart, guildId, requesterId);
    const guild = this.#guildUsage.get(guildId, dayStart);
    return {
      memberActiveJobs: member?.active ?? 0,
      memberLastJobAt: member?.last ?? null,
      memberImagesToday: member?.images ?? 0,
      guildImagesToday: guild?.images ?? 0,
      guildCostTodayUsd: guild?.cost ?? 0,
      globalCostTodayUsd: this.#globalCost.get(dayStart)?.cost ?? 0,
    };
  }

  /** A server's totals since `since`: jobs, images delivered, images counted against quotas, spend. */
  guildTotals(
    guildId: string | null,
    since: number,
  ): { jobs: number; images: number; quotaImages: number; costUsd: number } {
    const row = this.#guildUsage.get(guildId, since);
    return {
      jobs: row?.jobs ?? 0,
      images: row?.delivered ?? 0,
      quotaImages: row?.images ?? 0,
      costUsd: row?.cost ?? 0,
    };
  }

  /** A member's unfinished jobs in a server, oldest first. */
  activeOf(guildId: string | null, requesterId: string): Generation[] {
    return this.#activeOfMember.all(guildId, requesterId).map(parseGenerationRow);
  }

  get(id: number): Generation | undefined {
    const row = this.#byId.get(id);
    return row ? parseGenerationRow(row) : undefined;
  }

  require(id: number): Generation {
    const generation = this.get(id);
    if (!generation) throw new Error(`generation ${id} does not exist`);
    return generation;
  }

  /**
   * Every unfinished job, oldest first. A row that cannot be read is reported in `damaged` (with why) rather than
   * stopping the others from being resumed.
   */
  unfinished(): { generations: Generation[]; damaged: DamagedRowError[] } {
    const generations: Generation[] = [];
    const damaged: DamagedRowError[] = [];
    for (const { id } of this.#unfinished.all()) {
      try {
        generations.push(this.require(id));
      } catch (error) {
        if (!(error instanceof DamagedRowError)) throw error;
        damaged.push(error);
      }
    }
    return { generations, damaged };
  }

  /** Records fal's request id the moment fal accepts the job, so a restart can pick it up again. */
  markSubmitted(id: number, falRequestId: string, at: number): void {
    this.#submitted.run(falRequestId, at, id);
  }

  setStatus(id: number, status: 'queued' | 'running' | 'delivering'): void {
    this.#status.run(status, id);
  }

  /**
   * Final states erase the interaction token: it is only kept while the job needs it. Usage and cost are settled
   * here: `imageCount` images delivered (the member's quota), `costUsd` for the images fal returned (its bill).
   */
  markDone(id: number, messageId: string | null, imageCount: number, costUsd: number, at: number): void {
    this.#done.run({ messageId, images: imageCount, costUsd, at, id });
  }

  /**
   * A job that ended without images gives its images back to the member's quota; its cost is kept only when
   * fal may have billed it (`billed`).
   */
  markFailed(id: number, status: 'failed' | 'cancelled', failureKind: FailureKind, at: number, billed = false): void {
    this.#failed.run(status, failureKind, at, billed ? 1 : 0, id);
  }

  /** Takes a job out of the bot's queue; false when it was not waiting (e.g. cancelled meanwhile). */
  markDispatched(id: number, at: number): boolean {
    return this.#dispatched.run(at, id).changes === 1;
  }

  /** The bot's own queue, oldest first. */
  waiting(): WaitingJob[] {
    return this.#waiting.all().map((row) => ({ id: row.id, guildId: row.guild_id, requesterId: row.requester_id }));
  }

  /** When each (guild, member) last had a job sent to fal, since `since`: what fair scheduling rotates on. */
  lastDispatches(since: number): Array<{ guildId: string | null; requesterId: string; at: number }> {
    return this.#lastDispatches
      .all(since)
      .map((row) => ({ guildId: row.guild_id, requesterId: row.requester_id, at: row.at }));
  }

  /** The messages of a result Discord already has, by part (1 = the first message): what a resume must not post again. */
  deliveredParts(id: number): Map<number, string> {
    return new Map(this.#parts.all(id).map((row) => [row.part, row.message_id]));
  }

  /** Records one part of a result the moment Discord has accepted it. */
  recordPart(id: number, part: number, messageId: string, at: number): void {
    this.#recordPart.run(id, part, messageId, at);
  }

  /** Where each delivered image of a result lives on Discord (0-based index), oldest part first. */
  resultImages(id: number): ResultImage[] {
    return this.#resultImages.all(id).map((row) => ({
      index: row.image_index,
      messageId: row.message_id,
      url: row.url,
      width: row.width,
      height: row.height,
    }));
  }

  /** Records where Discord put one image of a result (the message that carries it, and its attachment URL). */
  recordResultImage(id: number, image: ResultImage): void {
    this.#recordResultImage.run(id, image.index, image.messageId, image.url, image.width, image.height);
  }

  /** Forgets the result message (after a member deleted it); the row stays for history and rerolls. */
  clearMessage(id: number): void {
    this.#clearMessage.run(id);
  }

  /** Forgets the images a deleted message carried: nothing may act on them any more. */
  forgetImagesOf(id: number, messageId: string): void {
    this.#forgetImages.run(id, messageId);
  }

  // History and /imagine-show: their statements are prepared together by prepareHistoryStatements (below).

  /**
   * One page of a member's generations in a server, newest first: the `limit` just older than `before`, the
   * `limit` just newer than `after`, or (neither) the newest. `older`/`newer` say whether more rows lie beyond
   * the page's last and first entries, for the page buttons.
   */
  historyOf(
    guildId: string | null,
    requesterId: string,
    page: { readonly before?: number; readonly after?: number; readonly limit: number },
  ): HistoryPage {
    const statements = this.#history;
    const limit = Math.max(1, Math.floor(page.limit));
    let rows: unknown[];
    if (page.after !== undefined) {
      rows = statements.newer.all(guildId, requesterId, page.after, limit).reverse();
    } else {
      rows = statements.older.all(guildId, requesterId, page.before ?? Number.MAX_SAFE_INTEGER, limit);
    }
    const generations = rows.map(parseGenerationRow);
    const first = generations[0];
    const last = generations.at(-1);
    return {
      generations,
      newer: first !== undefined && statements.anyNewer.get(guildId, requesterId, first.id) !== undefined,
      older: last !== undefined && statements.anyOlder.get(guildId, requesterId, last.id) !== undefined,
    };
  }

  /** The generation a result message shows: its first message (`message_id`) or any part of a split result. */
  findByMessageId(messageId: string): Generation | undefined {
    const row = this.#history.byMessage.get(messageId, messageId);
    return row ? parseGenerationRow(row) : undefined;
  }

  readonly #history: HistoryStatements;
}

type HistoryStatements = ReturnType<typeof prepareHistoryStatements>;

function prepareHistoryStatements(db: Db) {
  const member = 'guild_id IS ? AND requester_id = ?';
  return {
    older: db.prepare<[string | null, string, number, number], unknown>(
      `SELECT * FROM generations WHERE ${member} AND id < ? ORDER BY id DESC LIMIT ?`,
    ),
    newer: db.prepare<[string | null, string, number, number], unknown>(
      `SELECT * FROM generations WHERE ${member} AND id > ? ORDER BY id ASC LIMIT ?`,
    ),
    anyOlder: db.prepare<[string | null, string, number], { found: 1 }>(
      `SELECT 1 AS found FROM generations WHERE ${member} AND id < ? LIMIT 1`,
    ),
    anyNewer: db.prepare<[string | null, string, number], { found: 1 }>(
      `SELECT 1 AS found FROM generations WHERE ${member} AND id > ? LIMIT 1`,
    ),
    byMessage: db.prepare<[string, string], unknown>(
      `SELECT * FROM generations WHERE message_id = ?
       UNION ALL
       SELECT g.* FROM delivered_parts p JOIN generations g ON g.id = p.generation_id WHERE p.message_id = ?
       LIMIT 1`,
    ),
  };
}
