import { ApplicationCommandOptionType as T, PermissionFlagsBits } from 'discord.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FakeUser, RecordedRequest } from '../fakes/discord.js';
import { newGeneration } from '../store/newGeneration.js';
import { contentOf, customIds, isCallback, isFinalEdit, isOriginalEdit, startWorld, type World } from './world.js';

const alice: FakeUser = { id: '200000000000000001', username: 'alice' };
const bob: FakeUser = { id: '200000000000000002', username: 'bob' };
const OTHER_GUILD = '500000000000000001';
const OTHER_CHANNEL = '500000000000000002';

let world: World;
beforeEach(async () => {
  world = await startWorld();
});
afterEach(async () => {
  expect(world.discord.invalidBodies).toEqual([]);
  expect(world.discord.internalErrors).toEqual([]);
  await world?.close();
});

/** A real /imagine, to its final message; `where` puts it in another server. */
async function imagine(prompt: string, user: FakeUser, options: { numImages?: number; otherServer?: boolean } = {}) {
  const interaction = world.discord.chatInput({
    name: 'imagine',
    options: [
      { name: 'prompt', type: T.String, value: prompt },
      ...(options.numImages ? [{ name: 'num_images', type: T.Integer, value: options.numImages }] : []),
    ],
    user,
    ...(options.otherServer && { guildId: OTHER_GUILD, channelId: OTHER_CHANNEL }),
  });
  world.discord.dispatchInteraction(interaction);
  const final = await world.discord.waitForRequest(isFinalEdit(interaction.token));
  // The row settles just after Discord has the result.
  await world.bot.generations.idle();
  const message = world.discord.originalMessage(interaction);
  if (!message) throw new Error('no result message');
  return { interaction, final, message };
}

/** A row saved straight into the store (for paging and states a real job would take long to reach). */
function seed(user: FakeUser, prompt: string, guildId: string = world.discord.guildId) {
  const row = newGeneration({
    modelId: 'nano-banana-pro',
    input: { prompt, aspect_ratio: '1:1', num_images: 1, seed: 7, resolution: '1K' },
    requesterId: user.id,
    guildId,
    channelId: world.discord.channelId,
    applicationId: world.discord.applicationId,
    createdAt: Date.now() - 60_000,
    costUsd: 0.15,
  });
  return world.bot.store.create(row);
}

function run(name: 'imagine-history' | 'imagine-show', user: FakeUser, job?: string, otherServer = false) {
  const interaction = world.discord.chatInput({
    name,
    user,
    ...(job !== undefined && { options: [{ name: 'job', type: T.String, value: job }] }),
    ...(otherServer && { guildId: OTHER_GUILD, channelId: OTHER_CHANNEL }),
  });
  world.discord.dispatchInteraction(interaction);
  return interaction;
}

/** The job numbers a history page lists, in order. */
function listedIds(body: unknown): number[] {
  return [...contentOf(body).matchAll(/^\*\*#(\d+)\*\*/gm)].map((match) => Number(match[1]));
}

function pageOf(request: RecordedRequest): unknown {
  return (request.body as { data?: unknown }).data;
}

function click(messageId: string, customId: string, user: FakeUser) {
  const interaction = world.discord.button({ customId, message: { id: messageId }, user });
  world.discord.dispatchInteraction(interaction);
  return interaction;
}

function buttons(body: unknown): Array<{ custom_id: string; disabled?: boolean }> {
  const rows = (body as { components?: { components?: { custom_id: string; disabled?: boolean }[] }[] }).components;
  return (rows ?? []).flatMap((row) => row.components ?? []);
}

describe('/imagine-history', () => {
  it('lists only the member’s own results on this server, newest first, with model, status, time and link', async () => {
    const first = await imagine('a red fox', alice);
    await imagine('a *bold* owl', alice);
    await imagine('bob’s own heron', bob);
    await imagine('a fox in another server', alice, { otherServer: true });
    const third = await imagine('a blue whale', alice);

    const interaction = run('imagine-history', alice);
    const answer = await world.discord.waitForRequest(isCallback(interaction.id));
    expect(answer.body).toMatchObject({ type: 4, data: { flags: 64 } });
    const page = pageOf(answer);
    expect(listedIds(page)).toEqual([5, 2, 1]);
    const content = contentOf(page);
    expect(content).toContain('**#5** a blue whale');
    expect(content).toContain('a \\*bold\\* owl');
    expect(content).not.toContain('heron');
    expect(content).not.toContain('another server');
    expect(content).toContain('Nano Banana 2 · ✅ 1 image · <t:');
    const link = (message: { id: string }) =>
      `https://discord.com/channels/${world.discord.guildId}/${world.discord.channelId}/${message.id}`;
    expect(content).toContain(link(first.message));
    expect(content).toContain(link(third.message));
    expect(buttons(page)).toEqual([]);

    // Another server's history is that server's alone.
    const elsewhere = run('imagine-history', alice, undefined, true);
    const other = await world.discord.waitForRequest(isCallback(elsewhere.id));
    expect(listedIds(pageOf(other))).toEqual([4]);
  });

  it('pages with Newer/Older, updating the same message, within 2000 characters; only its member may page it', async () => {
    const long = `**${'a very long prompt with [links](https://x.y) and _markdown_ '.repeat(40)}**`;
    for (let i = 1; i <= 11; i += 1) {
      const row = await seed(alice, `${i} ${long}`);
      if (i === 3) await world.bot.store.markFailed(row.id, 'failed', 'safety', Date.now());
      else if (i === 4) await world.bot.store.markFailed(row.id, 'cancelled', 'cancelled', Date.now());
      else if (i !== 11)
        await world.bot.store.markDone(row.id, `60000000000000000${i}`.slice(-18), 1, 0.15, Date.now());
    }
    await seed(bob, 'not alice’s');

    const interaction = run('imagine-history', alice);
    const answer = await world.discord.waitForRequest(isCallback(interaction.id));
    const page1 = pageOf(answer);
    expect(listedIds(page1)).toEqual([11, 10, 9, 8, 7, 6, 5, 4]);
    expect(contentOf(page1).length).toBeLessThanOrEqual(2000);
    expect(contentOf(page1)).toContain('Nano Banana Pro · ⏳ in progress');
    expect(contentOf(page1)).toContain('✖️ cancelled');
    expect(buttons(page1)).toEqual([
      expect.objectContaining({ custom_id: 'imagine-history:newer:11', disabled: true }),
      expect.objectContaining({ custom_id: 'imagine-history:older:4' }),
    ]);
    expect(buttons(page1)[1]?.disabled).not.toBe(true);
    const message = world.discord.originalMessage(interaction);
    if (!message) throw new Error('no history message');

    // The buttons hold everything they need: they work for a bot started since.
    await world.restart();
    const older = click(message.id, 'imagine-history:older:4', alice);
    const olderAnswer = await world.discord.waitForRequest(isCallback(older.id));
    expect(olderAnswer.body).toMatchObject({ type: 7 });
    const page2 = pageOf(olderAnswer);
    expect(listedIds(page2)).toEqual([3, 2, 1]);
    expect(contentOf(page2)).toContain('⚠️ failed: safety filter');
    expect(buttons(page2).map((b) => [b.custom_id, b.disabled === true])).toEqual([
      ['imagine-history:newer:3', false],
      ['imagine-history:older:1', true],
    ]);
    expect(listedIds(world.discord.messages.get(message.id))).toEqual([3, 2, 1]);

    const stranger = click(message.id, 'imagine-history:newer:3', bob);
    const refused = await world.discord.waitForRequest(isCallback(stranger.id));
    expect(refused.body).toMatchObject({
      type: 4,
      data: {
        flags: 64,
        content: expect.stringContaining('belongs to the member who ran /imagine-history') as unknown,
      },
    });

    const newer = click(message.id, 'imagine-history:newer:3', alice);
    const newerAnswer = await world.discord.waitForRequest(isCallback(newer.id));
    expect(listedIds(pageOf(newerAnswer))).toEqual([11, 10, 9, 8, 7, 6, 5, 4]);
  });

  it('says so when there is nothing yet', async () => {
    const interaction = run('imagine-history', bob);
    const answer = await world.discord.waitForRequest(isCallback(interaction.id));
    expect(answer.body).toMatchObject({
      type: 4,
      data: { flags: 64, content: 'You have no images on this server yet. Make some with /imagine.' },
    });
  });
});

describe('/imagine-show', () => {
  /** Runs /imagine-show and waits for the reply that carries the images. */
  async function show(job: string, user: FakeUser = bob) {
    const interaction = run('imagine-show', user, job);
    const callback = await world.discord.waitForRequest(isCallback(interaction.id));
    const shown = await world.discord.waitForRequest((r) => isOriginalEdit(interaction.token)(r) && r.status === 200);
    return { interaction, callback, shown };
  }

  async function refusal(job: string, user: FakeUser = alice): Promise<string> {
    const interaction = run('imagine-show', user, job);
    const answer = await world.discord.waitForRequest(isCallback(interaction.id));
    expect(answer.body).toMatchObject({ type: 4, data: { flags: 64 } });
    return contentOf(pageOf(answer));
  }

  it('posts a result again by number, #number and message link, with the same images and working buttons', async () => {
    const original = await imagine('a lighthouse at dusk', alice, { numImages: 2 });
    const submissions = world.fal.submissions.length;
    const link = `https://discord.com/channels/${world.discord.guildId}/${world.discord.channelId}/${original.message.id}`;

    for (const job of ['1', '#1', link, link.replace('https://', 'https://canary.')]) {
      const { callback, shown } = await show(job);
      expect(callback.body).toMatchObject({ type: 5 });
      expect((callback.body as { data?: { flags?: number } }).data?.flags ?? 0).toBe(0);
      expect(shown.files.map((f) => f.filename)).toEqual(['imagen-1-1.png', 'imagen-1-2.png']);
      expect(shown.files.map((f) => f.data)).toEqual(original.final.files.map((f) => f.data));
      // The same buttons as the original, the per-image ones included.
      expect(customIds(shown.body)).toEqual(customIds(original.final.body));
      expect(customIds(shown.body)).toContain('imagine:upscale:1:1');
      const content = contentOf(shown.body);
      expect(content).toContain('a lighthouse at dusk');
      expect(content).toContain(`<@${alice.id}>`);
      expect(content).toContain(`#1, shown again by <@${bob.id}> · original: ${link}`);
      expect(shown.body).toMatchObject({ allowed_mentions: { parse: [], users: [] } });
    }
    // Showing is not a generation: nothing sent to fal, no row saved.
    expect(world.fal.submissions).toHaveLength(submissions);
    expect(await world.bot.store.get(2)).toBeUndefined();

    // The buttons of a shown result work: Same seed starts a reroll of #1.
    const shownMessage = [...world.discord.messages.values()].find((m) => m.content.includes('shown again'));
    if (!shownMessage) throw new Error('no shown message');
    const reroll = click(shownMessage.id, 'imagine:same:1', bob);
    await world.discord.waitForRequest(isFinalEdit(reroll.token));
    expect(await world.bot.store.get(2)).toMatchObject({ parentId: 1, requesterId: bob.id });
  });

  it('fetches the message anew, so a result whose attachment URLs expired still shows', async () => {
    const original = await imagine('an old photo', alice);
    const storedUrl = world.discord.messages.get(original.message.id)?.attachments[0]?.url ?? '';
    world.discord.cdn.expireAttachmentUrls();
    expect(world.discord.cdn.check(storedUrl)).toEqual({ ok: false, problem: 'expired' });

    const { shown } = await show('#1');
    expect(shown.files.map((f) => f.data)).toEqual(original.final.files.map((f) => f.data));
    expect(
      world.discord.requests.some(
        (r) => r.method === 'GET' && r.path === `/channels/${world.discord.channelId}/messages/${original.message.id}`,
      ),
    ).toBe(true);
    const downloads = world.discord.cdn.requests.filter((r) => r.method === 'GET');
    expect(downloads.at(-1)).toMatchObject({ status: 200 });
    expect(downloads.some((r) => r.url === storedUrl)).toBe(false);
  });

  it('answers another server’s number or link exactly like an unknown one', async () => {
    const foreign = await imagine('a secret in another server', bob, { otherServer: true });
    const unknown = await refusal('999');
    expect(unknown).toBe('There is no result with that number or link on this server. /imagine-history lists yours.');
    expect(await refusal('1')).toBe(unknown);
    expect(await refusal(`https://discord.com/channels/${OTHER_GUILD}/${OTHER_CHANNEL}/${foreign.message.id}`)).toBe(
      unknown,
    );
    // A link rewritten to name this server does not get around it either.
    expect(
      await refusal(`https://discord.com/channels/${world.discord.guildId}/${OTHER_CHANNEL}/${foreign.message.id}`),
    ).toBe(unknown);
    expect(await refusal('a fox')).toContain('Give the number a result shows');
  });

  it('shows another member’s result only in the channel it was posted in, one’s own anywhere in the server', async () => {
    await imagine('posted in the main channel', alice);
    const elsewhere = '300000000000000077';
    world.discord.setChannel(elsewhere);
    const inOtherChannel = (user: FakeUser) => {
      const interaction = world.discord.chatInput({
        name: 'imagine-show',
        user,
        channelId: elsewhere,
        options: [{ name: 'job', type: T.String, value: '1' }],
      });
      world.discord.dispatchInteraction(interaction);
      return interaction;
    };
    // Bob may not be able to read the channel it was posted in: for him, elsewhere, it does not exist.
    const bobs = inOtherChannel(bob);
    const answer = await world.discord.waitForRequest(isCallback(bobs.id));
    expect(contentOf(pageOf(answer))).toBe(
      'There is no result with that number or link on this server. /imagine-history lists yours.',
    );
    const alices = inOtherChannel(alice);
    const shown = await world.discord.waitForRequest((r) => isOriginalEdit(alices.token)(r) && r.status === 200);
    expect(shown.files).toHaveLength(1);
  });

  it('answers an unexpected failure after its public “thinking…” privately, leaving nothing public', async () => {
    const original = await imagine('a lighthouse', alice);
    world.discord.failNext(
      (method, path) =>
        method === 'GET' && path === `/channels/${world.discord.channelId}/messages/${original.message.id}`,
      { status: 500 },
      10,
    );
    const interaction = run('imagine-show', alice, '1');
    const followup = await world.discord.waitForRequest(
      (r) => r.method === 'POST' && r.path.startsWith(`/webhooks/${world.discord.applicationId}/${interaction.token}`),
      20_000,
    );
    expect(followup.body).toMatchObject({ flags: 64, content: expect.stringContaining('try again') as unknown });
    expect(world.discord.requests.some((r) => isOriginalEdit(interaction.token)(r))).toBe(false);
    expect(world.logs.some((line) => line.includes('could not show a result again'))).toBe(true);
  });

  it('answers in plain words for a deleted result, a failed job and one still in progress', async () => {
    // Deleted in Discord, outside the bot: found out when the message is fetched.
    const gone = await imagine('deleted by a moderator', alice);
    world.discord.messages.delete(gone.message.id);
    const interaction = run('imagine-show', alice, '1');
    const followup = await world.discord.waitForRequest(
      (r) => r.method === 'POST' && r.path.startsWith(`/webhooks/${world.discord.applicationId}/${interaction.token}`),
    );
    expect(followup.body).toMatchObject({
      flags: 64,
      content: 'The message with the images of job #1 was deleted, so they cannot be shown again.',
    });
    expect(
      world.discord.requests.some(
        (r) => r.method === 'DELETE' && r.path.endsWith(`/${interaction.token}/messages/@original`),
      ),
    ).toBe(true);
    expect(world.discord.originalMessage(interaction)).toBeUndefined();
    // The bot forgets the message, so the history no longer links to it and a second try answers at once.
    expect((await world.bot.store.get(1))?.messageId).toBeNull();
    expect(await refusal('1')).toBe(
      'The message with the images of job #1 was deleted, so they cannot be shown again.',
    );

    // The bot may no longer read the channel where the result was posted.
    const hidden = await imagine('in a channel the bot lost', alice);
    world.discord.setChannel(world.discord.channelId, {
      guildId: world.discord.guildId,
      botPermissions: PermissionFlagsBits.ViewChannel | PermissionFlagsBits.SendMessages,
    });
    const noAccess = run('imagine-show', alice, '#2');
    const noAccessAnswer = await world.discord.waitForRequest(
      (r) => r.method === 'POST' && r.path.startsWith(`/webhooks/${world.discord.applicationId}/${noAccess.token}`),
    );
    expect(noAccessAnswer.body).toMatchObject({
      flags: 64,
      content: expect.stringContaining('Read Message History') as unknown,
    });
    expect((await world.bot.store.get(2))?.messageId).toBe(hidden.message.id);

    const failed = await seed(alice, 'refused');
    await world.bot.store.markFailed(failed.id, 'failed', 'safety', Date.now());
    expect(await refusal(`#${failed.id}`)).toBe(
      `Job #${failed.id} ended without images (failed: safety filter), so there is nothing to show.`,
    );
    const waiting = await seed(alice, 'still going');
    expect(await refusal(`#${waiting.id}`)).toBe(
      `Job #${waiting.id} is not finished yet; its images will appear where it was started.`,
    );
  });
});
