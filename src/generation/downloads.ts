import { errorContext, type LogContext, type Logger } from '../logger.js';
import type { OutputImageFile } from '../models/fields.js';
import { ImageDownloadError, downloadImage, imageFileName, type DownloadedImage } from './images.js';

export interface DownloadLimits {
  readonly timeoutMs: number;
  readonly maxBytes: number;
}

/**
 * Downloads every image of a result side by side, each retried once after a transient failure (a too-large
 * image will not shrink on a second try). Returns the images that arrived, in order; one that did not is logged
 * and left out, so a partial set can still be posted.
 */
export async function downloadResultImages(
  generationId: number,
  images: readonly OutputImageFile[],
  options: { limits: DownloadLimits; signal: AbortSignal; logger: Logger; context: LogContext },
): Promise<DownloadedImage[]> {
  const { limits, signal, logger, context } = options;
  const settled = await Promise.allSettled(
    images.map(async (image, index) => {
      signal.throwIfAborted();
      const download = () => downloadImage(image.url, { ...limits, signal });
      const { data, contentType } = await download().catch((error: unknown) => {
        if (error instanceof ImageDownloadError && error.reason === 'too_large') throw error;
        signal.throwIfAborted();
        return download();
      });
      return { index, data, contentType, fileName: imageFileName(generationId, index, contentType) };
    }),
  );
  signal.throwIfAborted();
  const downloaded: DownloadedImage[] = [];
  for (const [index, outcome] of settled.entries()) {
    if (outcome.status === 'fulfilled') downloaded.push(outcome.value);
    else logger.warn('image download failed', { ...context, index, ...errorContext(outcome.reason) });
  }
  return downloaded;
}
