import { z } from 'zod';

/**
 * Field schemas shared by every model's input, so limits that are the bot's own (prompt length, seed range) are
 * the same everywhere. Descriptions double as slash-command option descriptions: under Discord's 100 characters.
 */

/** Longest prompt we accept: every model reads at least this much, and it leaves room in the Edit form. */
export const PROMPT_MAX_LENGTH = 2000;
export const NEGATIVE_PROMPT_MAX_LENGTH = 1000;
/** Seeds are kept to a signed 32-bit range, which every endpoint accepts. */
export const SEED_MAX = 2_147_483_647;

/** fal's safety filter levels, "1" strictest to "6" most permissive (a string enum in every schema). */
export const SAFETY_TOLERANCES = ['1', '2', '3', '4', '5', '6'] as const;
export type SafetyTolerance = (typeof SAFETY_TOLERANCES)[number];

/** Image formats every endpoint can return; the bot picks one per job (see outputFormat.ts). */
export const OUTPUT_FORMATS = ['png', 'jpeg', 'webp'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export const prompt = z.string().trim().min(1).max(PROMPT_MAX_LENGTH).describe('What you want to see');

export const negativePrompt = z
  .string()
  .trim()
  .max(NEGATIVE_PROMPT_MAX_LENGTH)
  .optional()
  .describe('What to keep out of the image (Imagen 4 only)');

export const numImages = z.int().min(1).max(4).default(1).describe('How many images to make (1-4, default 1)');

export const seed = z
  .int()
  .min(0)
  .max(SEED_MAX)
  .optional()
  .describe('Same seed and prompt give the same image (random if empty)');

/** What the server adds to every request (never a member option): the format and the safety filter level. */
export const serverFields = {
  output_format: z.enum(OUTPUT_FORMATS),
  safety_tolerance: z.enum(SAFETY_TOLERANCES),
};

/** One image in a model's output, as fal describes its File type. */
export const OutputImage = z.object({
  url: z.string().min(1),
  content_type: z.string().optional(),
  file_name: z.string().optional(),
  file_size: z.number().optional(),
  width: z.number().optional(),
  height: z.number().optional(),
});
export type OutputImageFile = z.output<typeof OutputImage>;
