import { ValidationError, createFalClient } from '@fal-ai/client';
import type { FalClient } from '@fal-ai/client';
import { REST, Routes } from 'discord.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeDiscord } from './discord.js';
import { FakeFal } from './fal.js';
import { testPng } from './png.js';

/**
 * The two fakes together, as the per-image actions will use them: fal downloads the image a member acted on
 * from the fake Discord's CDN, and an expired attachment URL fails until it is refreshed through Discord.
 */
let discord: FakeDiscord;
let fake: FakeFal;
let fal: FalClient;
let rest: REST;

beforeEach(async () => {
  [discord, fake] = await Promise.all([FakeDiscord.start(), FakeFal.start()]);
  fal = createFalClient({
    credentials: fake.key,
    requestMiddleware: (req) =>
      Promise.resolve({ ...req, url: req.url.replace(/^https:\/\/(queue\.)?fal\.run(?=\/)/, fake.baseUrl) }),
  });
  rest = new REST({ api: discord.apiUrl }).setToken(discord.token);
});

afterEach(async () => {
  await Promise.all([discord.close(), fake.close()]);
  expect(discord.internalErrors).toEqual([]);
});

async function postResult(png: Buffer): Promise<string> {
  const message = (await rest.post(Routes.channelMessages(discord.channelId), {
    body: { attachments: [{ id: '0', filename: 'imagine_1.png' }] },
    files: [{ name: 'imagine_1.png', data: png, contentType: 'image/png' }],
  })) as { attachments: { url: string }[] };
  return message.attachments[0]!.url;
}

describe('FakeFal fetching from the fake Discord CDN', () => {
  it('runs an /edit on the attachment a member acted on: fal fetched exactly those bytes', async () => {
    const png = testPng(80, 40, { variant: 8 });
    const url = await postResult(png);
    const { data } = await fal.subscribe('fal-ai/nano-banana-2/edit', {
      input: { prompt: 'make the sky purple', image_urls: [url] },
      pollInterval: 5,
    });
    const [fetched] = fake.submissions[0]!.fetchedImages;
    expect(fetched?.url).toBe(url);
    expect(fetched?.bytes?.equals(png)).toBe(true);
    expect(discord.cdn.requests.map((r) => [r.url, r.status])).toEqual([[url, 200]]);
    expect([data.images[0]!.width, data.images[0]!.height]).toEqual([64, 32]);
  });

  it('fails a week-old URL with a file error, and works once Discord refreshed it', async () => {
    const png = testPng(32, 32, { variant: 9 });
    const url = await postResult(png);
    discord.cdn.advanceClock(7 * 24 * 60 * 60 * 1000);

    const error = await fal.queue
      .submit('fal-ai/esrgan', { input: { image_url: url, scale: 2 } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).fieldErrors.map((e) => e.type)).toEqual(['file_download_error']);
    expect(discord.cdn.requests.at(-1)).toMatchObject({ status: 404, problem: 'expired' });

    const { refreshed_urls } = (await rest.post('/attachments/refresh-urls', { body: { attachment_urls: [url] } })) as {
      refreshed_urls: { original: string; refreshed: string }[];
    };
    const { data } = await fal.subscribe('fal-ai/esrgan', {
      input: { image_url: refreshed_urls[0]!.refreshed, scale: 2 },
      pollInterval: 5,
    });
    expect(fake.submissions[0]!.fetchedImages[0]!.bytes!.equals(png)).toBe(true);
    expect([data.image.width, data.image.height]).toEqual([64, 64]);
  });
});
