import { z } from 'zod';
import { GENERATION_ACTIONS, type GenerationAction } from '../models/operations.js';
import { SAFETY_TOLERANCES, type GenerationInput, type ModelId, type SafetyTolerance } from '../models/registry.js';

/**
 * Where a generation is in its life. `waiting`: in the bot's own fair queue; `pending`: taken from it, not yet
 * at fal; `queued`/`running`: fal has it (the request id is saved); `delivering`: images are being posted;
 * the rest are final.
 */
export const GENERATION_STATUSES = [
  'waiting',
  'pending',
  'queued',
  'running',
  'delivering',
  'done',
  'failed',
  'cancelled',
] as const;
export type GenerationStatus = (typeof GENERATION_STATUSES)[number];
export const UNFINISHED_STATUSES = [
  'waiting',
  'pending',
  'queued',
  'running',
  'delivering',
] as const satisfies GenerationStatus[];

/**
 * Why a job ended without images, as stored. Every kind the generation pipeline reports (its `Failure` union is
 * checked against this list at compile time), plus `not_acknowledged`: admitted, but Discord refused the
 * acknowledgement, so it never ran.
 */
export const FAILURE_KINDS = [
  'safety',
  'invalid_input',
  'unauthorized',
  'no_credit',
  'busy',
  'timeout',
  'not_found',
  'unknown',
  'cancelled',
  'download',
  'delivery',
  'model_unavailable',
  'image_unavailable',
  'action_unavailable',
  'not_acknowledged',
] as const;
export type FailureKind = (typeof FAILURE_KINDS)[number];

/**
 * An image a generation starts from: one of a result's images (by generation and 0-based index), or a file a
 * member attached to /imagine (by its Discord URL). Either way its URL is refreshed through Discord before fal
 * is handed it, so an action on a week-old result still works.
 */
export const ImageRef = z.discriminatedUnion('type', [
  z.object({ type: z.literal('result'), generationId: z.int().positive(), index: z.int().min(0) }),
  z.object({ type: z.literal('attachment'), url: z.url(), filename: z.string() }),
]);
export type ImageRef = z.output<typeof ImageRef>;

/** One /imagine job, as persisted before anything is sent to fal. */
export interface Generation {
  readonly id: number;
  readonly status: GenerationStatus;
  /** The catalog model it ran on; a row from a version whose model is gone keeps its id (see `findModel`). */
  readonly modelId: ModelId;
  /** What the member chose (never what the server adds). */
  readonly input: GenerationInput;
  /** The server's safety filter level when the job was admitted (null on rows that never had one). */
  readonly safetyTolerance: SafetyTolerance | null;
  readonly action: GenerationAction;
  /** The images it starts from (none for a plain /imagine). */
  readonly imageRefs: readonly ImageRef[];
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
  readonly failureKind: FailureKind | null;
  readonly createdAt: number;
  readonly submittedAt: number | null;
  readonly finishedAt: number | null;
  /** The bot's permissions in the channel (bitfield as a decimal string), from the interaction. */
  readonly appPermissions: string | null;
  /** Largest attachment Discord said it accepts there (bytes), from the interaction. */
  readonly attachmentSizeLimit: number | null;
  readonly inThread: boolean;
  /** When the job left the bot's queue for fal. */
  readonly dispatchedAt: number | null;
  /** Images counted against the member's and the server's daily quotas. */
  readonly quotaImages: number;
  /** What fal is expected to bill for it, in US dollars. */
  readonly costUsd: number;
}

/**
 * The member's options as stored: loose enough for every version's rows (Imagen 4's, the Gemini models'), strict
 * on what every row must have. Rows from before the server's choices were kept apart carry `safety_tolerance`
 * in here; it is lifted out into {@link Generation.safetyTolerance}.
 */
const StoredInput = z
  .object({
    prompt: z.string(),
    negative_prompt: z.string().optional(),
    aspect_ratio: z.string(),
    num_images: z.int().min(1),
    seed: z.int(),
    resolution: z.string().optional(),
    safety_tolerance: z.enum(SAFETY_TOLERANCES).optional(),
  })
  .loose();

const nullableInt = z.int().nullable();
const nullableText = z.string().nullable();

/** A `generations` row exactly as SQLite returns it. */
const Row = z.object({
  id: z.int(),
  status: z.enum(GENERATION_STATUSES),
  // Any id: a model that left the catalog must still load (findModel says it is gone).
  model_id: z.string().min(1),
  input_json: z.string(),
  safety_tolerance: z.enum(SAFETY_TOLERANCES).nullable(),
  action: z.enum(GENERATION_ACTIONS),
  image_refs_json: z.string().nullable(),
  requester_id: z.string(),
  guild_id: nullableText,
  channel_id: z.string(),
  application_id: z.string(),
  interaction_token: nullableText,
  token_expires_at: nullableInt,
  parent_id: nullableInt,
  fal_request_id: nullableText,
  message_id: nullableText,
  image_count: z.int(),
  // A kind a later version added reads as 'unknown' rather than making the row unreadable.
  failure_kind: z.enum(FAILURE_KINDS).nullable().catch('unknown'),
  created_at: z.int(),
  submitted_at: nullableInt,
  finished_at: nullableInt,
  app_permissions: nullableText,
  attachment_size_limit: nullableInt,
  in_thread: z.union([z.literal(0), z.literal(1)]),
  dispatched_at: nullableInt,
  quota_images: z.int(),
  cost_usd: z.number(),
});

/** A stored row that does not parse: damaged, or written by a version this one does not understand. */
export class DamagedRowError extends Error {
  override readonly name = 'DamagedRowError';
  constructor(
    readonly id: unknown,
    readonly problem: string,
  ) {
    super(`generation ${String(id)} in the database cannot be read: ${problem}`);
  }
}

/** Parses one row into a {@link Generation}, or throws {@link DamagedRowError} naming the first bad field. */
export function parseGenerationRow(raw: unknown): Generation {
  const row = Row.safeParse(raw);
  if (!row.success) throw new DamagedRowError((raw as { id?: unknown } | undefined)?.id, describe(row.error));
  const r = row.data;
  let json: unknown;
  try {
    json = JSON.parse(r.input_json);
  } catch {
    throw new DamagedRowError(r.id, 'input_json is not JSON');
  }
  const input = StoredInput.safeParse(json);
  if (!input.success) throw new DamagedRowError(r.id, `input_json: ${describe(input.error)}`);
  const { safety_tolerance: legacyTolerance, ...memberInput } = input.data;
  return {
    id: r.id,
    status: r.status,
    modelId: r.model_id as ModelId,
    input: memberInput as GenerationInput,
    safetyTolerance: r.safety_tolerance ?? legacyTolerance ?? null,
    action: r.action,
    imageRefs: parseImageRefs(r.id, r.image_refs_json),
    requesterId: r.requester_id,
    guildId: r.guild_id,
    channelId: r.channel_id,
    applicationId: r.application_id,
    interactionToken: r.interaction_token,
    tokenExpiresAt: r.token_expires_at,
    parentId: r.parent_id,
    falRequestId: r.fal_request_id,
    messageId: r.message_id,
    imageCount: r.image_count,
    failureKind: r.failure_kind,
    createdAt: r.created_at,
    submittedAt: r.submitted_at,
    finishedAt: r.finished_at,
    appPermissions: r.app_permissions,
    attachmentSizeLimit: r.attachment_size_limit,
    inThread: r.in_thread === 1,
    dispatchedAt: r.dispatched_at,
    quotaImages: r.quota_images,
    costUsd: r.cost_usd,
  };
}

function parseImageRefs(id: number, json: string | null): ImageRef[] {
  if (json === null) return [];
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new DamagedRowError(id, 'image_refs_json is not JSON');
  }
  const refs = z.array(ImageRef).safeParse(value);
  if (!refs.success) throw new DamagedRowError(id, `image_refs_json: ${describe(refs.error)}`);
  return refs.data;
}

function describe(error: z.ZodError): string {
  const issue = error.issues[0];
  return issue ? `${issue.path.join('.') || 'row'}: ${issue.message}` : 'unreadable';
}
