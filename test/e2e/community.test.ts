import { ApplicationCommandOptionType as T, PermissionFlagsBits } from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import settingsCommand from '../../commands/imagine-settings.js';
import type { ChatInputOption, FakeUser, InteractionPayload, RecordedRequest } from '../fakes/discord.js';
import {
  contentOf,
  customIds,
  isCallback,
  isFinalEdit,
  isOriginalEdit,
  startWorld,
  waitForLog,
  type World,
} from './world.js';

/** Community servers: the bot's fair queue, limits and caps, admin settings and usage, end to end. */
let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

const alice: FakeUser = { id: '200000000000000001', username: 'alice' };
const bob: FakeUser = { id: '200000000000000002', username: 'bob' };
const carol: FakeUser = { id: '200000000000000003', username: 'carol' };
const ADMIN = String(
  PermissionFlagsBits.ViewChannel | PermissionFlagsBits.SendMessages | PermissionFlagsBits.ManageGuild,
);
const OTHER_GUILD = '500000000000000001';
const OTHER_CHANNEL = '500000000000000002';

function need(): World {
  if (!world) throw new Error('no world');
  return world;
}

function imagine(
  prompt: string,
  extra: { user?: FakeUser; guildId?: string; channelId?: string; roles?: string[]; num?: number; model?: string } = {},
) {
  const w = need();
  const options: ChatInputOption[] = [{ name: 'prompt', type: T.String, value: prompt }];
  if (extra.num) options.push({ name: 'num_images', type: T.Integer, value: extra.num });
  if (extra.model) options.push({ name: 'model', type: T.String, value: extra.model });
  const interaction = w.discord.chatInput({
    name: 'imagine',
    options,
    user: extra.user ?? alice,
    ...(extra.guildId && { guildId: extra.guildId }),
    ...(extra.channelId && { channelId: extra.channelId }),
    ...(extra.roles && { roles: extra.roles }),
  });
  w.discord.dispatchInteraction(interaction);
  return interaction;
}

/** Clicks a button (by custom_id) on the message an interaction's reply became. */
function click(reply: InteractionPayload, customId: string, user: FakeUser): InteractionPayload {
  const message = [...need().discord.messages.values()].find((m) => m.interactionToken === reply.token);
  if (!message) throw new Error('no message for that interaction');
  const interaction = need().discord.button({ customId, message: { id: message.id }, user });
  need().discord.dispatchInteraction(interaction);
  return interaction;
}

async function firstAnswer(interaction: InteractionPayload) {
  return need().discord.waitForRequest(isCallback(interaction.id));
}

async function refusal(interaction: InteractionPayload): Promise<string> {
  const answer = await firstAnswer(interaction);
  expect(answer.body).toMatchObject({ type: 4, data: { flags: 64 } });
  return (answer.body as { data: { content: string } }).data.content;
}

async function accepted(interaction: InteractionPayload) {
  const answer = await firstAnswer(interaction);
  expect(answer.body, JSON.stringify(answer.body)).toMatchObject({ type: 5 });
}

function settings(
  subcommand: string,
  options: ChatInputOption[] = [],
  extra: { user?: FakeUser; memberPermissions?: string; resolved?: Record<string, unknown> } = {},
) {
  const w = need();
  const interaction = w.discord.chatInput({
    name: 'imagine-settings',
    options: [{ name: subcommand, type: T.Subcommand, options }],
    user: extra.user ?? alice,
    memberPermissions: extra.memberPermissions ?? ADMIN,
    ...(extra.resolved && { resolved: extra.resolved }),
  });
  w.discord.dispatchInteraction(interaction);
  return interaction;
}

async function settingsReply(interaction: InteractionPayload): Promise<string> {
  const answer = await firstAnswer(interaction);
  return (answer.body as { data: { content: string } }).data.content;
}

describe('fair local queue', () => {
  it('holds jobs beyond FAL_CONCURRENCY in line, shows the position, and moves on when a slot frees', async () => {
    world = await startWorld({ FAL_CONCURRENCY: '1' });
    world.fal.defaultPlan = { hold: true };
    const first = imagine('first');
    const held = await world.fal.waitForSubmission(1);
    const second = imagine('second', { user: bob });
    const waiting = await world.discord.waitForRequest(
      (r) => isOriginalEdit(second.token)(r) && contentOf(r.body).includes('position 1 in line'),
    );
    expect(customIds(waiting.body)).toEqual(['imagine:cancel:2']);
    expect(world.fal.submissions).toHaveLength(1);

    world.fal.release(held.requestId);
    await world.discord.waitForRequest(isFinalEdit(first.token));
    const next = await world.fal.waitForSubmission(2);
    expect(next.input.prompt).toBe('second');
    world.fal.release(next.requestId);
    await world.discord.waitForRequest(isFinalEdit(second.token));
  });

  it('counts a member’s place in line down while the jobs ahead of theirs finish', async () => {
    world = await startWorld({ FAL_CONCURRENCY: '1' });
    world.fal.defaultPlan = { hold: true };
    const dave: FakeUser = { id: '200000000000000004', username: 'dave' };
    const members = [alice, bob, carol, dave];
    const interactions = [];
    for (const user of members) {
      const interaction = imagine(`from ${user.username}`, { user });
      await accepted(interaction);
      interactions.push(interaction);
    }
    const last = interactions[3];
    if (!last) throw new Error('no fourth interaction');
    const reads = (position: number) => (r: RecordedRequest) =>
      isOriginalEdit(last.token)(r) && contentOf(r.body).includes(`position ${position} in line`);
    await world.discord.waitForRequest(reads(3));
    for (let n = 1; n <= 3; n += 1) {
      world.fal.release((await world.fal.waitForSubmission(n)).requestId);
      if (n < 3) await world.discord.waitForRequest(reads(3 - n));
    }
    world.fal.release((await world.fal.waitForSubmission(4)).requestId);
    await world.discord.waitForRequest(isFinalEdit(last.token));
    const positions = world.discord.requests
      .filter((r) => isOriginalEdit(last.token)(r))
      .flatMap((r) => /position (\d+) in line/.exec(contentOf(r.body))?.[1] ?? []);
    expect(positions).toEqual(['3', '2', '1']);
  });

  it('lets a member cancel a job that is still waiting in line, at no cost', async () => {
    world = await startWorld({ FAL_CONCURRENCY: '1', USER_DAILY_IMAGES: '1' });
    world.fal.defaultPlan = { hold: true };
    await accepted(imagine('first', { user: bob }));
    await world.fal.waitForSubmission(1);
    const waiting = imagine('second');
    const progress = await world.discord.waitForRequest(
      (r) => isOriginalEdit(waiting.token)(r) && contentOf(r.body).includes('position 1 in line'),
    );
    const message = [...world.discord.messages.values()].find((m) => m.interactionToken === waiting.token);
    if (!message) throw new Error('no progress message');
    expect(customIds(progress.body)).toEqual(['imagine:cancel:2']);
    const click = world.discord.button({ customId: 'imagine:cancel:2', message: { id: message.id }, user: alice });
    world.discord.dispatchInteraction(click);
    const final = await world.discord.waitForRequest(isFinalEdit(waiting.token));
    expect(contentOf(final.body)).toContain(`Cancelled by <@${alice.id}>`);
    expect(world.fal.submissions).toHaveLength(1);
    await accepted(imagine('quota was given back'));
  });

  it('serves guilds round-robin, then members within a guild, so a busy server cannot starve others', async () => {
    world = await startWorld({ FAL_CONCURRENCY: '1' });
    world.fal.defaultPlan = { hold: true };
    await accepted(imagine('X alice 1'));
    await world.fal.waitForSubmission(1);
    // While that runs, guild X queues three more (two from alice, one from bob), then guild Y one.
    await accepted(imagine('X alice 2'));
    await accepted(imagine('X alice 3'));
    await accepted(imagine('X bob 1', { user: bob }));
    await accepted(imagine('Y carol 1', { user: carol, guildId: OTHER_GUILD, channelId: OTHER_CHANNEL }));
    for (let n = 1; n <= 5; n += 1) world.fal.release((await world.fal.waitForSubmission(n)).requestId);
    expect(world.fal.submissions.map((s) => s.input.prompt)).toEqual([
      'X alice 1',
      'Y carol 1',
      'X bob 1',
      'X alice 2',
      'X alice 3',
    ]);
  });

  it('keeps queued jobs across a restart (they are rows, not promises)', async () => {
    world = await startWorld({ FAL_CONCURRENCY: '1' });
    world.fal.defaultPlan = { hold: true };
    await accepted(imagine('running'));
    const running = await world.fal.waitForSubmission(1);
    const queued = imagine('queued', { user: bob });
    await accepted(queued);
    world.fal.defaultPlan = {};
    await world.restart(0);
    world.fal.release(running.requestId);
    await world.discord.waitForRequest(isFinalEdit(queued.token));
    expect(world.fal.submissions.map((s) => s.input.prompt)).toEqual(['running', 'queued']);
  });
});

describe('limits', () => {
  it('refuses a second job while one runs (jobs at once)', async () => {
    world = await startWorld({ USER_MAX_ACTIVE_JOBS: '1' });
    world.fal.defaultPlan = { hold: true };
    await accepted(imagine('one'));
    expect(await refusal(imagine('two'))).toContain('You already have a job running');
    await accepted(imagine('bob is fine', { user: bob }));
  });

  it('lets a member reroll their own result the moment it arrives, with the default limits', async () => {
    // Empty means default: the world's generous test limits are set aside for the two that matter here.
    world = await startWorld({ USER_COOLDOWN_SECONDS: '', USER_MAX_ACTIVE_JOBS: '' });
    const original = imagine('quick model');
    await world.discord.waitForRequest(isFinalEdit(original.token));
    await waitForLog(world, 'generation delivered');
    const reroll = click(original, 'imagine:new:1', alice);
    await accepted(reroll);
    await world.discord.waitForRequest(isFinalEdit(reroll.token));
    expect(world.fal.submissions).toHaveLength(2);
  });

  it('enforces the cooldown and says when it ends', async () => {
    world = await startWorld({ USER_COOLDOWN_SECONDS: '600' });
    await accepted(imagine('one'));
    expect(await refusal(imagine('two'))).toMatch(/you can use \/imagine again <t:\d+:R>/);
  });

  it('counts images per member per day and says how many are left and when it resets', async () => {
    world = await startWorld({ USER_DAILY_IMAGES: '3' });
    const first = imagine('two images', { num: 2 });
    await world.discord.waitForRequest(isFinalEdit(first.token));
    expect(await refusal(imagine('two more', { num: 2 }))).toMatch(
      /You have 1 of your 3 images left today: ask for fewer images\. Your limit resets <t:\d+:R>/,
    );
    const last = imagine('one more');
    await world.discord.waitForRequest(isFinalEdit(last.token));
    expect(await refusal(imagine('any'))).toContain('You have used all 3 of your images for today');
    expect(world.fal.submissions).toHaveLength(2);
  });

  it('caps a server’s images per day', async () => {
    world = await startWorld({ GUILD_DAILY_IMAGES: '2' });
    await accepted(imagine('a', { num: 2 }));
    expect(await refusal(imagine('b', { user: bob }))).toContain('This server has used all 2 of its images for today');
    await accepted(imagine('other server', { user: carol, guildId: OTHER_GUILD, channelId: OTHER_CHANNEL }));
  });

  it('caps a server’s daily spend from the price table, and the whole bot’s', async () => {
    world = await startWorld({
      GUILD_DAILY_BUDGET_USD: '0.10',
      DAILY_BUDGET_USD: '0.15',
      IMAGEN_PRICES: 'nano-banana-2=0.05',
    });
    await accepted(imagine('a', { num: 2 }));
    expect(await refusal(imagine('b', { user: bob }))).toContain(
      'This server has reached its daily spending limit ($0.10)',
    );
    await accepted(imagine('other server', { user: carol, guildId: OTHER_GUILD, channelId: OTHER_CHANNEL }));
    expect(await refusal(imagine('again', { user: carol, guildId: OTHER_GUILD, channelId: OTHER_CHANNEL }))).toContain(
      'The bot has reached its daily spending limit',
    );
  });

  it('gives images back when a job fails without them', async () => {
    world = await startWorld({ USER_DAILY_IMAGES: '1' });
    world.fal.failNext((method, path) => method === 'POST' && path.startsWith('/fal-ai/'), { status: 500 });
    const failed = imagine('fails');
    await world.discord.waitForRequest(isFinalEdit(failed.token));
    await waitForLog(world, 'generation failed: busy');
    await accepted(imagine('works now'));
  });

  it('admits exactly the quota when 50 requests from one member race', async () => {
    world = await startWorld({ USER_MAX_ACTIVE_JOBS: '50', USER_DAILY_IMAGES: '5' });
    const interactions = Array.from({ length: 50 }, (_, i) => imagine(`race ${i}`));
    const answers = await Promise.all(interactions.map((interaction) => firstAnswer(interaction)));
    const types = answers.map((answer) => (answer.body as { type: number }).type);
    expect(types.filter((type) => type === 5)).toHaveLength(5);
    expect(types.filter((type) => type === 4)).toHaveLength(45);
    await world.fal.waitForSubmission(5);
    for (const interaction of interactions) {
      const answer = answers[interactions.indexOf(interaction)];
      if ((answer?.body as { type: number }).type === 5)
        await world.discord.waitForRequest(isFinalEdit(interaction.token));
    }
    expect(world.fal.submissions).toHaveLength(5);
  });

  it('counts a reroll against the member who clicked', async () => {
    world = await startWorld({ USER_DAILY_IMAGES: '1' });
    const original = imagine('mine');
    await world.discord.waitForRequest(isFinalEdit(original.token));
    const reroll = click(original, 'imagine:same:1', bob);
    await world.discord.waitForRequest(isFinalEdit(reroll.token));
    expect(await refusal(imagine('bob again', { user: bob }))).toContain('You have used all 1 of your images');
    const aliceAgain = click(original, 'imagine:same:1', alice);
    expect(await refusal(aliceAgain)).toContain('You have used all 1 of your images');
  });
});

describe('/imagine-settings', () => {
  it('is registered for Manage Server only, and refuses members without it', async () => {
    world = await startWorld();
    expect(settingsCommand.data.default_member_permissions).toBe(String(PermissionFlagsBits.ManageGuild));
    const registered = world.discord.commands.global.find((c) => (c as { name: string }).name === 'imagine-settings');
    expect(registered).toMatchObject({ default_member_permissions: String(PermissionFlagsBits.ManageGuild) });
    const attempt = settings('model', [{ name: 'model', type: T.String, value: 'nano-banana-pro' }], {
      user: bob,
      memberPermissions: String(PermissionFlagsBits.ViewChannel),
    });
    expect(await refusal(attempt)).toContain('Manage Server');
    await world.discord.waitForRequest(isCallback(imagine('still default').id));
    expect((await world.fal.waitForSubmission(1)).endpointId).toBe('fal-ai/nano-banana-2');
  });

  it('changes the default model', async () => {
    world = await startWorld();
    const reply = await settingsReply(settings('model', [{ name: 'model', type: T.String, value: 'nano-banana-pro' }]));
    expect(reply).toContain('**Default model:** Nano Banana Pro');
    await accepted(imagine('uses pro'));
    const submission = await world.fal.waitForSubmission(1);
    expect(submission.endpointId).toBe('fal-ai/nano-banana-pro');
    expect(submission.input).toMatchObject({ aspect_ratio: '1:1', resolution: '1K' });
  });

  it('offers only the models the operator offers, and Imagen 4 Fast without a resolution when it is', async () => {
    world = await startWorld({ IMAGEN_MODELS: 'nano-banana-2,imagen4-fast' });
    const registered = world.discord.commands.global.find(
      (c) => (c as { name: string }).name === 'imagine-settings',
    ) as {
      options: { name: string; options?: { name: string; choices?: { value: string }[] }[] }[];
    };
    const choices = registered.options.find((o) => o.name === 'model')?.options?.[0]?.choices?.map((c) => c.value);
    expect(choices).toEqual(['nano-banana-2', 'imagen4-fast']);
    expect(await refusal(settings('model', [{ name: 'model', type: T.String, value: 'nano-banana-pro' }]))).toBe(
      'That model is not offered on this bot.',
    );
    const reply = await settingsReply(settings('model', [{ name: 'model', type: T.String, value: 'imagen4-fast' }]));
    expect(reply).toContain('**Default model:** Imagen 4 Fast');
    await accepted(imagine('uses fast'));
    const submission = await world.fal.waitForSubmission(1);
    expect(submission.endpointId).toBe('fal-ai/imagen4/preview/fast');
    expect(submission.input).not.toHaveProperty('resolution');
  });

  it('restricts /imagine to listed channels and roles (admins always allowed)', async () => {
    world = await startWorld();
    const allowedChannel = world.discord.channelId;
    const channelResolved = {
      channels: { [allowedChannel]: { id: allowedChannel, type: 0, name: 'images', permissions: ADMIN } },
    };
    await settingsReply(
      settings(
        'channels',
        [
          { name: 'action', type: T.String, value: 'allow' },
          { name: 'channel', type: T.Channel, value: allowedChannel },
        ],
        {
          resolved: channelResolved,
        },
      ),
    );
    expect(await refusal(imagine('elsewhere', { user: bob, channelId: '600000000000000001' }))).toContain(
      `/imagine is not available in this channel on this server. Try <#${allowedChannel}>`,
    );
    await accepted(imagine('here', { user: bob }));

    const role = '700000000000000001';
    const roleResolved = {
      roles: {
        [role]: {
          id: role,
          name: 'Artists',
          color: 0,
          hoist: false,
          position: 1,
          permissions: '0',
          managed: false,
          mentionable: false,
          flags: 0,
        },
      },
    };
    const reply = await settingsReply(
      settings(
        'roles',
        [
          { name: 'action', type: T.String, value: 'allow' },
          { name: 'role', type: T.Role, value: role },
        ],
        { resolved: roleResolved },
      ),
    );
    expect(reply).toContain(`**Roles:** <@&${role}>`);
    expect(await refusal(imagine('no role', { user: carol }))).toContain(
      'only available to members with certain roles',
    );
    await accepted(imagine('with role', { user: carol, roles: [role] }));
  });

  it('limits rerolls of other members’ images to the requester when set', async () => {
    world = await startWorld();
    await settingsReply(settings('rerolls', [{ name: 'who', type: T.String, value: 'requester' }]));
    const original = imagine('mine');
    await world.discord.waitForRequest(isFinalEdit(original.token));
    const reroll = click(original, 'imagine:new:1', bob);
    expect(await refusal(reroll)).toContain('only the member who made these images can reroll');
  });

  it('sends the safety tolerance to fal within the operator’s bounds, and explains values outside them', async () => {
    world = await startWorld({ SAFETY_TOLERANCE_MAX: '4' });
    const tooHigh = await settingsReply(settings('safety', [{ name: 'tolerance', type: T.Integer, value: 6 }]));
    expect(tooHigh).toContain('must be between 1 and 4');
    await settingsReply(settings('safety', [{ name: 'tolerance', type: T.Integer, value: 2 }]));
    await accepted(imagine('strict'));
    expect((await world.fal.waitForSubmission(1)).input.safety_tolerance).toBe('2');
  });

  it('changes limits, refuses raising them past the operator’s, and the new limit takes effect', async () => {
    world = await startWorld({ GUILD_DAILY_BUDGET_USD: '5' });
    const tooMuch = await settingsReply(
      settings('limits', [{ name: 'server_daily_budget', type: T.Number, value: 50 }]),
    );
    expect(tooMuch).toContain('at most $5.00');
    const saved = await settingsReply(settings('limits', [{ name: 'member_daily_images', type: T.Integer, value: 1 }]));
    expect(saved).toContain('**Images per member per day:** 1');
    await accepted(imagine('one', { user: bob }));
    expect(await refusal(imagine('two', { user: bob }))).toContain('You have used all 1 of your images');
  });
});

describe('/imagine-usage', () => {
  it('counts the images fal returned, not the images asked for, in usage and cost', async () => {
    world = await startWorld({ USER_DAILY_IMAGES: '10', IMAGEN_PRICES: 'nano-banana-2=0.04' });
    world.fal.defaultPlan = { imagesReturned: 2 };
    const short = imagine('four asked, two made', { num: 4 });
    await world.discord.waitForRequest(isFinalEdit(short.token));
    await waitForLog(world, 'generation delivered');
    expect(await world.bot.store.require(1)).toMatchObject({ imageCount: 2, quotaImages: 2, costUsd: 0.08 });

    const admin = world.discord.chatInput({ name: 'imagine-usage', user: carol, memberPermissions: ADMIN });
    world.discord.dispatchInteraction(admin);
    expect(await settingsReply(admin)).toContain('Today: 1 jobs, 2 images, $0.08');
    const mine = world.discord.chatInput({ name: 'imagine-usage', user: alice });
    world.discord.dispatchInteraction(mine);
    expect(await settingsReply(mine)).toContain('**Your images today:** 2 of 10');
  });

  it('shows a member what is left and what is queued, and admins the server’s totals and spend', async () => {
    world = await startWorld({ USER_DAILY_IMAGES: '10', FAL_CONCURRENCY: '1', IMAGEN_PRICES: 'nano-banana-2=0.04' });
    const done = imagine('done', { num: 2 });
    await world.discord.waitForRequest(isFinalEdit(done.token));
    world.fal.defaultPlan = { hold: true };
    await accepted(imagine('running', { user: bob }));
    await world.fal.waitForSubmission(2);
    await accepted(imagine('waiting', { num: 3 }));

    const mine = world.discord.chatInput({ name: 'imagine-usage', user: alice });
    world.discord.dispatchInteraction(mine);
    const member = await settingsReply(mine);
    expect(member).toContain('**Your images today:** 5 of 10 (5 left');
    expect(member).toContain('#3: 3 images, waiting, position 1 in line');
    expect(member).not.toContain('This server');

    const admin = world.discord.chatInput({ name: 'imagine-usage', user: carol, memberPermissions: ADMIN });
    world.discord.dispatchInteraction(admin);
    const totals = await settingsReply(admin);
    expect(totals).toContain('Today: 3 jobs, 2 images, $0.24');
    expect(totals).toContain('Last 30 days: 3 jobs, 2 images, $0.24');
  });
});
