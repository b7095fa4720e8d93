/**
 * Minimal, dependency-free PNG encoder (and structural checker) for test fakes.
 *
 * Produces real PNG files: 8-bit truecolour (colour type 2), no interlace, every scanline with
 * filter type 0, image data deflated with node:zlib, every chunk with its CRC-32.
 * See https://www.w3.org/TR/png-3/ for the format.
 */
import { randomBytes } from 'node:crypto';
import { deflateSync, inflateSync } from 'node:zlib';

/** An sRGB colour, each channel 0..255. */
export type Rgb = readonly [r: number, g: number, b: number];

/** The 8-byte PNG file signature. */
export const PNG_SIGNATURE: Buffer = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Largest side the encoder accepts; keeps a typo from allocating gigabytes. */
const MAX_SIDE = 16_384;
/** IDAT payloads are split into chunks of this size (any split is valid; this keeps chunks modest). */
const IDAT_CHUNK_BYTES = 1 << 20;

const CRC_TABLE: Uint32Array = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (ISO 3309 / ITU-T V.42, the one PNG uses) of `data`, continuing from `previous`. */
export function crc32(data: Uint8Array, previous = 0): number {
  let c = (previous ^ 0xffffffff) >>> 0;
  for (let i = 0; i < data.length; i++) c = CRC_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

function checkSize(width: number, height: number): void {
  for (const [name, v] of [
    ['width', width],
    ['height', height],
  ] as const) {
    if (!Number.isInteger(v) || v < 1 || v > MAX_SIDE) {
      throw new RangeError(`PNG ${name} must be an integer in 1..${MAX_SIDE}, got ${v}`);
    }
  }
}

/**
 * Encodes packed RGB samples (`width * height * 3` bytes, row-major) as a PNG.
 * `level` is the zlib level: 9 for flat images, low for noise (which does not compress anyway).
 */
export function encodeRgbPng(width: number, height: number, rgb: Uint8Array, level = 9): Buffer {
  checkSize(width, height);
  const stride = width * 3;
  if (rgb.length !== stride * height) {
    throw new RangeError(`expected ${stride * height} RGB bytes for ${width}x${height}, got ${rgb.length}`);
  }
  const raw = Buffer.alloc((stride + 1) * height); // each row: filter byte 0 + samples
  for (let y = 0; y < height; y++) raw.set(rgb.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  const compressed = deflateSync(raw, { level });

  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: truecolour
  ihdr[10] = 0; // compression: deflate
  ihdr[11] = 0; // filter method 0
  ihdr[12] = 0; // no interlace

  const parts: Buffer[] = [PNG_SIGNATURE, chunk('IHDR', ihdr)];
  for (let off = 0; off < compressed.length; off += IDAT_CHUNK_BYTES) {
    parts.push(chunk('IDAT', compressed.subarray(off, off + IDAT_CHUNK_BYTES)));
  }
  parts.push(chunk('IEND', new Uint8Array(0)));
  return Buffer.concat(parts);
}

/** Encodes a `width` x `height` PNG whose pixel at (x, y) is `pixel(x, y)`. */
export function encodePng(width: number, height: number, pixel: (x: number, y: number) => Rgb): Buffer {
  checkSize(width, height);
  const rgb = new Uint8Array(width * height * 3);
  let i = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const [r, g, b] = pixel(x, y);
      rgb[i++] = r;
      rgb[i++] = g;
      rgb[i++] = b;
    }
  }
  return encodeRgbPng(width, height, rgb);
}

/** A single-colour PNG: tiny on the wire whatever its size. */
export function solidPng(width: number, height: number, color: Rgb): Buffer {
  return encodePng(width, height, () => color);
}

/** Random pixels: a PNG about `width * height * 3` bytes long that no compressor can shrink. */
export function noisePng(width: number, height: number): Buffer {
  checkSize(width, height);
  return encodeRgbPng(width, height, randomBytes(width * height * 3), 1);
}

/** Colours of the solid test images, chosen by `variant` so images of one job differ. */
const PALETTE: readonly Rgb[] = [
  [66, 133, 244],
  [219, 68, 55],
  [244, 180, 0],
  [15, 157, 88],
];

const imageCache = new Map<string, Buffer>();

/**
 * A cached test image. Solid images take their colour from `variant` (index into a 4-colour
 * palette); noise images are generated once per size and shared, since large ones take a while.
 * Callers must not mutate the returned buffer.
 */
export function testPng(width: number, height: number, options: { noise?: boolean; variant?: number } = {}): Buffer {
  const noise = options.noise ?? false;
  const variant = noise ? 0 : (options.variant ?? 0) % PALETTE.length;
  const key = `${width}x${height}:${noise ? 'noise' : `solid${variant}`}`;
  let png = imageCache.get(key);
  if (png === undefined) {
    png = noise ? noisePng(width, height) : solidPng(width, height, PALETTE[variant]!);
    imageCache.set(key, png);
  }
  return png;
}

/** What {@link inspectPng} found in a file. */
export interface PngInfo {
  width: number;
  height: number;
  bitDepth: number;
  colorType: number;
  /** Chunk types in file order, e.g. ['IHDR', 'IDAT', 'IEND']. */
  chunks: string[];
}

const CHANNELS: Readonly<Record<number, number>> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/**
 * Checks that `data` is a structurally valid, non-interlaced PNG (signature, chunk CRCs, IHDR first,
 * IEND last, image data inflates to exactly the expected number of scanline bytes with valid filter
 * types) and returns its header. Throws an Error naming the first problem otherwise.
 */
export function inspectPng(data: Uint8Array): PngInfo {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buf.length < 8 || !buf.subarray(0, 8).equals(PNG_SIGNATURE)) throw new Error('not a PNG: bad signature');
  const chunks: string[] = [];
  const idat: Buffer[] = [];
  let header: Omit<PngInfo, 'chunks'> | undefined;
  let interlace = 0;
  let off = 8;
  for (;;) {
    if (off + 12 > buf.length) throw new Error(`truncated PNG at byte ${off}`);
    const length = buf.readUInt32BE(off);
    const type = buf.toString('latin1', off + 4, off + 8);
    if (off + 12 + length > buf.length) throw new Error(`chunk ${type} runs past the end of the file`);
    const body = buf.subarray(off + 8, off + 8 + length);
    const expectedCrc = buf.readUInt32BE(off + 8 + length);
    if (crc32(buf.subarray(off + 4, off + 8 + length)) !== expectedCrc) throw new Error(`bad CRC in chunk ${type}`);
    if (chunks.length === 0 && type !== 'IHDR') throw new Error(`first chunk is ${type}, not IHDR`);
    chunks.push(type);
    off += 12 + length;
    if (type === 'IHDR') {
      if (length !== 13) throw new Error('IHDR must be 13 bytes');
      header = { width: body.readUInt32BE(0), height: body.readUInt32BE(4), bitDepth: body[8]!, colorType: body[9]! };
      interlace = body[12]!;
    } else if (type === 'IDAT') {
      idat.push(body);
    } else if (type === 'IEND') {
      break;
    }
  }
  if (off !== buf.length) throw new Error(`${buf.length - off} bytes after IEND`);
  if (header === undefined) throw new Error('no IHDR');
  if (idat.length === 0) throw new Error('no IDAT');
  if (interlace !== 0) throw new Error('interlaced PNGs are not checked');
  const channels = CHANNELS[header.colorType];
  if (channels === undefined) throw new Error(`bad colour type ${header.colorType}`);
  const rowBytes = Math.ceil((header.width * channels * header.bitDepth) / 8);
  const pixels = inflateSync(Buffer.concat(idat));
  if (pixels.length !== (rowBytes + 1) * header.height) {
    throw new Error(`image data is ${pixels.length} bytes, expected ${(rowBytes + 1) * header.height}`);
  }
  for (let y = 0; y < header.height; y++) {
    const filter = pixels[y * (rowBytes + 1)]!;
    if (filter > 4) throw new Error(`bad filter type ${filter} on row ${y}`);
  }
  return { ...header, chunks };
}
