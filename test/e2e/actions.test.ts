import { ApplicationCommandOptionType as T, PermissionFlagsBits } from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { utcDayStart } from '../../src/limits/admission.js';
import type { ChatInputOption, FakeUser, InteractionPayload } from '../fakes/discord.js';
import { UNSAFE_MARKER } from '../fakes/fal.js';
import { testPng } from '../fakes/png.js';
import { contentOf, customIds, isCallback, isFinalEdit, startWorld, type World } from './world.js';

/** Actions on every image (Upscale, Vary, Edit image) and reference images on /imagine, end to end. */
let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

const alice: FakeUser = { id: '200000000000000001', username: 'alice' };
const bob: FakeUser = { id: '200000000000000002', username: 'bob' };

function need(): World {
  if (!world) throw new Error('no world');
  return world;
}

async function imagine(options: ChatInputOption[], extra: { user?: FakeUser; attachments?: never[] } = {}) {
  const interaction = need().discord.chatInput({
    name: 'imagine',
    options,
    user: extra.user ?? alice,
    ...(extra.attachments && { attachments: extra.attachments }),
  });
  need().discord.dispatchInteraction(interaction);
  const final = await need().discord.waitForRequest(isFinalEdit(interaction.token));
  // The row (and where its images are) settles just after Discord has the result.
  await need().bot.generations.idle();
  return { interaction, final };
}

function resultMessage(token: string) {
  const message = [...need().discord.messages.values()].find((m) => m.interactionToken === token);
  if (!message) throw new Error('no message for that interaction');
  return message;
}

function click(token: string, customId: string, user: FakeUser = alice): InteractionPayload {
  const interaction = need().discord.button({ customId, message: { id: resultMessage(token).id }, user });
  need().discord.dispatchInteraction(interaction);
  return interaction;
}

async function ephemeral(interaction: InteractionPayload): Promise<string> {
  const answer = await need().discord.waitForRequest(isCallback(interaction.id));
  expect(answer.body).toMatchObject({ type: 4, data: { flags: 64 } });
  return (answer.body as { data: { content: string } }).data.content;
}

const prompt = (value: string): ChatInputOption => ({ name: 'prompt', type: T.String, value });
const usage = (w: World, user: FakeUser) => w.bot.store.usage(w.discord.guildId, user.id, utcDayStart(Date.now()));

describe('Upscale', () => {
  it('sends the very image the member picked to the upscaler, and posts the result as a new message that links back', async () => {
    world = await startWorld();
    world.fal.enqueuePlan({ images: { width: 96, height: 64 } });
    const first = await imagine([prompt('two foxes'), { name: 'num_images', type: T.Integer, value: 2 }]);
    const second = resultMessage(first.interaction.token).attachments[1];
    // A week later: the attachment URL the bot recorded has long expired.
    world.discord.cdn.advanceClock(7 * 24 * 60 * 60 * 1000);

    const upscale = click(first.interaction.token, 'imagine:upscale:1:1', bob);
    const final = await world.discord.waitForRequest(isFinalEdit(upscale.token));
    const submission = world.fal.submissions[1];
    expect(submission?.endpointId).toBe('fal-ai/esrgan');
    expect(submission?.input).toMatchObject({
      scale: 2,
      output_format: 'png',
      image_url: expect.stringContaining('/attachments/') as unknown,
    });
    // fal could fetch it (the URL was renewed through Discord), and it is exactly image 2 of the result.
    expect(submission?.fetchedImages).toHaveLength(1);
    expect(submission?.fetchedImages[0]?.status).toBe(200);
    expect(submission?.fetchedImages[0]?.bytes?.equals(second?.data ?? Buffer.alloc(0))).toBe(true);
    expect(world.discord.requests.some((r) => r.method === 'POST' && r.path === '/attachments/refresh-urls')).toBe(
      true,
    );

    expect(final.files).toHaveLength(1);
    const content = contentOf(final.body);
    expect(content).toContain('Upscaled ×2 · Real-ESRGAN · job #2');
    expect(content).toMatch(/Upscale of image 2 of https:\/\/discord\.com\/channels\//);
    expect(customIds(final.body)).toEqual(['imagine:delete:2']);
    // It counts as one image for the member who clicked, at the upscaler's price.
    expect(await world.bot.store.require(2)).toMatchObject({
      requesterId: bob.id,
      quotaImages: 1,
      costUsd: 0.002,
      action: 'upscale',
    });
    expect((await usage(world, bob)).memberImagesToday).toBe(1);
    expect(world.discord.invalidBodies).toEqual([]);
  });

  it('follows the server’s reroll setting for other members’ images', async () => {
    world = await startWorld();
    const first = await imagine([prompt('a fox')]);
    const admin = world.discord.chatInput({
      name: 'imagine-settings',
      options: [
        { name: 'rerolls', type: T.Subcommand, options: [{ name: 'who', type: T.String, value: 'requester' }] },
      ],
      user: alice,
      memberPermissions: String(PermissionFlagsBits.ManageGuild),
    });
    world.discord.dispatchInteraction(admin);
    await world.discord.waitForRequest(isCallback(admin.id));
    for (const button of ['imagine:upscale:1:0', 'imagine:vary:1:0', 'imagine:edit-image:1:0']) {
      expect(await ephemeral(click(first.interaction.token, button, bob)), button).toContain(
        'only the member who made these images',
      );
    }
    expect(world.fal.submissions).toHaveLength(1);
  });

  it('can be cancelled while it waits in the bot’s queue: nothing reaches fal, nothing is counted', async () => {
    world = await startWorld({ FAL_CONCURRENCY: '1' });
    const first = await imagine([prompt('a fox')]);
    world.fal.defaultPlan = { hold: true };
    const busy = world.discord.chatInput({ name: 'imagine', options: [prompt('holds the only slot')], user: bob });
    world.discord.dispatchInteraction(busy);
    await world.fal.waitForSubmission(2);
    const upscale = click(first.interaction.token, 'imagine:upscale:1:0');
    await world.discord.waitForRequest(
      (r) => r.method === 'PATCH' && r.path.includes(upscale.token) && contentOf(r.body).includes('position 1 in line'),
    );
    const cancel = world.discord.button({
      customId: 'imagine:cancel:3',
      message: { id: '300000000000000011' },
      user: alice,
    });
    world.discord.dispatchInteraction(cancel);
    const final = await world.discord.waitForRequest(isFinalEdit(upscale.token));
    expect(contentOf(final.body)).toContain('Cancelled by');
    expect(world.fal.submissions).toHaveLength(2);
    expect(await world.bot.store.require(3)).toMatchObject({
      status: 'cancelled',
      action: 'upscale',
      quotaImages: 0,
      costUsd: 0,
    });
  });

  it('is not offered on a 4K image, the largest size', async () => {
    world = await startWorld();
    const first = await imagine([prompt('a fox'), { name: 'resolution', type: T.String, value: '4K' }]);
    const ids = customIds(first.final.body);
    expect(ids).toContain('imagine:vary:1:0');
    expect(ids.some((id) => id.startsWith('imagine:upscale:'))).toBe(false);
  });

  it('refuses a button for an image the result does not have', async () => {
    world = await startWorld();
    await imagine([prompt('a fox')]);
    // Discord sends no click for a button a message lacks: only a tampered client could, on a message of its own.
    const forged = world.discord.button({
      customId: 'imagine:upscale:1:3',
      message: { id: '300000000000000009' },
      user: alice,
    });
    world.discord.dispatchInteraction(forged);
    expect(await ephemeral(forged)).toContain('no longer available');
    expect(world.fal.submissions).toHaveLength(1);
  });
});

describe('Vary and Edit image', () => {
  it('Vary makes one image of a four-image result, and costs one', async () => {
    world = await startWorld();
    const first = await imagine([prompt('four lighthouses'), { name: 'num_images', type: T.Integer, value: 4 }]);
    const vary = click(first.interaction.token, 'imagine:vary:1:2');
    const final = await world.discord.waitForRequest(isFinalEdit(vary.token));
    expect(world.fal.submissions[1]?.input).toMatchObject({ num_images: 1 });
    expect(final.files).toHaveLength(1);
    expect(await world.bot.store.require(2)).toMatchObject({ quotaImages: 1, costUsd: 0.08, action: 'vary' });
  });

  it('Vary runs the model’s /edit endpoint with that image and its prompt, at a new seed', async () => {
    world = await startWorld();
    const first = await imagine([
      prompt('a lighthouse'),
      { name: 'aspect_ratio', type: T.String, value: '16:9' },
      { name: 'seed', type: T.Integer, value: 5 },
    ]);
    const image = resultMessage(first.interaction.token).attachments[0];
    const vary = click(first.interaction.token, 'imagine:vary:1:0');
    const final = await world.discord.waitForRequest(isFinalEdit(vary.token));
    const submission = world.fal.submissions[1];
    expect(submission?.endpointId).toBe('fal-ai/nano-banana-2/edit');
    expect(submission?.input).toMatchObject({
      prompt: 'a lighthouse',
      aspect_ratio: '16:9',
      num_images: 1,
      resolution: '1K',
      output_format: 'png',
      safety_tolerance: '4',
    });
    expect(submission?.input['seed']).not.toBe(5);
    expect(submission?.input['image_urls']).toHaveLength(1);
    expect(submission?.fetchedImages[0]?.bytes?.equals(image?.data ?? Buffer.alloc(0))).toBe(true);
    expect(contentOf(final.body)).toMatch(/Variation of image 1 of https:\/\/discord\.com\/channels\//);
    expect(customIds(final.body)).toContain('imagine:vary:2:0');
  });

  it('Edit image asks what to change and applies the member’s words to that image, keeping its shape', async () => {
    world = await startWorld();
    const first = await imagine([prompt('a lighthouse'), { name: 'num_images', type: T.Integer, value: 2 }]);
    const second = resultMessage(first.interaction.token).attachments[1];
    const button = click(first.interaction.token, 'imagine:edit-image:1:1');
    const modal = await world.discord.waitForRequest(isCallback(button.id));
    expect(modal.body).toMatchObject({
      type: 9,
      data: { custom_id: 'imagine:edit-image-submit:1:1', title: 'Edit image 2' },
    });
    const submit = world.discord.modalSubmit({
      customId: 'imagine:edit-image-submit:1:1',
      fields: { instruction: 'make the sky purple' },
      user: alice,
      message: { id: resultMessage(first.interaction.token).id },
    });
    world.discord.dispatchInteraction(submit);
    const final = await world.discord.waitForRequest(isFinalEdit(submit.token));
    const submission = world.fal.submissions[1];
    expect(submission?.endpointId).toBe('fal-ai/nano-banana-2/edit');
    expect(submission?.input).toMatchObject({ prompt: 'make the sky purple', aspect_ratio: 'auto', num_images: 1 });
    expect(submission?.fetchedImages[0]?.bytes?.equals(second?.data ?? Buffer.alloc(0))).toBe(true);
    expect(contentOf(final.body)).toContain('✏️ **make the sky purple**');
    expect(contentOf(final.body)).toContain('Edit of image 2 of');
    expect(world.discord.invalidBodies).toEqual([]);
  });

  it('a safety refusal of an edit says so, and gives the images back', async () => {
    world = await startWorld({ USER_DAILY_IMAGES: '2' });
    const first = await imagine([prompt('a lighthouse')]);
    world.discord.dispatchInteraction(click(first.interaction.token, 'imagine:edit-image:1:0'));
    const submit = world.discord.modalSubmit({
      customId: 'imagine:edit-image-submit:1:0',
      fields: { instruction: `something ${UNSAFE_MARKER}` },
      user: alice,
      message: { id: resultMessage(first.interaction.token).id },
    });
    world.discord.dispatchInteraction(submit);
    const final = await world.discord.waitForRequest(isFinalEdit(submit.token));
    expect(contentOf(final.body)).toContain('safety filter refused this (the image, or the words asked of it)');
    expect((await usage(world, alice)).memberImagesToday).toBe(1);
  });

  it('Imagen 4 results offer Upscale only: its model edits no images', async () => {
    world = await startWorld({ IMAGEN_MODEL: 'imagen4' });
    const first = await imagine([prompt('a fox')]);
    expect(customIds(first.final.body)).toEqual([
      'imagine:same:1',
      'imagine:new:1',
      'imagine:edit:1',
      'imagine:delete:1',
      'imagine:upscale:1:0',
    ]);
    const forged = world.discord.button({
      customId: 'imagine:vary:1:0',
      message: { id: '300000000000000009' },
      user: alice,
    });
    world.discord.dispatchInteraction(forged);
    expect(await ephemeral(forged)).toContain('Imagen 4 cannot edit images');
  });
});

describe('when an image or an endpoint is gone', () => {
  it('a deleted result’s images cannot be acted on any more, not even through a result made from them', async () => {
    world = await startWorld();
    const first = await imagine([prompt('a lighthouse')]);
    const vary = click(first.interaction.token, 'imagine:vary:1:0');
    await world.discord.waitForRequest(isFinalEdit(vary.token));
    // Alice deletes the original; Same seed on the Vary would send its source image to fal again.
    const remove = click(first.interaction.token, 'imagine:delete:1');
    await world.discord.waitForRequest((r) => r.method === 'DELETE' && r.path.includes(remove.token));
    const again = click(vary.token, 'imagine:same:2');
    const final = await world.discord.waitForRequest(isFinalEdit(again.token));
    expect(contentOf(final.body)).toContain('could not be fetched or read');
    expect(world.fal.submissions).toHaveLength(2);
    expect(await world.bot.store.require(3)).toMatchObject({
      status: 'failed',
      failureKind: 'image_unavailable',
      quotaImages: 0,
      costUsd: 0,
    });
  });

  it('a retired upscaler says Upscale is unavailable, blames no model and offers no other', async () => {
    world = await startWorld();
    const first = await imagine([prompt('a lighthouse')]);
    world.fal.retire('fal-ai/esrgan');
    const upscale = click(first.interaction.token, 'imagine:upscale:1:0');
    const final = await world.discord.waitForRequest(isFinalEdit(upscale.token));
    expect(contentOf(final.body)).toContain('Upscale is not available right now');
    expect(contentOf(final.body)).not.toContain('Nano Banana 2 is no longer available');
    expect(customIds(final.body)).toEqual([]);
    expect(world.logs.some((line) => line.includes('fal no longer serves the upscaler'))).toBe(true);
  });

  it('a retired /edit endpoint says editing is unavailable, while /imagine still works', async () => {
    world = await startWorld();
    const first = await imagine([prompt('a lighthouse')]);
    world.fal.retire('fal-ai/nano-banana-2/edit');
    const vary = click(first.interaction.token, 'imagine:vary:1:0');
    const final = await world.discord.waitForRequest(isFinalEdit(vary.token));
    expect(contentOf(final.body)).toContain('Editing images with Nano Banana 2 is not available right now');
    expect(customIds(final.body)).toEqual([]);
  });

  it('a failed Upscale offers Try again only: it has no prompt to edit', async () => {
    world = await startWorld();
    const first = await imagine([prompt('a lighthouse')]);
    world.fal.enqueuePlan({ resultError: { status: 500, body: { detail: 'boom' } } });
    const upscale = click(first.interaction.token, 'imagine:upscale:1:0');
    const failed = await world.discord.waitForRequest(isFinalEdit(upscale.token), 30_000);
    expect(customIds(failed.body)).toEqual(['imagine:same:2']);
    const forged = world.discord.button({
      customId: 'imagine:edit:2',
      message: { id: '300000000000000009' },
      user: alice,
    });
    world.discord.dispatchInteraction(forged);
    expect(await ephemeral(forged)).toContain('no longer in the bot’s records');
    // Try again is an upscale of the same image, and its result still points at the original.
    const retry = world.discord.button({
      customId: 'imagine:same:2',
      message: { id: '300000000000000010' },
      user: alice,
    });
    world.discord.dispatchInteraction(retry);
    const final = await world.discord.waitForRequest(isFinalEdit(retry.token));
    expect(world.fal.submissions.at(-1)?.endpointId).toBe('fal-ai/esrgan');
    expect(contentOf(final.body)).toMatch(/Upscale of image 1 of https:\/\/discord\.com\/channels\//);
  });
});

describe('made-up custom_ids', () => {
  it('an action on a result from another channel needs a message that carries its button', async () => {
    world = await startWorld();
    await imagine([prompt('secret staff plan')]);
    world.discord.setChannel('300000000000000088');
    const elsewhere = world.discord.button({
      customId: 'imagine:upscale:1:0',
      message: { id: '300000000000000012' },
      user: bob,
      channelId: '300000000000000088',
    });
    world.discord.dispatchInteraction(elsewhere);
    expect(await ephemeral(elsewhere)).toContain('no longer in the bot’s records');
    expect(world.fal.submissions).toHaveLength(1);
  });
});

describe('reference images on /imagine', () => {
  it('runs on the /edit endpoint with the attached images, which fal fetches as the member sent them', async () => {
    world = await startWorld();
    const photo = testPng(80, 40, { variant: 7 });
    const file = world.discord.interactionAttachment({
      filename: 'cat.png',
      data: photo,
      contentType: 'image/png',
      width: 80,
      height: 40,
    });
    const { final } = await imagine(
      [prompt('this cat as a watercolor'), { name: 'image', type: T.Attachment, value: file.id }],
      { attachments: [file] as never[] },
    );
    const submission = world.fal.submissions[0];
    expect(submission?.endpointId).toBe('fal-ai/nano-banana-2/edit');
    expect(submission?.input).toMatchObject({
      prompt: 'this cat as a watercolor',
      aspect_ratio: 'auto',
      num_images: 1,
    });
    expect(submission?.fetchedImages[0]?.bytes?.equals(photo)).toBe(true);
    expect(final.files).toHaveLength(1);
    expect(contentOf(final.body)).toContain('1 reference image');
  });

  it('still runs when Discord cannot renew the URLs: a fresh attachment URL works as it is', async () => {
    world = await startWorld();
    const photo = testPng(32, 32, { variant: 3 });
    const file = world.discord.interactionAttachment({ filename: 'dog.png', data: photo, contentType: 'image/png' });
    world.discord.failNext(
      (method, path) => method === 'POST' && path === '/attachments/refresh-urls',
      { status: 500 },
      10,
    );
    const { final } = await imagine(
      [prompt('this dog, in space'), { name: 'image', type: T.Attachment, value: file.id }],
      {
        attachments: [file] as never[],
      },
    );
    expect(final.files).toHaveLength(1);
    expect(world.fal.submissions[0]?.fetchedImages[0]?.bytes?.equals(photo)).toBe(true);
    expect(world.logs.some((line) => line.includes('could not renew attachment URLs'))).toBe(true);
  });

  it.each([
    [
      'a model that takes no images',
      { model: 'imagen4', type: 'image/png', size: 100 },
      'Imagen 4 cannot start from images. Choose Nano Banana 2 or Nano Banana Pro',
    ],
    [
      'a file that is not an image',
      { model: 'nano-banana-2', type: 'text/plain', size: 100 },
      'Reference image 1 is not an image the model can read',
    ],
    [
      'a file that is too large',
      { model: 'nano-banana-2', type: 'image/png', size: 30 * 1024 * 1024 },
      'Reference image 1 is too large',
    ],
  ])('refuses %s before anything is sent or counted', async (_name, file, message) => {
    world = await startWorld({ IMAGEN_MODELS: 'nano-banana-2,nano-banana-pro,imagen4' });
    const attachment = {
      ...world.discord.interactionAttachment({
        filename: 'x.png',
        data: Buffer.from('not really'),
        contentType: file.type,
      }),
      size: file.size,
    };
    const interaction = world.discord.chatInput({
      name: 'imagine',
      options: [
        prompt('x'),
        { name: 'model', type: T.String, value: file.model },
        { name: 'image', type: T.Attachment, value: attachment.id },
      ],
      attachments: [attachment],
      user: alice,
    });
    world.discord.dispatchInteraction(interaction);
    expect(await ephemeral(interaction)).toContain(message);
    expect(world.fal.submissions).toHaveLength(0);
    expect(await world.bot.store.get(1)).toBeUndefined();
  });
});
