import { ApplicationCommandOptionType as T, PermissionFlagsBits } from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { inspectPng } from '../fakes/png.js';
import type { RecordedRequest } from '../fakes/discord.js';
import { contentOf, isCallback, isFinalEdit, startWorld, waitForLog, type World } from './world.js';

/** Discord and fal faults and limits, injected through the loopback fakes. */
let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

const MIB = 1024 * 1024;

function imagine(
  w: World,
  options: Array<{ name: string; type: number; value: string | number }>,
  extra: { appPermissions?: string } = {},
) {
  const interaction = w.discord.chatInput({ name: 'imagine', options, ...extra });
  w.discord.dispatchInteraction(interaction);
  return interaction;
}

/**
 * Starts a job that fal holds, expires its interaction token, and returns a release: once released, the job
 * completes and its result has to go to the channel with the bot token.
 */
async function jobWithExpiredToken(w: World) {
  w.fal.enqueuePlan({ hold: true });
  const interaction = imagine(w, [{ name: 'prompt', type: T.String, value: 'a fox' }]);
  const submission = await w.fal.waitForSubmission(1);
  w.discord.expireToken(interaction.token);
  return { interaction, release: () => w.fal.release(submission.requestId) };
}

/**
 * Four images asked at 1K, for which the bot asks fal for PNG (about 2 MB each expected); the fake then serves
 * 2048x2048 noise PNGs of about 12 MB each: larger than expected, which is when re-encoding and splitting, the
 * fallbacks, have to step in.
 */
const fourImages = [
  { name: 'prompt', type: T.String, value: 'four big ones' },
  { name: 'num_images', type: T.Integer, value: 4 },
  { name: 'resolution', type: T.String, value: '1K' },
];

describe('Discord upload limits', () => {
  it('re-encodes 4 images that exceed the 10 MiB per-file limit, and every request fits', async () => {
    world = await startWorld();
    world.fal.enqueuePlan({ images: { width: 2048, height: 2048, noise: true } });
    const interaction = imagine(world, fourImages);
    await world.discord.waitForRequest(isFinalEdit(interaction.token), 60_000);
    expect(world.fal.submissions[0]?.input).toMatchObject({ output_format: 'png' });
    const uploads = world.discord.requests.filter((r) => r.files.length > 0);
    const files = uploads.flatMap((r) => r.files);
    expect(files).toHaveLength(4);
    for (const upload of uploads) {
      expect(upload.status).toBe(200);
      expect(upload.files.reduce((sum, f) => sum + f.data.length, 0)).toBeLessThanOrEqual(24 * MIB);
    }
    for (const file of files) {
      expect(file.filename).toMatch(/^imagen-1-[1-4]\.jpg$/);
      expect(file.data.length).toBeLessThanOrEqual(9 * MIB);
      expect(file.data.subarray(0, 3)).toEqual(Buffer.from([0xff, 0xd8, 0xff]));
    }
  });

  it('splits a set over the 25 MiB request cap across messages when no re-encoding is needed', async () => {
    world = await startWorld({}, { fileSizeLimit: 50 * MIB });
    world.fal.enqueuePlan({ images: { width: 2048, height: 2048, noise: true } });
    const interaction = imagine(world, fourImages);
    await waitForLog(world, 'generation delivered', 60_000);
    const followups = await world.discord.waitForRequest(
      (r) => r.method === 'POST' && r.path.includes(interaction.token) && r.files.length > 0,
    );
    const uploads = world.discord.requests.filter((r) => r.files.length > 0);
    expect(uploads.length).toBeGreaterThanOrEqual(2);
    expect(uploads.flatMap((r) => r.files).map((f) => f.filename)).toEqual([
      'imagen-1-1.png',
      'imagen-1-2.png',
      'imagen-1-3.png',
      'imagen-1-4.png',
    ]);
    for (const upload of uploads)
      expect(upload.files.reduce((sum, f) => sum + f.data.length, 0)).toBeLessThanOrEqual(24 * MIB);
    expect(inspectPng(followups.files[0]!.data).width).toBe(2048);
    expect(contentOf(followups.body)).toContain('Part 2 of');
  });
});

describe('Discord faults when posting the result', () => {
  it.each([
    ['a 500', { status: 500 }],
    ['a 429', { status: 429, retryAfter: 0.05 }],
  ])('retries the upload after %s with the same bytes, without posting twice', async (_name, failure) => {
    world = await startWorld();
    const interaction = imagine(world, [
      { name: 'prompt', type: T.String, value: 'a fox' },
      { name: 'num_images', type: T.Integer, value: 2 },
    ]);
    const isUpload = (method: string, path: string, request: RecordedRequest) =>
      method === 'PATCH' && path.includes(interaction.token) && request.files.length > 0;
    world.discord.failNext(isUpload, failure);
    const final = await world.discord.waitForRequest((r) => isFinalEdit(interaction.token)(r) && r.status === 200);
    const uploads = world.discord.requests.filter((r) => isUpload(r.method, r.path, r));
    expect(uploads.map((r) => r.status)).toEqual([failure.status, 200]);
    const [refused, accepted] = uploads.map((r) =>
      r.files.map((f) => [f.filename, f.contentType, f.data.toString('base64')]),
    );
    expect(accepted).toEqual(refused);
    expect(final.files).toHaveLength(2);
    const messages = [...world.discord.messages.values()].filter((m) => m.attachments.length > 0);
    expect(messages).toHaveLength(1);
  });

  it('checks the bot’s channel permissions before starting and names what is missing', async () => {
    world = await startWorld();
    const interaction = imagine(world, [{ name: 'prompt', type: T.String, value: 'a fox' }], {
      appPermissions: String(PermissionFlagsBits.ViewChannel | PermissionFlagsBits.SendMessages),
    });
    const answer = await world.discord.waitForRequest(isCallback(interaction.id));
    expect(answer.body).toMatchObject({
      type: 4,
      data: { flags: 64, content: expect.stringContaining('missing the Attach Files permission') as unknown },
    });
    expect(world.fal.submissions).toHaveLength(0);
  });

  describe.each([
    { kind: 'public', type: 11 },
    { kind: 'private', type: 12 },
  ])('in a $kind thread', ({ type }) => {
    const P = PermissionFlagsBits;
    function inThread(w: World, appPermissions: bigint) {
      const threadId = '800000000000000001';
      w.discord.setChannel(threadId, { type, parentId: w.discord.channelId, botPermissions: appPermissions });
      const interaction = w.discord.chatInput({
        name: 'imagine',
        channelId: threadId,
        appPermissions: String(appPermissions),
        options: [{ name: 'prompt', type: T.String, value: 'a fox in a thread' }],
      });
      w.discord.dispatchInteraction(interaction);
      return interaction;
    }

    it('checks Send Messages in Threads before starting', async () => {
      world = await startWorld();
      const interaction = inThread(world, P.ViewChannel | P.SendMessages | P.AttachFiles);
      const answer = await world.discord.waitForRequest(isCallback(interaction.id));
      expect(answer.body).toMatchObject({
        type: 4,
        data: {
          flags: 64,
          content: expect.stringContaining('missing the Send Messages in Threads permission') as unknown,
        },
      });
      expect(world.fal.submissions).toHaveLength(0);
    });

    it('needs no Send Messages there, and posts the result in the thread once the token expired', async () => {
      world = await startWorld();
      world.fal.enqueuePlan({ hold: true });
      const interaction = inThread(world, P.ViewChannel | P.SendMessagesInThreads | P.AttachFiles);
      expect((await world.discord.waitForRequest(isCallback(interaction.id))).body).toMatchObject({ type: 5 });
      const submission = await world.fal.waitForSubmission(1);
      expect((await world.bot.store.require(1)).inThread).toBe(true);
      world.discord.expireToken(interaction.token);
      world.fal.release(submission.requestId);
      const post = await world.discord.waitForRequest(
        (r) => r.method === 'POST' && r.path === `/channels/${String(interaction.channel_id)}/messages`,
      );
      expect(post.status).toBe(200);
      expect(post.files).toHaveLength(1);
    });
  });

  it('posts in the channel when the interaction token expired during the job', async () => {
    world = await startWorld();
    (await jobWithExpiredToken(world)).release();
    const post = await world.discord.waitForRequest(
      (r) => r.method === 'POST' && r.path.endsWith('/messages') && r.status === 200,
    );
    expect(post.files).toHaveLength(1);
    expect(contentOf(post.body)).toContain(`<@${world.discord.defaultUser.id}>`);
  });
});

describe('Discord rate limits', () => {
  it('a global rate limit on the bot token does not hold up interaction replies (Discord exempts them)', async () => {
    world = await startWorld();
    // Job A's token expires while fal holds it, so its result goes to the channel with the bot token; Discord
    // answers that post with a global 429, which makes discord.js hold every globally limited request.
    const expired = await jobWithExpiredToken(world);
    const isChannelPost = (r: RecordedRequest) =>
      r.method === 'POST' && r.path === `/channels/${String(expired.interaction.channel_id)}/messages`;
    world.discord.failNext((_method, _path, r) => isChannelPost(r), { status: 429, retryAfter: 5, global: true });
    expired.release();
    await world.discord.waitForRequest((r) => isChannelPost(r) && r.status === 429);

    // Job B, from another member, meanwhile: its progress and result edit its interaction reply.
    const other = { id: '200000000000000077', username: 'other' };
    const fresh = world.discord.chatInput({
      name: 'imagine',
      user: other,
      options: [{ name: 'prompt', type: T.String, value: 'a cat' }],
    });
    world.discord.dispatchInteraction(fresh);
    const final = await world.discord.waitForRequest(isFinalEdit(fresh.token));
    expect(final.files).toHaveLength(1);
    // ...and got there while A's channel post was still waiting out the global limit.
    expect(world.discord.requests.filter(isChannelPost).map((r) => r.status)).toEqual([429]);
    const retried = await world.discord.waitForRequest((r) => isChannelPost(r) && r.status === 200);
    expect(retried.files).toHaveLength(1);
  });
});

describe('fal faults', () => {
  it('recovers from a transient status error through the client’s retries', async () => {
    world = await startWorld();
    world.fal.enqueuePlan({ statusError: { status: 503, times: 1 } });
    const interaction = imagine(world, [{ name: 'prompt', type: T.String, value: 'a fox' }]);
    const final = await world.discord.waitForRequest(isFinalEdit(interaction.token));
    expect(final.files).toHaveLength(1);
  });

  it('retries an image download once', async () => {
    world = await startWorld();
    world.fal.failNext((method, path) => method === 'GET' && path.startsWith('/files/'), { status: 502 });
    const interaction = imagine(world, [{ name: 'prompt', type: T.String, value: 'a fox' }]);
    const final = await world.discord.waitForRequest(isFinalEdit(interaction.token));
    expect(final.files).toHaveLength(1);
    expect(world.fal.requests.filter((r) => r.path.startsWith('/files/'))).toHaveLength(2);
  });

  it('refuses an image over IMAGE_MAX_BYTES and says so', async () => {
    world = await startWorld({ IMAGE_MAX_BYTES: '2048' });
    world.fal.enqueuePlan({ images: { width: 64, height: 64, noise: true } });
    const interaction = imagine(world, [{ name: 'prompt', type: T.String, value: 'a fox' }]);
    const final = await world.discord.waitForRequest(isFinalEdit(interaction.token));
    expect(contentOf(final.body)).toContain('could not be downloaded from fal');
    expect(world.fal.requests.filter((r) => r.path.startsWith('/files/'))).toHaveLength(1);
  });
});
