import { z } from 'zod';

/**
 * Every button and modal the bot sends carries `<command>:<action>:<generationId>`. The handler reloads the
 * generation from the database by id, so a button keeps working after any restart (no collectors, no memory).
 */
/**
 * The prefix of every button and form a generation's messages carry: the command whose handler owns them
 * (/imagine declares the same name; test/discord/customId.test.ts checks they agree).
 */
export const GENERATION_COMPONENTS = 'imagine';

export const COMPONENT_ACTIONS = [
  'same',
  'new',
  'edit',
  'edit-submit',
  'delete',
  'cancel',
  'default',
  // Actions on one image of a result: `imagine:<action>:<generation>:<image index>`.
  'upscale',
  'vary',
  'edit-image',
  'edit-image-submit',
  // /imagine-history pages: `imagine-history:<newer|older>:<cursor generation id>`.
  'newer',
  'older',
] as const;
export type ComponentAction = (typeof COMPONENT_ACTIONS)[number];

export interface CustomId {
  readonly command: string;
  readonly action: ComponentAction;
  readonly id: number;
  /** Which image of the result (0-based), for the actions on one image. */
  readonly image?: number;
}

/** The most images a result has (the models make 1-4). */
const MAX_IMAGE_INDEX = 3;

/** Discord's limit on custom_id length. */
export const CUSTOM_ID_MAX_LENGTH = 100;

const CustomIdParts = z.tuple(
  [
    z.string().regex(/^[a-z][a-z0-9-]{0,31}$/),
    z.enum(COMPONENT_ACTIONS),
    z
      .string()
      .regex(/^[1-9]\d{0,15}$/)
      .transform(Number)
      .pipe(z.number().int().max(Number.MAX_SAFE_INTEGER)),
  ],
  z
    .string()
    .regex(new RegExp(`^[0-${MAX_IMAGE_INDEX}]$`))
    .transform(Number),
);

export function encodeCustomId(value: CustomId): string {
  const encoded = `${value.command}:${value.action}:${value.id}${value.image === undefined ? '' : `:${value.image}`}`;
  if (encoded.length > CUSTOM_ID_MAX_LENGTH || !CustomIdParts.safeParse(encoded.split(':')).success) {
    throw new RangeError(`cannot encode custom_id for ${value.command}/${value.action}`);
  }
  return encoded;
}

/** Parses a custom_id; anything not made by {@link encodeCustomId} (old, foreign or tampered) gives undefined. */
export function decodeCustomId(raw: unknown): CustomId | undefined {
  if (typeof raw !== 'string' || raw.length > CUSTOM_ID_MAX_LENGTH) return undefined;
  const parts = raw.split(':');
  if (parts.length > 4) return undefined;
  const parsed = CustomIdParts.safeParse(parts);
  if (!parsed.success) return undefined;
  const [command, action, id, image] = parsed.data;
  return image === undefined ? { command, action, id } : { command, action, id, image };
}
