import { z } from 'zod';

/**
 * Input schemas of Google's Imagen 4 on fal, one per endpoint, written from the model's published API page
 * (https://fal.ai/models/fal-ai/imagen4/preview/api). These schemas are the single source of truth: they
 * generate the /imagine options, validate what members type, and type the fal call.
 *
 * Descriptions double as the slash-command option descriptions, so they stay under Discord's 100 characters.
 */

export const ASPECT_RATIOS = ['1:1', '16:9', '9:16', '3:4', '4:3'] as const;
export const RESOLUTIONS = ['1K', '2K'] as const;

/** Longest prompt we accept; Imagen reads about 480 tokens, and this leaves room for the edit modal. */
export const PROMPT_MAX_LENGTH = 2000;
export const NEGATIVE_PROMPT_MAX_LENGTH = 1000;
/** Seeds are kept to a signed 32-bit range, which every Imagen endpoint accepts. */
export const SEED_MAX = 2_147_483_647;

const commonInputs = {
  prompt: z
    .string()
    .trim()
    .min(1)
    .max(PROMPT_MAX_LENGTH)
    .describe('What you want to see'),
  negative_prompt: z
    .string()
    .trim()
    .max(NEGATIVE_PROMPT_MAX_LENGTH)
    .optional()
    .describe('What to keep out of the image'),
  aspect_ratio: z.enum(ASPECT_RATIOS).default('1:1').describe('Shape of the image (default 1:1)'),
  num_images: z.int().min(1).max(4).default(1).describe('How many images to make (1-4, default 1)'),
  seed: z.int().min(0).max(SEED_MAX).optional().describe('Same seed and prompt give the same image (random if empty)'),
};

const resolution = z.enum(RESOLUTIONS).default('1K').describe('Image size (default 1K)');

/** `fal-ai/imagen4/preview` and `.../ultra`: every option, resolution included. */
export const Imagen4Input = z.strictObject({ ...commonInputs, resolution });
/** `fal-ai/imagen4/preview/fast`: no resolution choice. */
export const Imagen4FastInput = z.strictObject(commonInputs);

/** What the model returns (https://fal.ai/models/fal-ai/imagen4/preview/api#schema-output). */
export const Imagen4Output = z.object({
  images: z
    .array(
      z.object({
        url: z.url(),
        content_type: z.string().optional(),
        file_name: z.string().optional(),
        file_size: z.number().optional(),
        width: z.number().optional(),
        height: z.number().optional(),
      }),
    )
    .min(1),
  seed: z.number().optional(),
});
export type Imagen4Output = z.output<typeof Imagen4Output>;
