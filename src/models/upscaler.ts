import { z } from 'zod';
import { OutputImage } from './fields.js';
import { BYTES_PER_PIXEL, type UploadBudget } from './outputFormat.js';
import type { ModelPrice } from './registry.js';

/**
 * The upscaler behind the Upscale button: Real-ESRGAN on fal (`fal-ai/esrgan`,
 * https://fal.ai/models/fal-ai/esrgan/api), written from @fal-ai/client's generated `esrganInput` type;
 * test/models/falTypes.test.ts checks it against that type at compile time.
 *
 * Why ESRGAN and not Topaz (`fal-ai/topaz/upscale/image`, https://fal.ai/models/fal-ai/topaz/upscale/image):
 * - Price. ESRGAN is billed by GPU time, a fraction of a cent per image (about $0.002 for a 1K image in
 *   third-party listings); Topaz is billed per image by output size, about $0.08 up to 24 megapixels and twice
 *   that above (third-party listings of fal's price). Neither is in fal-queue.md: both are TO BE CHECKED on the
 *   model pages. At $0.08 an Upscale would cost as much as generating the image with Nano Banana 2, for a
 *   button members click freely; at $0.002 it is noise in a budget.
 * - Quality. Topaz is the better upscaler of real photographs (face recovery, denoise, compression repair, ten
 *   models). Our inputs are not camera photos but clean, noise-free Gemini renders at 1K-4K, which is where a
 *   GAN upscaler like Real-ESRGAN does well; its `face` option covers the portrait case.
 * - Shape. Both take one `image_url` and return `{image}`; a switch to Topaz later is a new request schema and
 *   a new {@link UPSCALER} entry, nothing in the pipeline.
 *
 * `tile` is left out (fal's default, no tiling, is right for images of our sizes).
 */

/** fal's Real-ESRGAN weights; x4plus (fal's default) is the general-purpose one, the anime ones suit drawings. */
export const ESRGAN_MODELS = [
  'RealESRGAN_x4plus',
  'RealESRGAN_x2plus',
  'RealESRGAN_x4plus_anime_6B',
  'RealESRGAN_x4_v3',
  'RealESRGAN_x4_wdn_v3',
  'RealESRGAN_x4_anime_v3',
] as const;

/** What `fal-ai/esrgan` can return: no WebP, unlike the image models. */
export const UPSCALE_OUTPUT_FORMATS = ['png', 'jpeg'] as const;
export type UpscaleOutputFormat = (typeof UPSCALE_OUTPUT_FORMATS)[number];

/** The factor the Upscale button asks for: a 1K result becomes 2K, a 2K one 4K. */
export const UPSCALE_FACTOR = 2;
/** The largest factor the bot sends; fal's type gives no bound (UNCONFIRMED what fal refuses). */
export const UPSCALE_FACTOR_MAX = 4;

/**
 * The body sent to `fal-ai/esrgan`. Nothing here is a member option: the image is the one acted on, the
 * factor and weights are the bot's, and `output_format` is chosen so the file fits the channel
 * ({@link chooseUpscaleOutputFormat}).
 */
export const EsrganRequest = z.strictObject({
  image_url: z.string().regex(/^(https?:\/\/|data:image\/)/, 'an http(s) URL or a data:image URI'),
  scale: z.number().min(1).max(UPSCALE_FACTOR_MAX).default(UPSCALE_FACTOR),
  model: z.enum(ESRGAN_MODELS).default('RealESRGAN_x4plus'),
  face: z.boolean().optional(),
  output_format: z.enum(UPSCALE_OUTPUT_FORMATS),
});

/** What an upscaler returns: one image (fal's `esrganOutput` and `TopazUpscaleImageOutput` are both `{image}`). */
export const UpscaleOutput = z.object({ image: OutputImage });

/** An upscaler the bot can run: where fal serves it, the body it takes, what it returns and costs. */
export interface Upscaler {
  /** Stable id, stored with every upscale generation and used in IMAGEN_PRICES. Never rename one. */
  readonly id: string;
  readonly label: string;
  /** fal endpoint id (https://fal.ai/models/<endpointId>). */
  readonly endpointId: string;
  readonly request: z.ZodObject<z.ZodRawShape, z.core.$strict>;
  readonly output: z.ZodType<{ image: z.output<typeof OutputImage> }>;
  readonly formats: readonly UpscaleOutputFormat[];
  /** Per upscaled image; operators may override it like a model's price. */
  readonly price: ModelPrice;
}

export const UPSCALER = {
  id: 'esrgan',
  label: 'Real-ESRGAN',
  endpointId: 'fal-ai/esrgan',
  request: EsrganRequest,
  output: UpscaleOutput,
  formats: UPSCALE_OUTPUT_FORMATS,
  // TO BE CHECKED on fal's page: fal bills ESRGAN by GPU time; about $0.002 for one 1K image in listings.
  price: { perImageUsd: 0.002 },
} as const satisfies Upscaler;

/** Width and height after upscaling by `factor` (rounded, as the upscaler's resize does). */
export function upscaledSize(
  source: { width: number; height: number },
  factor: number,
): { width: number; height: number } {
  return { width: Math.round(source.width * factor), height: Math.round(source.height * factor) };
}

/**
 * The format to ask the upscaler for so the one file fits the destination: PNG when its estimated size fits,
 * else JPEG (an upscaled 2K PNG of about 17 MB would not fit Discord's default 10 MiB). Deterministic, so a
 * resumed upscale asks for the same format; re-encoding after the download stays the fallback.
 */
export function chooseUpscaleOutputFormat(
  source: { width: number; height: number },
  factor: number,
  budget: UploadBudget | undefined,
): UpscaleOutputFormat {
  if (!budget) return 'png';
  const { width, height } = upscaledSize(source, factor);
  const limit = Math.min(budget.perFileBytes, budget.perRequestBytes);
  return width * height * BYTES_PER_PIXEL.png <= limit ? 'png' : 'jpeg';
}
