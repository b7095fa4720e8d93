import type { OutputFormat } from './fields.js';
import type { GenerationInput } from './registry.js';

/** How much the destination accepts: the largest file, and the largest message (all its files together). */
export interface UploadBudget {
  readonly perFileBytes: number;
  readonly perRequestBytes: number;
}

/** Megapixels per resolution tier (Gemini and Imagen both size by the long side: 1K is about 1024x1024). */
const MEGAPIXELS: Readonly<Record<string, number>> = { '0.5K': 0.27, '1K': 1.05, '2K': 4.2, '4K': 16.8 };

/**
 * Bytes per pixel of a generated image, on the safe side: PNG of a detailed picture is 1.5-2 bytes a pixel;
 * fal's JPEG and WebP are about a quarter and a sixth of that.
 */
export const BYTES_PER_PIXEL: Readonly<Record<OutputFormat, number>> = { png: 2, jpeg: 0.5, webp: 0.3 };

/** The size one image is expected to have in a format (an estimate: the real size is known only after fal answers). */
export function estimatedImageBytes(input: Pick<GenerationInput, 'resolution'>, format: OutputFormat): number {
  const megapixels = MEGAPIXELS[input.resolution ?? '1K'] ?? MEGAPIXELS['1K'] ?? 1;
  return Math.ceil(megapixels * 1_000_000 * BYTES_PER_PIXEL[format]);
}

/**
 * The format to ask fal for, so the whole set fits one message of the destination: PNG (lossless) when it fits,
 * then JPEG (what every device opens), then WebP (the smallest). Re-encoding after the download stays the
 * fallback for an image larger than expected. Deterministic, so a resumed job asks for the same format.
 */
export function chooseOutputFormat(
  input: Pick<GenerationInput, 'resolution' | 'num_images'>,
  budget: UploadBudget | undefined,
): OutputFormat {
  if (!budget) return 'png';
  const fits = (format: OutputFormat) => {
    const one = estimatedImageBytes(input, format);
    return one <= budget.perFileBytes && one * input.num_images <= budget.perRequestBytes;
  };
  if (fits('png')) return 'png';
  if (fits('jpeg')) return 'jpeg';
  return 'webp';
}
