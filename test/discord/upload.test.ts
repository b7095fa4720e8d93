import { describe, expect, it } from 'vitest';
import { encodeMultipart } from '../../src/discord/upload.js';
import { testPng } from '../fakes/png.js';

/** Reads a body back with undici's standard multipart parser (the one the fake Discord uses). */
async function parse(body: Buffer, contentType: string): Promise<FormData> {
  return new Response(body, { headers: { 'content-type': contentType } }).formData();
}

describe('encodeMultipart', () => {
  it('writes payload_json then files[n] with their names, types and exact bytes', async () => {
    const png = testPng(8, 8, { noise: true });
    const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x0d, 0x0a, 0x2d, 0x2d, 0xff, 0xd9]); // CRLF and "--" inside
    const json = { content: 'a fox — “quoted”', attachments: [{ id: '0' }, { id: '1' }] };
    const { body, contentType } = encodeMultipart(json, [
      { name: 'imagen-1-1.png', data: png, contentType: 'image/png' },
      { name: 'imagen-1-2.jpg', data: jpeg, contentType: 'image/jpeg' },
    ]);
    expect(contentType).toMatch(/^multipart\/form-data; boundary=imagine-[0-9a-f]{32}$/);
    const form = await parse(body, contentType);
    expect([...form.keys()]).toEqual(['payload_json', 'files[0]', 'files[1]']);
    expect(JSON.parse(form.get('payload_json') as string)).toEqual(json);
    const files = [form.get('files[0]'), form.get('files[1]')] as File[];
    expect(files.map((f) => [f.name, f.type])).toEqual([
      ['imagen-1-1.png', 'image/png'],
      ['imagen-1-2.jpg', 'image/jpeg'],
    ]);
    expect(Buffer.from(await files[0]!.arrayBuffer()).equals(png)).toBe(true);
    expect(Buffer.from(await files[1]!.arrayBuffer()).equals(jpeg)).toBe(true);
  });

  it('uses a fresh boundary each time', () => {
    const a = encodeMultipart({}, []).contentType;
    const b = encodeMultipart({}, []).contentType;
    expect(a).not.toBe(b);
  });

  it('escapes a file name so it cannot break out of its header', async () => {
    const name = 'evil".png\r\nContent-Type: text/html';
    const { body, contentType } = encodeMultipart({}, [{ name, data: Buffer.from('x'), contentType: 'image/png' }]);
    expect(body.toString('latin1')).toContain('filename="evil%22.png%0D%0AContent-Type: text/html"');
    const form = await parse(body, contentType);
    const file = form.get('files[0]') as File;
    expect(file.type).toBe('image/png');
    expect(file.name).toBe(name);
  });
});
