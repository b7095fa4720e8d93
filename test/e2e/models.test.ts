import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationCommandOptionType as T } from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { utcDayStart } from '../../src/limits/admission.js';
import SqliteDatabase from 'better-sqlite3';
import { migrateSqlite } from '../../src/store/database.js';
import type { ChatInputOption, FakeUser, InteractionPayload } from '../fakes/discord.js';
import { APPLICATION_NOT_FOUND } from '../fakes/fal.js';
import {
  TEST_ENGINE,
  contentOf,
  customIds,
  isCallback,
  isFinalEdit,
  sharedDatabase,
  startWorld,
  waitForLog,
  type World,
} from './world.js';

/** The model catalog end to end: what is registered, what each model takes, and what happens when one is gone. */
let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

const alice: FakeUser = { id: '200000000000000001', username: 'alice' };

function need(): World {
  if (!world) throw new Error('no world');
  return world;
}

function imagine(options: ChatInputOption[], user: FakeUser = alice): InteractionPayload {
  const interaction = need().discord.chatInput({ name: 'imagine', options, user });
  need().discord.dispatchInteraction(interaction);
  return interaction;
}

const prompt = (value: string): ChatInputOption => ({ name: 'prompt', type: T.String, value });
const option = (name: string, value: string | number): ChatInputOption => ({
  name,
  type: typeof value === 'number' ? T.Integer : T.String,
  value,
});

async function ephemeral(interaction: InteractionPayload): Promise<{ content: string; body: unknown }> {
  const answer = await need().discord.waitForRequest(isCallback(interaction.id));
  expect(answer.body).toMatchObject({ type: 4, data: { flags: 64 } });
  return {
    content: (answer.body as { data: { content: string } }).data.content,
    body: (answer.body as { data: unknown }).data,
  };
}

/** Clicks a button on the message an interaction's reply became (or on a given message). */
function click(customId: string, messageId: string, user: FakeUser = alice): InteractionPayload {
  const interaction = need().discord.button({ customId, message: { id: messageId }, user });
  need().discord.dispatchInteraction(interaction);
  return interaction;
}

function messageOf(reply: InteractionPayload): string {
  const message = [...need().discord.messages.values()].find((m) => m.interactionToken === reply.token);
  if (!message) throw new Error('no message for that interaction');
  return message.id;
}

function usageToday(w: World) {
  return w.bot.store.usage(w.discord.guildId, alice.id, utcDayStart(Date.now()));
}

type Registered = { name: string; options: { name: string; choices?: { value: string }[] }[] };
const registeredImagine = (w: World) =>
  w.discord.commands.global.find((c) => (c as Registered).name === 'imagine') as Registered;

describe('registered /imagine options', () => {
  it('a new install offers the Gemini models, with no negative prompt', async () => {
    world = await startWorld();
    const registered = registeredImagine(world);
    expect(registered.options.map((o) => o.name)).toEqual([
      'prompt',
      'aspect_ratio',
      'num_images',
      'seed',
      'resolution',
      'image',
      'image2',
      'image3',
      'model',
    ]);
    expect(registered.options.find((o) => o.name === 'model')?.choices?.map((c) => c.value)).toEqual([
      'nano-banana-2',
      'nano-banana-pro',
    ]);
    expect(registered.options.find((o) => o.name === 'resolution')?.choices?.map((c) => c.value)).toEqual([
      '0.5K',
      '1K',
      '2K',
      '4K',
    ]);
    expect(world.discord.invalidBodies).toEqual([]);
    expect(world.logs.some((line) => line.includes('shut Imagen 4 down'))).toBe(false);
  });

  it('an existing IMAGEN_MODEL=imagen4 keeps working, and start-up warns that Google shut it down', async () => {
    world = await startWorld({ IMAGEN_MODEL: 'imagen4' });
    const registered = registeredImagine(world);
    expect(registered.options.map((o) => o.name)).toContain('negative_prompt');
    expect(registered.options.find((o) => o.name === 'model')?.choices?.map((c) => c.value)).toEqual([
      'nano-banana-2',
      'nano-banana-pro',
      'imagen4',
    ]);
    const warning = JSON.parse(await waitForLog(world, 'IMAGEN_MODEL is imagen4')) as {
      level: string;
      message: string;
    };
    expect(warning.level).toBe('warn');
    expect(warning.message).toContain('Google shut Imagen 4 down');
    expect(warning.message).toContain('IMAGEN_MODEL=nano-banana-2');
    const reply = imagine([prompt('a fox'), option('negative_prompt', 'snow')]);
    await world.discord.waitForRequest(isFinalEdit(reply.token));
    expect(world.fal.submissions[0]).toMatchObject({
      endpointId: 'fal-ai/imagen4/preview',
      input: { prompt: 'a fox', negative_prompt: 'snow', aspect_ratio: '1:1', resolution: '1K', output_format: 'png' },
    });
  });
});

describe('each model refuses a value it does not take, before anything is sent or counted', () => {
  it.each([
    [
      'Imagen 4 at 21:9',
      [option('model', 'imagen4'), option('aspect_ratio', '21:9')],
      'Imagen 4 does not take that aspect ratio: it takes 1:1, 16:9, 9:16, 3:4, 4:3.',
    ],
    [
      'Nano Banana Pro at 0.5K',
      [option('model', 'nano-banana-pro'), option('resolution', '0.5K')],
      'Nano Banana Pro does not take that resolution: it takes 1K, 2K, 4K.',
    ],
    [
      'Nano Banana Pro at 8:1',
      [option('model', 'nano-banana-pro'), option('aspect_ratio', '8:1')],
      'Nano Banana Pro does not take that aspect ratio',
    ],
    [
      'a negative prompt for Nano Banana 2',
      [option('negative_prompt', 'people')],
      'Nano Banana 2 does not take a negative prompt. Choose Imagen 4 or Imagen 4 Fast, or leave negative prompt out.',
    ],
    [
      'a resolution for Imagen 4 Fast',
      [option('model', 'imagen4-fast'), option('resolution', '2K')],
      'Imagen 4 Fast does not take a resolution.',
    ],
  ])('%s', async (_name, options, message) => {
    world = await startWorld({ IMAGEN_MODELS: 'nano-banana-2,nano-banana-pro,imagen4,imagen4-fast' });
    const { content } = await ephemeral(imagine([prompt('a fox'), ...options]));
    expect(content).toContain(message);
    expect(world.fal.submissions).toHaveLength(0);
    expect(await world.bot.store.get(1)).toBeUndefined();
    expect(await usageToday(world)).toMatchObject({ memberImagesToday: 0, guildCostTodayUsd: 0 });
  });
});

describe('what fal receives and returns', () => {
  it("serves the Gemini models' output (no seed): the bot keeps the seed it chose and shows it", async () => {
    world = await startWorld();
    const reply = imagine([prompt('a fox'), option('model', 'nano-banana-pro'), option('seed', 77)]);
    const final = await world.discord.waitForRequest(isFinalEdit(reply.token));
    const result = world.fal.requests.find(
      (r) => r.method === 'GET' && /^\/fal-ai\/nano-banana-pro\/requests\/[^/]+$/.test(r.path),
    );
    expect(result?.status).toBe(200);
    expect(world.fal.submissions[0]?.input).toEqual({
      prompt: 'a fox',
      aspect_ratio: '1:1',
      num_images: 1,
      seed: 77,
      resolution: '1K',
      output_format: 'png',
      safety_tolerance: '4',
    });
    expect(contentOf(final.body)).toContain('Seed `77` · 1:1 · 1K · Nano Banana Pro');
  });

  it('asks fal for JPEG when PNGs would not fit the channel, so nothing has to be re-encoded', async () => {
    world = await startWorld();
    // 4 x 2K: about 8 MB a PNG, 34 MB the set, over one message's 24 MiB; as JPEG about 2 MB each.
    const reply = imagine([prompt('a fox'), option('num_images', 4), option('resolution', '2K')]);
    const final = await world.discord.waitForRequest(isFinalEdit(reply.token));
    expect(world.fal.submissions[0]?.input).toMatchObject({ output_format: 'jpeg' });
    expect(final.files.map((f) => f.filename)).toEqual([
      'imagen-1-1.jpg',
      'imagen-1-2.jpg',
      'imagen-1-3.jpg',
      'imagen-1-4.jpg',
    ]);
    for (const file of final.files) expect(file.data.subarray(0, 3)).toEqual(Buffer.from([0xff, 0xd8, 0xff]));
    expect(world.logs.some((line) => line.includes('re-encoded images'))).toBe(false);
  });

  it('asks for WebP when even JPEG would not fit, and takes what fal sends', async () => {
    // A 4 MiB channel (a server without boosts' old limit, or a DM): 4K JPEGs of about 8 MB would not fit.
    world = await startWorld({}, { fileSizeLimit: 4 * 1024 * 1024 });
    const reply = imagine([prompt('a fox'), option('resolution', '4K')]);
    const final = await world.discord.waitForRequest(isFinalEdit(reply.token));
    expect(world.fal.submissions[0]?.input).toMatchObject({ output_format: 'webp', resolution: '4K' });
    expect(final.files.map((f) => f.filename)).toEqual(['imagen-1-1.webp']);
    expect(final.files[0]?.data.toString('latin1', 8, 12)).toBe('WEBP');
  });

  it('prices each model and resolution: what /imagine-usage and the budgets count', async () => {
    world = await startWorld();
    const first = imagine([prompt('a fox'), option('num_images', 2), option('resolution', '4K')]);
    await world.discord.waitForRequest(isFinalEdit(first.token));
    const second = imagine([prompt('a fox'), option('model', 'nano-banana-pro'), option('resolution', '4K')]);
    await world.discord.waitForRequest(isFinalEdit(second.token));
    // Nano Banana 2: 2 x $0.08 x 2 (4K); Nano Banana Pro: $0.15 x 2 (4K).
    expect((await world.bot.store.get(1))?.costUsd).toBeCloseTo(0.32, 6);
    expect((await world.bot.store.get(2))?.costUsd).toBeCloseTo(0.3, 6);
    expect((await usageToday(world)).guildCostTodayUsd).toBeCloseTo(0.62, 6);
  });
});

describe('a model fal no longer serves', () => {
  it('tells the member in plain words, counts nothing, logs what fal said, and the next /imagine works', async () => {
    world = await startWorld({ IMAGEN_MODEL: 'imagen4', USER_DAILY_IMAGES: '1' });
    world.fal.retire('fal-ai/imagen4/preview');
    const reply = imagine([prompt('a lighthouse')]);
    const final = await world.discord.waitForRequest(isFinalEdit(reply.token));
    const content = contentOf(final.body);
    expect(content).toContain('Imagen 4 is no longer available, so nothing was made and nothing was counted.');
    expect(content).toContain('/imagine-settings');
    expect(content).not.toContain('fal no longer has this job');
    expect(content).not.toContain(APPLICATION_NOT_FOUND);
    expect(customIds(final.body)).toEqual(['imagine:default:1']);
    expect(await usageToday(world)).toMatchObject({ memberImagesToday: 0, memberActiveJobs: 0, guildCostTodayUsd: 0 });
    const log = JSON.parse(await waitForLog(world, 'fal no longer serves this model')) as Record<string, unknown>;
    expect(log).toMatchObject({ level: 'error', endpoint: 'fal-ai/imagen4/preview' });
    expect(String(log['detail'])).toContain(`fal 404`);
    expect(String(log['detail'])).toContain(APPLICATION_NOT_FOUND);

    // The member's one image a day is still there: the next /imagine, on a model fal serves, runs.
    const next = imagine([prompt('a lighthouse'), option('model', 'nano-banana-2')]);
    const done = await world.discord.waitForRequest(isFinalEdit(next.token));
    expect(done.files).toHaveLength(1);
  });

  it('a reroll of a stored Imagen 4 result says the same and offers the default model, which then runs it', async () => {
    world = await startWorld({ IMAGEN_MODELS: 'nano-banana-2,nano-banana-pro,imagen4' });
    const first = imagine([
      prompt('a red lighthouse'),
      option('model', 'imagen4'),
      option('negative_prompt', 'people'),
      option('aspect_ratio', '16:9'),
      option('seed', 9),
    ]);
    await world.discord.waitForRequest(isFinalEdit(first.token));
    world.fal.retire('fal-ai/imagen4/preview');

    const reroll = click('imagine:same:1', messageOf(first));
    const failed = await world.discord.waitForRequest(isFinalEdit(reroll.token));
    expect(contentOf(failed.body)).toContain('Imagen 4 is no longer available');
    expect(customIds(failed.body)).toEqual(['imagine:default:2']);
    expect(world.fal.submissions).toHaveLength(1);

    const retry = click('imagine:default:2', messageOf(reroll));
    const final = await world.discord.waitForRequest(isFinalEdit(retry.token));
    expect(final.files).toHaveLength(1);
    expect(world.fal.submissions[1]).toMatchObject({
      endpointId: 'fal-ai/nano-banana-2',
      input: { prompt: 'a red lighthouse', aspect_ratio: '16:9', seed: 9, num_images: 1, resolution: '1K' },
    });
    expect(world.fal.submissions[1]?.input).not.toHaveProperty('negative_prompt');
    expect(contentOf(final.body)).toContain('Nano Banana 2');
    expect(contentOf(final.body)).toContain('Reroll of');
  });

  it('when the operator stops offering a model, a reroll of its results offers the default model at once', async () => {
    const shared = await sharedDatabase();
    world = await startWorld({ IMAGEN_MODELS: 'nano-banana-2,imagen4-ultra', ...shared.env });
    const first = imagine([prompt('a fox'), option('model', 'imagen4-ultra'), option('resolution', '2K')]);
    await world.discord.waitForRequest(isFinalEdit(first.token));
    const messageId = messageOf(first);
    const place = { guildId: world.discord.guildId, channelId: world.discord.channelId };
    await world.close();
    // The same database under a configuration that no longer offers Imagen 4 Ultra.
    world = await startWorld(shared.env);

    const reroll = world.discord.button({
      customId: 'imagine:new:1',
      message: {
        id: messageId,
        components: [{ type: 1, components: [{ type: 2, style: 1, label: 'New seed', custom_id: 'imagine:new:1' }] }],
      },
      user: alice,
      ...place,
    });
    world.discord.dispatchInteraction(reroll);
    const answer = await ephemeral(reroll);
    expect(answer.content).toContain('Imagen 4 Ultra is no longer available on this bot');
    expect(JSON.stringify(answer.body)).toContain('imagine:default:1');
    expect(world.fal.submissions).toHaveLength(0);

    const retry = world.discord.button({
      customId: 'imagine:default:1',
      message: { id: '300000000000000777', components: (answer.body as { components: never[] }).components },
      user: alice,
      ...place,
    });
    world.discord.dispatchInteraction(retry);
    const final = await world.discord.waitForRequest(isFinalEdit(retry.token));
    expect(final.files).toHaveLength(1);
    expect(world.fal.submissions[0]).toMatchObject({
      endpointId: 'fal-ai/nano-banana-2',
      input: { prompt: 'a fox', resolution: '2K' },
    });
    await world.close();
    world = undefined;
    await shared.drop();
  });
});

// An old SQLite file, as earlier versions left it; PostgreSQL databases were born with today's schema.
describe.skipIf(TEST_ENGINE === 'postgres')('a database from before the Gemini models', () => {
  it('opens, renders and rerolls an Imagen 4 result stored in the old input shape', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'imagen-bot-old-'));
    const databasePath = join(dir, 'imagine.sqlite');
    const place = { guildId: '600000000000000001', channelId: '600000000000000002' };
    // The row exactly as the Imagen-only bot (schema version 3) wrote it: its input carries the server's
    // safety_tolerance, and there is no output_format.
    const db = new SqliteDatabase(databasePath);
    migrateSqlite(db, 3);
    db.prepare(
      `INSERT INTO generations (status, model_id, input_json, requester_id, guild_id, channel_id, application_id,
         interaction_token, token_expires_at, parent_id, fal_request_id, message_id, image_count, created_at,
         submitted_at, finished_at, app_permissions, attachment_size_limit, in_thread, dispatched_at, quota_images, cost_usd)
       VALUES ('done', 'imagen4', ?, ?, ?, ?, '100000000000000001', NULL, NULL, NULL, 'old-request', '300000000000000500',
         1, ?, ?, ?, '3072', 10485760, 0, ?, 1, 0.04)`,
    ).run(
      JSON.stringify({
        prompt: 'an old lighthouse',
        negative_prompt: 'fog',
        aspect_ratio: '4:3',
        num_images: 1,
        seed: 31,
        resolution: '2K',
        safety_tolerance: '2',
      }),
      alice.id,
      place.guildId,
      place.channelId,
      Date.now() - 86_400_000,
      Date.now() - 86_400_000,
      Date.now() - 86_390_000,
      Date.now() - 86_400_000,
    );
    db.close();

    world = await startWorld({ DATABASE_PATH: databasePath, IMAGEN_MODEL: 'imagen4' });
    const reroll = world.discord.button({
      customId: 'imagine:same:1',
      message: { id: '300000000000000500' },
      user: alice,
      ...place,
    });
    world.discord.dispatchInteraction(reroll);
    const final = await world.discord.waitForRequest(isFinalEdit(reroll.token));
    expect(final.files).toHaveLength(1);
    expect(world.fal.submissions[0]).toMatchObject({
      endpointId: 'fal-ai/imagen4/preview',
      input: {
        prompt: 'an old lighthouse',
        negative_prompt: 'fog',
        aspect_ratio: '4:3',
        seed: 31,
        resolution: '2K',
        // The server's current setting, not the one stored with the old row.
        safety_tolerance: '4',
      },
    });
    expect(contentOf(final.body)).toContain('Seed `31` · 4:3 · 2K · Imagen 4');
    await world.close();
    world = undefined;
    rmSync(dir, { recursive: true, force: true });
  });
});
