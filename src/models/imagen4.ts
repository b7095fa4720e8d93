import { z } from 'zod';
import { OutputImage, negativePrompt, numImages, prompt, seed, serverFields } from './fields.js';

/**
 * Google's Imagen 4 on fal, one schema per endpoint, written from the model's published API page
 * (https://fal.ai/models/fal-ai/imagen4/preview/api). Google shut Imagen 4 down in 2026 (Vertex AI lists
 * imagen-4.0-generate-001 and its -fast/-ultra siblings as discontinued); the endpoints stay here, exactly as that
 * page describes them, for fal accounts that still reach them.
 *
 * `negative_prompt`: the API page takes it (default ""), but @fal-ai/client's generated types for these endpoints
 * (1.10.x) no longer list it. We follow the page, which is what fal served; test/models/falTypes.test.ts names this
 * as the one known difference.
 */

export const IMAGEN4_ASPECT_RATIOS = ['1:1', '16:9', '9:16', '3:4', '4:3'] as const;
export const IMAGEN4_RESOLUTIONS = ['1K', '2K'] as const;

const common = {
  prompt,
  negative_prompt: negativePrompt,
  aspect_ratio: z.enum(IMAGEN4_ASPECT_RATIOS).default('1:1').describe('Shape of the image'),
  num_images: numImages,
  seed,
};

/** `fal-ai/imagen4/preview` and `.../ultra`: what a member may choose. */
export const Imagen4Input = z.strictObject({
  ...common,
  resolution: z.enum(IMAGEN4_RESOLUTIONS).default('1K').describe('Image size (default 1K)'),
});
/** `fal-ai/imagen4/preview/fast`: no resolution choice. */
export const Imagen4FastInput = z.strictObject(common);

/** The bodies sent to fal: the member's choices plus what the server sets. */
export const Imagen4Request = Imagen4Input.extend(serverFields);
export const Imagen4FastRequest = Imagen4FastInput.extend(serverFields);

/** What the model returns: the images and the seed it used (https://fal.ai/models/fal-ai/imagen4/preview/api#schema-output). */
export const Imagen4Output = z.object({ images: z.array(OutputImage).min(1), seed: z.number().optional() });
