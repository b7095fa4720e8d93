import { z } from 'zod';
import { OutputImage, numImages, prompt, seed, serverFields } from './fields.js';

/**
 * Google's Gemini image models on fal, the successors of Imagen 4: Nano Banana 2 (Gemini 3.1 Flash Image,
 * `fal-ai/nano-banana-2`) and Nano Banana Pro (Gemini 3 Pro Image, `fal-ai/nano-banana-pro`). Written from fal's
 * model pages and @fal-ai/client's generated endpoint types; test/models/falTypes.test.ts checks them against those
 * types at compile time. They take no negative prompt, and their output echoes no seed (the bot picks and keeps it).
 *
 * Left out on purpose: `enable_web_search` and `thinking_level` cost extra per image, `system_prompt` and
 * `limit_generations` change what the prompt means; none of them is a member option.
 */

export const NANO_BANANA_2_ASPECT_RATIOS = [
  'auto', '21:9', '16:9', '3:2', '4:3', '5:4', '1:1', '4:5', '3:4', '2:3', '9:16', '4:1', '1:4', '8:1', '1:8',
] as const;
export const NANO_BANANA_PRO_ASPECT_RATIOS = [
  'auto', '21:9', '16:9', '3:2', '4:3', '5:4', '1:1', '4:5', '3:4', '2:3', '9:16',
] as const;
export const NANO_BANANA_2_RESOLUTIONS = ['0.5K', '1K', '2K', '4K'] as const;
export const NANO_BANANA_PRO_RESOLUTIONS = ['1K', '2K', '4K'] as const;

const resolutionText = 'Image size (default 1K; larger costs more)';

/** `fal-ai/nano-banana-2`: what a member may choose. fal's default aspect ratio is `auto` (the model decides). */
export const NanoBanana2Input = z.strictObject({
  prompt,
  aspect_ratio: z.enum(NANO_BANANA_2_ASPECT_RATIOS).default('auto').describe('Shape of the image'),
  num_images: numImages,
  seed,
  resolution: z.enum(NANO_BANANA_2_RESOLUTIONS).default('1K').describe(resolutionText),
});

/** `fal-ai/nano-banana-pro`: fal's default aspect ratio is 1:1; no 0.5K and none of the extreme ratios. */
export const NanoBananaProInput = z.strictObject({
  prompt,
  aspect_ratio: z.enum(NANO_BANANA_PRO_ASPECT_RATIOS).default('1:1').describe('Shape of the image'),
  num_images: numImages,
  seed,
  resolution: z.enum(NANO_BANANA_PRO_RESOLUTIONS).default('1K').describe(resolutionText),
});

export const NanoBanana2Request = NanoBanana2Input.extend(serverFields);
export const NanoBananaProRequest = NanoBananaProInput.extend(serverFields);

/** Both models return the images and a text description; no seed. */
export const NanoBananaOutput = z.object({ images: z.array(OutputImage).min(1), description: z.string().optional() });
