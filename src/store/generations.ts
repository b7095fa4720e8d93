import type { GenerationInput, ModelId } from '../models/registry.js';
import type { Db } from './database.js';

/**
 * Where a generation is in its life. `pending`: saved, not yet at fal; `queued`/`running`: fal has it
 * (the request id is saved); `delivering`: images are being posted; the rest are final.
 */
export type GenerationStatus = 'pending' | 'queued' | 'running' | 'delivering' | 'done' | 'failed' | 'cancelled';
export const UNFINISHED_STATUSES = ['pending', 'queued', 'running', 'delivering'] as const satisfies GenerationStatus[];

/** One /imagine job, as persisted before anything is sent to fal. */
export interface Generation {
  readonly id: number;
  readonly status: GenerationStatus;
  readonly modelId: ModelId;
  readonly input: GenerationInput;
  readonly requesterId: string;
  readonly guildId: string | null;
  readonly channelId: string;
  readonly applicationId: string;
  /** The interaction token that lets us edit the reply; erased when the job ends. */
  readonly interactionToken: string | null;
  readonly tokenExpiresAt: number | null;
  /** The generation this one rerolls, if any. */
  readonly parentId: number | null;
  readonly falRequestId: string | null;
  /** The Discord message that shows the result. */
  readonly messageId: string | null;
  readonly imageCount: number;
  readonly failureKind: string | null;
  readonly createdAt: number;
  readonly submittedAt: number | null;
  readonly finishedAt: number | null;
  /** The bot's permissions in the channel (bitfield as a decimal string), from the interaction. */
  readonly appPermissions: string | null;
  /** Largest attachment Discord said it accepts there (bytes), from the interaction. */
  readonly attachmentSizeLimit: number | null;
  readonly inThread: boolean;
}

export interface NewGeneration {
  readonly modelId: ModelId;
  readonly input: GenerationInput;
  readonly requesterId: string;
  readonly guildId: string | null;
  readonly channelId: string;
  readonly applicationId: string;
  readonly interactionToken: string;
  readonly tokenExpiresAt: number;
  readonly parentId: number | null;
  readonly createdAt: number;
  readonly appPermissions: string | null;
  readonly attachmentSizeLimit: number | null;
  readonly inThread: boolean;
}

interface Row {
  id: number;
  status: GenerationStatus;
  model_id: ModelId;
  input_json: string;
  requester_id: string;
  guild_id: string | null;
  channel_id: string;
  application_id: string;
  interaction_token: string | null;
  token_expires_at: number | null;
  parent_id: number | null;
  fal_request_id: string | null;
  message_id: string | null;
  image_count: number;
  failure_kind: string | null;
  created_at: number;
  submitted_at: number | null;
  finished_at: number | null;
  app_permissions: string | null;
  attachment_size_limit: number | null;
  in_thread: number;
}

function fromRow(row: Row): Generation {
  return {
    id: row.id,
    status: row.status,
    modelId: row.model_id,
    input: JSON.parse(row.input_json) as GenerationInput,
    requesterId: row.requester_id,
    guildId: row.guild_id,
    channelId: row.channel_id,
    applicationId: row.application_id,
    interactionToken: row.interaction_token,
    tokenExpiresAt: row.token_expires_at,
    parentId: row.parent_id,
    falRequestId: row.fal_request_id,
    messageId: row.message_id,
    imageCount: row.image_count,
    failureKind: row.failure_kind,
    createdAt: row.created_at,
    submittedAt: row.submitted_at,
    finishedAt: row.finished_at,
    appPermissions: row.app_permissions,
    attachmentSizeLimit: row.attachment_size_limit,
    inThread: row.in_thread === 1,
  };
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

  constructor(db: Db) {
    this.#insert = db.prepare(
      `INSERT INTO generations (status, model_id, input_json, requester_id, guild_id, channel_id, application_id,
         interaction_token, token_expires_at, parent_id, created_at, app_permissions, attachment_size_limit, in_thread)
       VALUES ('pending', @modelId, @inputJson, @requesterId, @guildId, @channelId, @applicationId,
         @interactionToken, @tokenExpiresAt, @parentId, @createdAt, @appPermissions, @attachmentSizeLimit, @inThread)`,
    );
    this.#byId = db.prepare<[number], Row>('SELECT * FROM generations WHERE id = ?');
    this.#unfinished = db.prepare<[], Row>(
      `SELECT * FROM generations WHERE status IN (${UNFINISHED_STATUSES.map((s) => `'${s}'`).join(', ')}) ORDER BY id`,
    );
    this.#submitted = db.prepare<[string, number, number]>(
      `UPDATE generations SET status = 'queued', fal_request_id = ?, submitted_at = ? WHERE id = ?`,
    );
    this.#status = db.prepare<[GenerationStatus, number]>('UPDATE generations SET status = ? WHERE id = ?');
    this.#done = db.prepare<[string | null, number, number, number]>(
      `UPDATE generations SET status = 'done', message_id = ?, image_count = ?, finished_at = ?,
         interaction_token = NULL WHERE id = ?`,
    );
    this.#failed = db.prepare<[GenerationStatus, string, number, number]>(
      `UPDATE generations SET status = ?, failure_kind = ?, finished_at = ?, interaction_token = NULL WHERE id = ?`,
    );
    this.#clearMessage = db.prepare<[number]>('UPDATE generations SET message_id = NULL WHERE id = ?');
  }

  create(generation: NewGeneration): Generation {
    const { lastInsertRowid } = this.#insert.run({
      modelId: generation.modelId,
      inputJson: JSON.stringify(generation.input),
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
    });
    return this.require(Number(lastInsertRowid));
  }

  get(id: number): Generation | undefined {
    const row = this.#byId.get(id);
    return row ? fromRow(row) : undefined;
  }

  require(id: number): Generation {
    const generation = this.get(id);
    if (!generation) throw new Error(`generation ${id} does not exist`);
    return generation;
  }

  unfinished(): Generation[] {
    return this.#unfinished.all().map(fromRow);
  }

  /** Records fal's request id the moment fal accepts the job, so a restart can pick it up again. */
  markSubmitted(id: number, falRequestId: string, at: number): void {
    this.#submitted.run(falRequestId, at, id);
  }

  setStatus(id: number, status: 'queued' | 'running' | 'delivering'): void {
    this.#status.run(status, id);
  }

  /** Final states erase the interaction token: it is only kept while the job needs it. */
  markDone(id: number, messageId: string | null, imageCount: number, at: number): void {
    this.#done.run(messageId, imageCount, at, id);
  }

  markFailed(id: number, status: 'failed' | 'cancelled', failureKind: string, at: number): void {
    this.#failed.run(status, failureKind, at, id);
  }

  /** Forgets the result message (after a member deleted it); the row stays for history and rerolls. */
  clearMessage(id: number): void {
    this.#clearMessage.run(id);
  }
}
