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
  'auto',
  '21:9',
  '16:9',
  '3:2',
  '4:3',
  '5:4',
  '1:1',
  '4:5',
  '3:4',
  '2:3',
  '9:16',
  '4:1',
  '1:4',
  '8:1',
  '1:8',
] as const;
export const NANO_BANANA_PRO_ASPECT_RATIOS = [
  'auto',
  '21:9',
  '16:9',
  '3:2',
  '4:3',
  '5:4',
  '1:1',
  '4:5',
  '3:4',
  '2:3',
  '9:16',
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

/**
 * The most images one /edit request carries: three reference images on /imagine, one image for Vary and Edit.
 * fal's types give no maximum (Gemini 3 reads more); three keeps a request's downloads and its price predictable.
 */
export const EDIT_MAX_IMAGES = 3;

/**
 * The images an /edit request works on: URLs fal must be able to fetch (a signed Discord attachment URL that has
 * not expired, fal's own CDN) or `data:` URIs carrying the bytes, which fal's File inputs accept
 * (https://docs.fal.ai/model-apis/model-endpoints#files).
 */
export const imageUrls = z
  .array(z.string().regex(/^(https?:\/\/|data:image\/)/, 'an http(s) URL or a data:image URI'))
  .min(1)
  .max(EDIT_MAX_IMAGES);

/**
 * An /edit endpoint's aspect ratio: the generate endpoint's choices, defaulting to `auto`, which is fal's default
 * on both /edit endpoints and keeps the input image's shape. (Nano Banana Pro's generate default, 1:1, would
 * square every edited image.)
 */
const editAspectRatioText = 'Shape of the image (default: that of the image)';

/**
 * `fal-ai/nano-banana-2/edit` and `fal-ai/nano-banana-pro/edit`: the generate endpoint's member input (the single
 * source of its fields) plus the images to edit or take as reference (`image_urls`, required by fal).
 */
export const NanoBanana2EditInput = NanoBanana2Input.extend({
  aspect_ratio: NanoBanana2Input.shape.aspect_ratio.unwrap().default('auto').describe(editAspectRatioText),
  image_urls: imageUrls,
});
export const NanoBananaProEditInput = NanoBananaProInput.extend({
  aspect_ratio: NanoBananaProInput.shape.aspect_ratio.unwrap().default('auto').describe(editAspectRatioText),
  image_urls: imageUrls,
});

export const NanoBanana2EditRequest = NanoBanana2EditInput.extend(serverFields);
export const NanoBananaProEditRequest = NanoBananaProEditInput.extend(serverFields);

/** The /edit endpoints answer like the generate ones (fal's types: `NanoBanana2EditOutput = NanoBananaOutput`). */
export const NanoBananaEditOutput = NanoBananaOutput;
