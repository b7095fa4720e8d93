import { Client, DiscordAPIError, Events, Routes, SlashCommandBuilder } from 'discord.js';
import type { ChatInputCommandInteraction, Interaction } from 'discord.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FakeDiscord } from './discord.js';
import type { InteractionPayload } from './discord.js';
import { ATTACHMENT_URL_LIFETIME_SECONDS, CDN_UNAVAILABLE_TEXT, REFRESH_URLS_MAX } from './discordCdn.js';
import { testPng } from './png.js';

let fake: FakeDiscord;
const clients: Client[] = [];

async function login(): Promise<Client> {
  const client = new Client({ intents: [], rest: { api: fake.apiUrl } });
  clients.push(client);
  await client.login(fake.token);
  await fake.waitForReady();
  return client;
}

function deliver<T extends Interaction = Interaction>(client: Client, payload: InteractionPayload): Promise<T> {
  const received = new Promise<T>((resolve) => {
    client.once(Events.InteractionCreate, (interaction) => resolve(interaction as T));
  });
  fake.dispatchInteraction(payload);
  return received;
}

/** Posts a message with one PNG through the bot token and returns the attachment URL Discord answered with. */
async function postImage(client: Client, png: Buffer): Promise<{ messageId: string; url: string }> {
  const message = (await client.rest.post(Routes.channelMessages(fake.channelId), {
    body: { attachments: [{ id: '0', filename: 'result 1.png' }] },
    files: [{ name: 'result 1.png', data: png, contentType: 'image/png' }],
  })) as { id: string; attachments: { url: string }[] };
  return { messageId: message.id, url: message.attachments[0]!.url };
}

async function download(url: string): Promise<{ status: number; bytes: Buffer; text: string }> {
  const response = await fetch(url);
  const bytes = Buffer.from(await response.arrayBuffer());
  return { status: response.status, bytes, text: bytes.toString('utf8') };
}

beforeEach(async () => {
  fake = await FakeDiscord.start();
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.destroy()));
  await fake.close();
  expect(fake.internalErrors).toEqual([]);
});

describe("FakeDiscord's CDN: signed attachment URLs", () => {
  it('gives every upload a signed URL on its own origin, serving the bytes until it expires', async () => {
    const client = await login();
    const png = testPng(20, 10, { variant: 5 });
    const { url } = await postImage(client, png);

    const parsed = new URL(url);
    expect(parsed.origin).toBe(new URL(fake.apiUrl).origin);
    expect(parsed.pathname).toMatch(new RegExp(`^/attachments/${fake.channelId}/\\d+/result%201\\.png$`));
    const ex = Number.parseInt(parsed.searchParams.get('ex') ?? '', 16);
    const is = Number.parseInt(parsed.searchParams.get('is') ?? '', 16);
    expect(ex - is).toBe(ATTACHMENT_URL_LIFETIME_SECONDS);
    expect(Math.abs(is - Date.now() / 1000)).toBeLessThan(5);
    expect(parsed.searchParams.get('hm')).toMatch(/^[0-9a-f]{64}$/);

    const fresh = await download(url);
    expect(fresh.status).toBe(200);
    expect(fresh.bytes.equals(png)).toBe(true);

    fake.cdn.expireAttachmentUrls();
    const expired = await download(url);
    expect([expired.status, expired.text]).toEqual([404, CDN_UNAVAILABLE_TEXT]);
    expect(fake.cdn.requests.map((r) => [r.status, r.problem])).toEqual([
      [200, undefined],
      [404, 'expired'],
    ]);
  });

  it('refuses unsigned and tampered URLs, and moves its clock only forward', async () => {
    const client = await login();
    const { url } = await postImage(client, testPng(4, 4));
    const unsigned = `${new URL(url).origin}${new URL(url).pathname}`;
    expect((await download(unsigned)).status).toBe(404);
    const later = new URL(url);
    later.searchParams.set('ex', (Number.parseInt(later.searchParams.get('ex')!, 16) + 3600).toString(16));
    expect((await download(later.toString())).status).toBe(404);
    expect(fake.cdn.requests.map((r) => r.problem)).toEqual(['unsigned', 'forged']);
    expect((await download(url.replace(/\/result%201\.png/, '/other.png'))).text).toBe('Not Found');

    fake.cdn.advanceClock((ATTACHMENT_URL_LIFETIME_SECONDS - 60) * 1000);
    expect((await download(url)).status).toBe(200);
    fake.cdn.advanceClock(61_000);
    expect((await download(url)).status).toBe(404);
    expect(() => fake.cdn.advanceClock(-1)).toThrow();
  });

  it('renews URLs through POST /attachments/refresh-urls with the bot token, as discord.js REST sends it', async () => {
    const client = await login();
    const png = testPng(12, 12, { variant: 6 });
    const { url } = await postImage(client, png);
    fake.cdn.expireAttachmentUrls();
    expect((await download(url)).status).toBe(404);

    const foreign = 'https://example.com/a.png';
    const answer = (await client.rest.post('/attachments/refresh-urls', {
      body: { attachment_urls: [url, foreign] },
    })) as {
      refreshed_urls: { original: string; refreshed: string }[];
    };
    expect(answer.refreshed_urls).toHaveLength(1);
    const [entry] = answer.refreshed_urls;
    expect(entry?.original).toBe(url);
    expect(entry?.refreshed).not.toBe(url);
    expect(new URL(entry!.refreshed).pathname).toBe(new URL(url).pathname);
    const renewed = await download(entry!.refreshed);
    expect(renewed.status).toBe(200);
    expect(renewed.bytes.equals(png)).toBe(true);
    const request = fake.requests.find((r) => r.path === '/attachments/refresh-urls');
    expect(request).toMatchObject({
      method: 'POST',
      status: 200,
      route: 'POST /attachments/refresh-urls',
      auth: `Bot ${fake.token}`,
    });
  });

  it('checks auth and the body of refresh-urls', async () => {
    const post = (body: unknown, auth = `Bot ${fake.token}`) =>
      fetch(`${fake.apiUrl}/v10/attachments/refresh-urls`, {
        method: 'POST',
        headers: { authorization: auth, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await post({ attachment_urls: [] }, 'Bot wrong')).status).toBe(401);
    expect(await (await post({ attachment_urls: [] })).json()).toEqual({ refreshed_urls: [] });
    for (const body of [
      {},
      { attachment_urls: 'x' },
      { attachment_urls: [1] },
      { attachment_urls: Array(REFRESH_URLS_MAX + 1).fill('x') },
    ]) {
      const response = await post(body);
      expect(response.status, JSON.stringify(body).slice(0, 40)).toBe(400);
      expect(await response.json()).toMatchObject({ code: 50035, errors: { attachment_urls: {} } });
    }
  });

  it('signs URLs afresh in every payload it sends, like a fetched message', async () => {
    const client = await login();
    const { messageId, url } = await postImage(client, testPng(4, 4));
    fake.cdn.expireAttachmentUrls();
    const message = (await client.rest.get(Routes.channelMessage(fake.channelId, messageId))) as {
      attachments: { url: string }[];
    };
    const again = message.attachments[0]!.url;
    expect(again).not.toBe(url);
    expect((await download(again)).status).toBe(200);
  });
});

describe('FakeDiscord attachment options', () => {
  it("puts the member's file on resolved.attachments, served from the CDN while its URL is valid", async () => {
    const client = await login();
    await client.application!.commands.set([
      new SlashCommandBuilder()
        .setName('imagine')
        .setDescription('Make an image')
        .addStringOption((o) => o.setName('prompt').setDescription('What').setRequired(true))
        .addAttachmentOption((o) => o.setName('image1').setDescription('A reference image'))
        .toJSON(),
    ]);
    const png = testPng(30, 20, { variant: 7 });
    const file = fake.interactionAttachment({
      filename: 'cat.png',
      data: png,
      contentType: 'image/png',
      width: 30,
      height: 20,
    });
    const interaction = await deliver<ChatInputCommandInteraction>(
      client,
      fake.chatInput({
        name: 'imagine',
        options: [
          { name: 'prompt', type: 3, value: 'like this' },
          { name: 'image1', type: 11, value: file.id },
        ],
        attachments: [file],
      }),
    );
    const attachment = interaction.options.getAttachment('image1');
    expect(attachment).toMatchObject({
      id: file.id,
      name: 'cat.png',
      size: png.length,
      contentType: 'image/png',
      width: 30,
      height: 20,
    });
    expect(attachment?.ephemeral).toBe(true);
    expect(new URL(attachment!.url).pathname).toBe(`/ephemeral-attachments/${fake.applicationId}/${file.id}/cat.png`);
    expect((await download(attachment!.url)).bytes.equals(png)).toBe(true);

    fake.cdn.expireAttachmentUrls();
    expect((await download(attachment!.url)).status).toBe(404);
    const answer = (await client.rest.post('/attachments/refresh-urls', {
      body: { attachment_urls: [attachment!.url] },
    })) as {
      refreshed_urls: { refreshed: string }[];
    };
    expect((await download(answer.refreshed_urls[0]!.refreshed)).bytes.equals(png)).toBe(true);
  });

  it('refuses an attachment option whose file is not resolved', () => {
    expect(() => fake.chatInput({ name: 'imagine', options: [{ name: 'image1', type: 11, value: '123' }] })).toThrow(
      /resolved\.attachments/,
    );
  });
});

it('leaves /api/v10/attachments/* to the API router (unknown there: 404), apart from the CDN paths', async () => {
  const client = await login();
  await expect(client.rest.get('/attachments/unknown')).rejects.toBeInstanceOf(DiscordAPIError);
});
