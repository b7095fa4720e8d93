import { describe, expect, it } from 'vitest';
import { imageFileName, imageType } from '../../src/generation/images.js';
import { testPng } from '../fakes/png.js';

describe('imageType', () => {
  const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 0x4a, 0x46, 0x49, 0x46]);
  const webp = Buffer.concat([Buffer.from('RIFF'), Buffer.from([0x24, 0, 0, 0]), Buffer.from('WEBPVP8 ')]);

  it('goes by the bytes, whatever the server declared', () => {
    expect(imageType(testPng(4, 4), 'application/octet-stream')).toBe('image/png');
    expect(imageType(jpeg, 'image/png')).toBe('image/jpeg');
    expect(imageType(webp, undefined)).toBe('image/webp');
  });

  it('falls back to a declared image type it knows, then to PNG, so the file name always matches', () => {
    const unknown = Buffer.from('not an image signature');
    expect(imageType(unknown, 'image/webp')).toBe('image/webp');
    expect(imageType(unknown, 'application/octet-stream')).toBe('image/png');
    expect(imageType(unknown, 'toString')).toBe('image/png');
    expect(imageType(Buffer.alloc(0), undefined)).toBe('image/png');
    expect(imageFileName(7, 0, imageType(jpeg, 'application/octet-stream'))).toBe('imagen-7-1.jpg');
  });
});
