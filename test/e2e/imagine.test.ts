import { ApplicationCommandOptionType as T, PermissionFlagsBits } from 'discord.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import imagine from '../../commands/imagine.js';
import { inspectPng } from '../fakes/png.js';
import type { FakeUser } from '../fakes/discord.js';
import { contentOf, customIds, isCallback, isFinalEdit, isOriginalEdit, startWorld, type World } from './world.js';

const alice: FakeUser = { id: '200000000000000001', username: 'alice' };
const bob: FakeUser = { id: '200000000000000002', username: 'bob' };

let world: World;
beforeEach(async () => {
  world = await startWorld();
});
afterEach(async () => {
  await world?.close();
});

/** Sends /imagine and waits for its final message; returns the interaction and that final edit. */
async function imagineAndWait(
  options: Array<{ name: string; type: number; value: string | number | boolean }>,
  user: FakeUser = alice,
) {
  const interaction = world.discord.chatInput({ name: 'imagine', options, user });
  world.discord.dispatchInteraction(interaction);
  const final = await world.discord.waitForRequest(isFinalEdit(interaction.token));
  return { interaction, final };
}

/** The next status stream is refused, so the bot polls (one fake step per poll, at FAL_POLL_INTERVAL_MS). */
function refuseStatusStream() {
  world.fal.failNext((method, path) => method === 'GET' && path.endsWith('/status/stream'), { status: 405 });
}

function resultMessage(token: string) {
  const message = [...world.discord.messages.values()].find((m) => m.interactionToken === token);
  if (!message) throw new Error('no message for that interaction');
  return message;
}

function clickButton(token: string, action: string, user: FakeUser, extra: { memberPermissions?: string } = {}) {
  const message = resultMessage(token);
  const customId = customIds(message).find((id) => id.includes(`:${action}:`));
  if (!customId) throw new Error(`no ${action} button on the message`);
  const interaction = world.discord.button({ customId, message: { id: message.id }, user, ...extra });
  world.discord.dispatchInteraction(interaction);
  return interaction;
}

describe('command registration', () => {
  it('registers /imagine globally with the shape generated from the schemas, once', async () => {
    const names = world.discord.commands.global.map((command) => (command as { name: string }).name);
    expect(names.sort()).toEqual(['imagine', 'imagine-history', 'imagine-settings', 'imagine-show', 'imagine-usage']);
    expect(
      world.discord.commands.global.find((command) => (command as { name: string }).name === 'imagine'),
    ).toMatchObject({
      name: 'imagine',
      options: imagine
        .dataFor(world.config)
        .options.map((option) => expect.objectContaining({ name: option.name, type: option.type }) as unknown),
    });
    const puts = () => world.discord.requests.filter((r) => r.method === 'PUT' && r.path.endsWith('/commands'));
    expect(puts()).toHaveLength(1);
    await world.restart();
    expect(puts()).toHaveLength(1);
    expect(world.discord.invalidBodies).toEqual([]);
  });
});

describe('/imagine', () => {
  it('sends every option to fal and posts each image as an attachment with the four buttons', async () => {
    world.fal.enqueuePlan({ queuePositions: [2, 1, 0], progressPolls: 2, images: { width: 96, height: 54 } });
    const { interaction, final } = await imagineAndWait([
      { name: 'prompt', type: T.String, value: 'a **lighthouse** at dusk' },
      { name: 'aspect_ratio', type: T.String, value: '21:9' },
      { name: 'num_images', type: T.Integer, value: 3 },
      { name: 'seed', type: T.Integer, value: 42 },
      { name: 'resolution', type: T.String, value: '0.5K' },
      { name: 'model', type: T.String, value: 'nano-banana-2' },
    ]);
    const callback = await world.discord.waitForRequest(isCallback(interaction.id));
    expect(callback.body).toMatchObject({ type: 5 });

    const [submission] = world.fal.submissions;
    expect(submission?.endpointId).toBe('fal-ai/nano-banana-2');
    expect(submission?.input).toEqual({
      prompt: 'a **lighthouse** at dusk',
      aspect_ratio: '21:9',
      num_images: 3,
      seed: 42,
      resolution: '0.5K',
      // Not member options: the format that fits the channel, and the server's safety setting (fal's default 4).
      output_format: 'png',
      safety_tolerance: '4',
    });

    expect(final.files.map((f) => f.filename)).toEqual(['imagen-1-1.png', 'imagen-1-2.png', 'imagen-1-3.png']);
    for (const file of final.files) expect(inspectPng(file.data)).toMatchObject({ width: 96, height: 54 });
    const content = contentOf(final.body);
    expect(content).toContain('a \\*\\*lighthouse\\*\\* at dusk');
    expect(content).toContain('Seed `42`');
    expect(content).toContain('21:9 · 0.5K · Nano Banana 2');
    expect(content).toContain(`<@${alice.id}>`);
    expect(customIds(final.body)).toEqual([
      ...['imagine:same:1', 'imagine:new:1', 'imagine:edit:1', 'imagine:delete:1'],
      // One button per image and action (U1..U3, V1..V3, E1..E3), the image's index last.
      ...['upscale', 'vary', 'edit-image'].flatMap((action) =>
        [0, 1, 2].map((image) => `imagine:${action}:1:${image}`),
      ),
    ]);
    expect(content).toContain('job #1');
    expect(final.body).toMatchObject({ allowed_mentions: { parse: [] } });
    expect(world.discord.invalidBodies).toEqual([]);
  });

  it('picks a seed when none is given and shows it', async () => {
    const { final } = await imagineAndWait([{ name: 'prompt', type: T.String, value: 'a fox' }]);
    const seed = world.fal.submissions[0]?.input.seed;
    expect(Number.isInteger(seed)).toBe(true);
    expect(contentOf(final.body)).toContain(`Seed \`${String(seed)}\``);
    expect(world.fal.submissions[0]?.endpointId).toBe('fal-ai/nano-banana-2');
  });

  it('refuses a combination the model does not support before anything reaches fal', async () => {
    const interaction = world.discord.chatInput({
      name: 'imagine',
      options: [
        { name: 'prompt', type: T.String, value: 'x' },
        { name: 'resolution', type: T.String, value: '0.5K' },
        { name: 'model', type: T.String, value: 'nano-banana-pro' },
      ],
    });
    world.discord.dispatchInteraction(interaction);
    const callback = await world.discord.waitForRequest(isCallback(interaction.id));
    expect(callback.body).toMatchObject({
      type: 4,
      data: { flags: 64, content: 'Nano Banana Pro does not take that resolution: it takes 1K, 2K, 4K.' },
    });
    expect(world.fal.submissions).toHaveLength(0);
  });

  it('shows the queue position while waiting, and throttles progress edits to one per 2 s', async () => {
    world.fal.enqueuePlan({ queuePositions: Array.from({ length: 40 }, (_, i) => 40 - i), progressPolls: 10 });
    // Polled (the status stream refused), so the 50 changes take 50 polls of wall-clock time; a stream would
    // push them all at once and the job would end before the throttle had anything to hold back.
    refuseStatusStream();
    const { interaction } = await imagineAndWait([{ name: 'prompt', type: T.String, value: 'a fox' }]);
    const edits = world.discord.requests.filter(isOriginalEdit(interaction.token));
    // 50 status changes at fal, polled every 10 ms; the job ends well within one throttle window.
    expect(world.fal.submissions[0]?.statusPolls).toBeGreaterThanOrEqual(50);
    expect(edits.length).toBeLessThanOrEqual(3);
    expect(contentOf(edits[0]?.body)).toMatch(/Sending to fal|position/);
    for (let i = 2; i < edits.length; i += 1) expect(edits[i]!.at - edits[i - 1]!.at).toBeGreaterThanOrEqual(1900);
  });

  it('says it is fetching the images when that takes a while, then the result replaces it', async () => {
    world.fal.enqueuePlan({ holdImages: true });
    const interaction = world.discord.chatInput({
      name: 'imagine',
      options: [{ name: 'prompt', type: T.String, value: 'a fox' }],
      user: alice,
    });
    world.discord.dispatchInteraction(interaction);
    const submission = await world.fal.waitForSubmission(1);
    const fetching = await world.discord.waitForRequest(
      (r) => isOriginalEdit(interaction.token)(r) && contentOf(r.body).includes('Fetching the images'),
    );
    expect(fetching.files).toHaveLength(0);
    world.fal.releaseImages(submission.requestId);
    const final = await world.discord.waitForRequest(isFinalEdit(interaction.token));
    expect(final.files).toHaveLength(1);
    const edits = world.discord.requests.filter(isOriginalEdit(interaction.token));
    expect(edits.at(-1)).toBe(final);
    expect(edits.filter((r) => contentOf(r.body).includes('Fetching the images'))).toHaveLength(1);
  });

  it('does not announce fetching for images that arrive quickly, so the result does not wait behind that edit', async () => {
    // Generating for 450 polls (the status stream refused), 10 ms apart: the "Generating" edit goes out about 2 s after the first one, and
    // the job completes over 2 s after that, when the progress throttle would let a fetching edit through.
    world.fal.enqueuePlan({ progressPolls: 450 });
    refuseStatusStream();
    const { interaction, final } = await imagineAndWait([{ name: 'prompt', type: T.String, value: 'a fox' }]);
    expect(final.files).toHaveLength(1);
    const edits = world.discord.requests.filter(isOriginalEdit(interaction.token));
    expect(edits.map((r) => contentOf(r.body)).filter((content) => content.includes('Fetching the images'))).toEqual(
      [],
    );
  });

  it('names the queue position and lets the requester cancel', async () => {
    world.fal.enqueuePlan({ queuePositions: [3], hold: true });
    const interaction = world.discord.chatInput({
      name: 'imagine',
      options: [{ name: 'prompt', type: T.String, value: 'x' }],
      user: alice,
    });
    world.discord.dispatchInteraction(interaction);
    const progress = await world.discord.waitForRequest(
      (r) => isOriginalEdit(interaction.token)(r) && contentOf(r.body).includes("In fal's queue, position 3"),
    );
    expect(customIds(progress.body)).toEqual(['imagine:cancel:1']);

    const denied = clickButton(interaction.token, 'cancel', bob);
    const deniedAnswer = await world.discord.waitForRequest(isCallback(denied.id));
    expect(deniedAnswer.body).toMatchObject({
      type: 4,
      data: { flags: 64, content: expect.stringContaining('Only the member who started') as unknown },
    });

    clickButton(interaction.token, 'cancel', alice);
    const final = await world.discord.waitForRequest(isFinalEdit(interaction.token));
    expect(contentOf(final.body)).toContain(`Cancelled by <@${alice.id}>`);
    expect(world.fal.submissions[0]?.cancelled).toBe(true);
  });
});

describe('result buttons', () => {
  it('Same seed resubmits identical input in a new message that links back', async () => {
    const first = await imagineAndWait([
      { name: 'prompt', type: T.String, value: 'a fox' },
      { name: 'aspect_ratio', type: T.String, value: '3:4' },
    ]);
    const click = clickButton(first.interaction.token, 'same', bob);
    const final = await world.discord.waitForRequest(isFinalEdit(click.token));
    expect(world.fal.submissions[1]?.input).toEqual(world.fal.submissions[0]?.input);
    const original = resultMessage(first.interaction.token);
    expect(contentOf(final.body)).toContain(
      `Reroll of https://discord.com/channels/${world.discord.guildId}/${world.discord.channelId}/${original.id}`,
    );
    expect(contentOf(final.body)).toContain(`<@${bob.id}>`);
  });

  it('New seed changes only the seed', async () => {
    const first = await imagineAndWait([
      { name: 'prompt', type: T.String, value: 'a fox' },
      { name: 'seed', type: T.Integer, value: 5 },
    ]);
    const click = clickButton(first.interaction.token, 'new', alice);
    await world.discord.waitForRequest(isFinalEdit(click.token));
    const [a, b] = world.fal.submissions;
    expect(b?.input.seed).not.toBe(5);
    expect({ ...b?.input, seed: 5 }).toEqual(a?.input);
  });

  it('Edit opens a prefilled modal and starts a job from its values', async () => {
    const first = await imagineAndWait([
      { name: 'prompt', type: T.String, value: 'a fox' },
      { name: 'num_images', type: T.Integer, value: 2 },
    ]);
    const click = clickButton(first.interaction.token, 'edit', alice);
    const modal = await world.discord.waitForRequest(isCallback(click.id));
    expect(modal.body).toMatchObject({ type: 9, data: { custom_id: 'imagine:edit-submit:1' } });
    expect(JSON.stringify(modal.body)).toContain('"value":"a fox"');
    // Nano Banana 2 takes no negative prompt, so the form does not ask for one.
    expect(JSON.stringify(modal.body)).not.toContain('negative_prompt');

    const submit = world.discord.modalSubmit({
      customId: 'imagine:edit-submit:1',
      fields: { prompt: 'a fox in the rain' },
      user: alice,
      message: { id: resultMessage(first.interaction.token).id },
    });
    world.discord.dispatchInteraction(submit);
    await world.discord.waitForRequest(isFinalEdit(submit.token));
    const [a, b] = world.fal.submissions;
    expect(b?.input).toEqual({ ...a?.input, prompt: 'a fox in the rain' });
  });

  it('Delete obeys permissions: the requester and Manage Messages may, others may not', async () => {
    const first = await imagineAndWait([{ name: 'prompt', type: T.String, value: 'a fox' }]);
    const messageId = resultMessage(first.interaction.token).id;

    const denied = clickButton(first.interaction.token, 'delete', bob);
    const answer = await world.discord.waitForRequest(isCallback(denied.id));
    expect(answer.body).toMatchObject({
      type: 4,
      data: { flags: 64, content: expect.stringContaining('Manage Messages') as unknown },
    });
    expect(world.discord.messages.has(messageId)).toBe(true);

    const moderator = clickButton(first.interaction.token, 'delete', bob, {
      memberPermissions: String(PermissionFlagsBits.ViewChannel | PermissionFlagsBits.ManageMessages),
    });
    await world.discord.waitForRequest((r) => r.method === 'DELETE' && r.path.includes(moderator.token));
    expect(world.discord.messages.has(messageId)).toBe(false);
  });

  it('buttons keep working after a full restart on the same database', async () => {
    const first = await imagineAndWait([{ name: 'prompt', type: T.String, value: 'a fox' }]);
    await world.restart();
    const click = clickButton(first.interaction.token, 'same', alice);
    const final = await world.discord.waitForRequest(isFinalEdit(click.token));
    expect(final.files).toHaveLength(1);
    expect(world.fal.submissions[1]?.input).toEqual(world.fal.submissions[0]?.input);
  });

  it('refuses a custom_id that names another server’s generation', async () => {
    await imagineAndWait([{ name: 'prompt', type: T.String, value: 'a secret prompt' }]);
    const elsewhere = world.discord.button({
      customId: 'imagine:edit:1',
      message: { id: '300000000000000009' },
      user: bob,
      guildId: '900000000000000001',
      channelId: '900000000000000002',
    });
    world.discord.dispatchInteraction(elsewhere);
    const answer = await world.discord.waitForRequest(isCallback(elsewhere.id));
    expect(answer.body).toMatchObject({
      type: 4,
      data: { flags: 64, content: expect.stringMatching(/no longer/) as unknown },
    });
    expect(JSON.stringify(answer.body)).not.toContain('a secret prompt');
  });

  it('answers unknown, stale and tampered custom_ids in plain words', async () => {
    for (const customId of ['imagine:same:999', 'imagine:explode:1', 'other:thing', 'imagine:same:1;drop']) {
      const click = world.discord.button({ customId, message: { id: '300000000000000001' }, user: alice });
      world.discord.dispatchInteraction(click);
      const answer = await world.discord.waitForRequest(isCallback(click.id));
      expect(answer.body).toMatchObject({
        type: 4,
        data: { flags: 64, content: expect.stringMatching(/no longer/) as unknown },
      });
    }
  });
});
