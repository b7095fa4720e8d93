import type { DownloadedImage } from '../generation/images.js';

const MIB = 1024 * 1024;

/** Discord's upload limits for one delivery. */
export interface UploadLimits {
  /** Largest single file. */
  readonly perFileBytes: number;
  /** Largest request (all files of one message together). */
  readonly perRequestBytes: number;
  /** Attachments per message (30015 beyond it). */
  readonly filesPerMessage: number;
}

/**
 * Limits for a channel, from the interaction's `attachment_size_limit` (10 MiB when unknown). Discord has reported
 * wrong values (discord-api-docs#7603), so 10% is kept in reserve; requests stay under the documented 25 MiB
 * cap with room for the JSON part of the multipart body.
 */
export function uploadLimits(attachmentSizeLimit: number | null): UploadLimits {
  const reported = attachmentSizeLimit && attachmentSizeLimit > 0 ? attachmentSizeLimit : 10 * MIB;
  const perRequestBytes = 24 * MIB;
  return {
    perFileBytes: Math.min(Math.floor(reported * 0.9), perRequestBytes),
    perRequestBytes,
    filesPerMessage: 10,
  };
}

export interface FittedImages {
  /** One entry per message; each within the per-request and per-message limits. */
  readonly messages: DownloadedImage[][];
  /** How many images had to be re-encoded. */
  readonly reencoded: number;
}

/** JPEG qualities tried in turn; 90 looks lossless for generated images at a fraction of the PNG size. */
const QUALITIES = [90, 82, 72];

/**
 * Makes a set of images uploadable: an image over the per-file limit is re-encoded as high-quality JPEG
 * (and, only if that is not enough, scaled down), then the set is split across as many messages as the
 * per-request limit needs. Images that already fit are passed through untouched (no copy of their bytes).
 */
export async function fitForDiscord(images: readonly DownloadedImage[], limits: UploadLimits): Promise<FittedImages> {
  // libvips works off the event loop on its own threads, so the images are re-encoded side by side.
  const reencoded = images.filter((image) => image.data.byteLength > limits.perFileBytes).length;
  const fitted = await Promise.all(
    images.map(async (image) =>
      image.data.byteLength <= limits.perFileBytes ? image : shrink(image, limits.perFileBytes),
    ),
  );
  const messages: DownloadedImage[][] = [];
  let current: DownloadedImage[] = [];
  let size = 0;
  for (const image of fitted) {
    if (
      current.length > 0 &&
      (size + image.data.byteLength > limits.perRequestBytes || current.length >= limits.filesPerMessage)
    ) {
      messages.push(current);
      current = [];
      size = 0;
    }
    current.push(image);
    size += image.data.byteLength;
  }
  if (current.length > 0) messages.push(current);
  return { messages, reencoded };
}

async function shrink(image: DownloadedImage, maxBytes: number): Promise<DownloadedImage> {
  // Loaded on first use: most results never need re-encoding, and libvips costs memory from the moment it loads.
  const { default: sharp } = await import('sharp');
  const metadata = await sharp(image.data).metadata();
  let width = metadata.width;
  for (let attempt = 0; attempt < 6; attempt += 1) {
    for (const quality of QUALITIES) {
      const data = await sharp(image.data)
        .resize({ width, withoutEnlargement: true })
        .flatten({ background: '#ffffff' })
        .jpeg({ quality })
        .toBuffer();
      if (data.byteLength <= maxBytes) {
        return { ...image, data, contentType: 'image/jpeg', fileName: image.fileName.replace(/\.\w+$/, '.jpg') };
      }
    }
    width = Math.max(64, Math.floor(width * 0.75));
  }
  throw new Error(`image ${image.fileName} cannot be made smaller than ${maxBytes} bytes`);
}
