import {
  ActionRowBuilder,
  ButtonBuilder,
  ButtonStyle,
  Client,
  ContainerBuilder,
  DiscordAPIError,
  Events,
  MediaGalleryBuilder,
  MediaGalleryItemBuilder,
  Message,
  MessageFlags,
  ModalBuilder,
  PermissionFlagsBits,
  Routes,
  SlashCommandBuilder,
  TextDisplayBuilder,
  TextInputBuilder,
  TextInputStyle,
} from 'discord.js';
import type { ChatInputCommandInteraction, Interaction } from 'discord.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { FakeDiscord, guildOnShard, snowflake } from './discord.js';
import type { InteractionPayload, RecordedRequest } from './discord.js';

let fake: FakeDiscord;
const clients: Client[] = [];

async function login(): Promise<Client> {
  const client = new Client({ intents: [], rest: { api: fake.apiUrl } });
  clients.push(client);
  await client.login(fake.token);
  await fake.waitForReady();
  return client;
}

/** Dispatches a payload and resolves with the interaction the client builds from it. */
function deliver<T extends Interaction = Interaction>(client: Client, payload: InteractionPayload): Promise<T> {
  const received = new Promise<T>((resolve) => {
    client.once(Events.InteractionCreate, (interaction) => resolve(interaction as T));
  });
  fake.dispatchInteraction(payload);
  return received;
}

async function command(client: Client, name = 'imagine'): Promise<ChatInputCommandInteraction> {
  return deliver<ChatInputCommandInteraction>(
    client,
    fake.chatInput({ name, options: [{ name: 'prompt', type: 3, value: 'a cat' }] }),
  );
}

function apiErrorOf(error: unknown): DiscordAPIError {
  expect(error).toBeInstanceOf(DiscordAPIError);
  return error as DiscordAPIError;
}

const isOriginalPatch = (r: RecordedRequest): boolean => r.method === 'PATCH' && r.path.endsWith('/messages/@original');

beforeEach(async () => {
  fake = await FakeDiscord.start();
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.destroy()));
  await fake.close();
  expect(fake.internalErrors).toEqual([]);
});

describe('FakeDiscord with the real discord.js Client', () => {
  it('lets the client log in over REST and the gateway', async () => {
    const client = await login();
    expect(client.isReady()).toBe(true);
    expect(client.user?.id).toBe(fake.botUserId);
    expect(client.application?.id).toBe(fake.applicationId);
    const gateway = fake.requests.find((r) => r.path === '/gateway/bot');
    expect(gateway).toMatchObject({ method: 'GET', auth: `Bot ${fake.token}`, status: 200 });
    expect(fake.unknownRequests).toEqual([]);
  });

  it('rejects a wrong bot token on bot routes', async () => {
    const client = new Client({ intents: [], rest: { api: fake.apiUrl } });
    clients.push(client);
    await expect(client.login('not-the-token')).rejects.toThrow();
    expect(fake.requests.at(-1)).toMatchObject({ path: '/gateway/bot', status: 401 });
  });

  it('delivers a chat-input interaction with the fields discord.js needs', async () => {
    const client = await login();
    const interaction = await command(client);
    expect(interaction.isChatInputCommand()).toBe(true);
    expect(interaction.commandName).toBe('imagine');
    expect(interaction.options.getString('prompt')).toBe('a cat');
    expect(interaction.guildId).toBe(fake.guildId);
    expect(interaction.channelId).toBe(fake.channelId);
    expect(interaction.user.id).toBe(fake.defaultUser.id);
    expect(interaction.appPermissions.has(PermissionFlagsBits.AttachFiles)).toBe(true);
    expect(interaction.memberPermissions?.has(PermissionFlagsBits.ManageMessages)).toBe(false);
    expect(interaction.attachmentSizeLimit).toBe(10 * 1024 * 1024);
    expect(fake.interaction(interaction.id)?.acknowledged).toBeNull();
  });

  it('records deferReply then editReply with a file and a button, and returns a parsed Message', async () => {
    const client = await login();
    const interaction = await command(client);
    await interaction.deferReply();
    const png = Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex');
    const row = new ActionRowBuilder<ButtonBuilder>().addComponents(
      new ButtonBuilder().setCustomId('imagine:again:1').setLabel('Again').setStyle(ButtonStyle.Primary),
    );
    const reply = await interaction.editReply({
      content: 'done',
      files: [{ attachment: png, name: 'a.png' }],
      components: [row],
    });

    const callback = fake.requests.find((r) => r.path.endsWith('/callback'));
    expect(callback).toMatchObject({
      method: 'POST',
      status: 204,
      auth: undefined,
      body: { type: 5, data: { flags: 0 } },
    });
    const edit = await fake.waitForRequest(isOriginalPatch);
    expect(edit.status).toBe(200);
    expect(edit.path).toBe(`/webhooks/${fake.applicationId}/${interaction.token}/messages/@original`);
    expect(edit.files).toEqual([{ field: 'files[0]', filename: 'a.png', contentType: 'image/png', data: png }]);
    expect(edit.body).toMatchObject({ content: 'done', attachments: [{ id: '0' }], components: [{ type: 1 }] });

    expect(reply).toBeInstanceOf(Message);
    expect(reply.content).toBe('done');
    expect(reply.attachments.first()?.name).toBe('a.png');
    expect(reply.components).toHaveLength(1);
    const stored = fake.originalMessage(interaction.id);
    expect(stored?.attachments[0]?.data).toEqual(png);
    expect(stored?.flags).toBe(0); // the loading flag is gone
    const download = await fetch(reply.attachments.first()?.url ?? '');
    expect(Buffer.from(await download.arrayBuffer())).toEqual(png);
    expect(fake.interaction(interaction.id)?.acknowledged).toBe(5);
  });

  it('answers a second acknowledgement with 40060', async () => {
    const client = await login();
    const interaction = await command(client);
    await interaction.reply({ content: 'first' });
    // Another process answering the same interaction: discord.js has no local state to stop it.
    const second = client.rest.post(Routes.interactionCallback(interaction.id, interaction.token), {
      body: { type: 4, data: { content: 'second' } },
      auth: false,
    });
    const error = apiErrorOf(await second.catch((e: unknown) => e));
    expect(error.code).toBe(40060);
    expect(error.status).toBe(400);
  });

  it('rejects content over 2000 characters, long or duplicated custom_ids and too many rows', async () => {
    const client = await login();
    const interaction = await command(client);
    await interaction.deferReply({ flags: MessageFlags.Ephemeral });

    const tooLong = apiErrorOf(await interaction.editReply({ content: 'x'.repeat(2001) }).catch((e: unknown) => e));
    expect(tooLong.code).toBe(50035);
    expect(fake.invalidBodies.at(-1)).toMatchObject({ method: 'PATCH' });

    const patch = (body: unknown): Promise<unknown> =>
      client.rest.patch(Routes.webhookMessage(fake.applicationId, interaction.token, '@original'), {
        body,
        auth: false,
      });
    const button = (customId: string): object => ({ type: 2, style: 1, label: 'b', custom_id: customId });
    const longId = apiErrorOf(
      await patch({ components: [{ type: 1, components: [button('y'.repeat(101))] }] }).catch((e: unknown) => e),
    );
    expect(longId.code).toBe(50035);
    expect(JSON.stringify(longId.rawError)).toContain('custom_id');

    const duplicated = apiErrorOf(
      await patch({ components: [{ type: 1, components: [button('a'), button('a')] }] }).catch((e: unknown) => e),
    );
    expect(duplicated.code).toBe(50035);
    expect(JSON.stringify(duplicated.rawError)).toContain('COMPONENT_CUSTOM_ID_DUPLICATED');

    const rows = Array.from({ length: 6 }, (_, i) => ({ type: 1, components: [button(`r${i}`)] }));
    expect(apiErrorOf(await patch({ content: 'rows', components: rows }).catch((e: unknown) => e)).code).toBe(50035);

    // Nothing was applied: the deferred reply is still loading and ephemeral.
    expect(fake.originalMessage(interaction.id)?.flags).toBe(MessageFlags.Ephemeral | MessageFlags.Loading);
  });

  it('rejects oversized files with 413 40005 and more than 10 files with 30015', async () => {
    await fake.close();
    fake = await FakeDiscord.start({ fileSizeLimit: 1024 });
    const client = await login();
    const interaction = await command(client);
    await interaction.deferReply();
    const big = apiErrorOf(
      await interaction
        .editReply({ files: [{ attachment: Buffer.alloc(1025), name: 'big.png' }] })
        .catch((e: unknown) => e),
    );
    expect(big.status).toBe(413);
    expect(big.code).toBe(40005);
    const files = Array.from({ length: 11 }, (_, i) => ({ attachment: Buffer.from([i]), name: `${i}.bin` }));
    const many = apiErrorOf(await interaction.editReply({ files }).catch((e: unknown) => e));
    expect(many.code).toBe(30015);
    expect(fake.originalMessage(interaction.id)?.attachments).toEqual([]);
  });

  it('rejects a request larger than the request limit with 413 40005', async () => {
    await fake.close();
    fake = await FakeDiscord.start({ fileSizeLimit: 1024, requestSizeLimit: 3000 });
    const client = await login();
    const interaction = await command(client);
    await interaction.deferReply();
    const files = Array.from({ length: 4 }, (_, i) => ({ attachment: Buffer.alloc(1000, i), name: `${i}.bin` }));
    const error = apiErrorOf(await interaction.editReply({ files }).catch((e: unknown) => e));
    expect([error.status, error.code]).toEqual([413, 40005]);
    await expect(interaction.editReply({ files: files.slice(0, 2) })).resolves.toBeInstanceOf(Message);
  });

  it('validates command bodies against the OpenAPI description', async () => {
    const client = await login();
    const put = client.rest.put(Routes.applicationCommands(fake.applicationId), {
      body: [
        { name: 'imagine', description: 'Make an image', options: [{ type: 99, name: 'prompt', description: 'p' }] },
      ],
    });
    const error = apiErrorOf(await put.catch((e: unknown) => e));
    expect(error.code).toBe(50035);
    expect(fake.invalidBodies).toHaveLength(1);
    expect(fake.invalidBodies[0]).toMatchObject({
      method: 'PUT',
      path: `/applications/${fake.applicationId}/commands`,
    });
    expect(fake.commands.global).toEqual([]);
  });

  it('stores commands set through client.application.commands and uses their ids', async () => {
    const client = await login();
    const definition = new SlashCommandBuilder()
      .setName('imagine')
      .setDescription('Make an image')
      .setDefaultMemberPermissions(PermissionFlagsBits.SendMessages)
      .addStringOption((o) => o.setName('prompt').setDescription('What to draw').setRequired(true).setMaxLength(2000));
    const set = await client.application?.commands.set([definition.toJSON()]);
    expect(set?.size).toBe(1);
    expect(fake.commands.global).toHaveLength(1);
    const stored = fake.commands.global[0] as { id: string; name: string; default_member_permissions: string };
    expect(stored).toMatchObject({
      name: 'imagine',
      default_member_permissions: String(PermissionFlagsBits.SendMessages),
    });
    expect(fake.invalidBodies).toEqual([]);

    const interaction = await command(client);
    expect(interaction.commandId).toBe(stored.id);
    expect(() => fake.chatInput({ name: 'imagine', options: [{ name: 'nope', type: 3, value: 'x' }] })).toThrow(
      /no option/,
    );
  });

  it('makes failNext fail requests that discord.js retries (500) or waits out (429)', async () => {
    const client = await login();
    const interaction = await command(client);
    await interaction.deferReply();
    fake.failNext((method, path) => method === 'PATCH' && path.endsWith('/@original'), { status: 500 });
    await interaction.editReply({ content: 'after a 500' });
    fake.failNext((method, path) => method === 'PATCH' && path.endsWith('/@original'), {
      status: 429,
      retryAfter: 0.05,
    });
    await interaction.editReply({ content: 'after a 429' });
    expect(fake.requests.filter(isOriginalPatch).map((r) => r.status)).toEqual([500, 200, 429, 200]);
    expect(fake.originalMessage(interaction.id)?.content).toBe('after a 429');

    fake.failNext(() => true, { status: 403, code: 50013, message: 'Missing Permissions' });
    const denied = apiErrorOf(await interaction.followUp({ content: 'x' }).catch((e: unknown) => e));
    expect(denied.code).toBe(50013);
  });

  it('returns Message objects from followUp and keeps ephemerality', async () => {
    const client = await login();
    const interaction = await command(client);
    await interaction.reply({ content: 'working', flags: MessageFlags.Ephemeral });
    const followUp = await interaction.followUp({ content: 'more', flags: MessageFlags.Ephemeral });
    expect(followUp).toBeInstanceOf(Message);
    expect(followUp.flags.has(MessageFlags.Ephemeral)).toBe(true);
    expect(followUp.id).not.toBe(fake.interaction(interaction.id)?.originalMessageId);
    const original = await interaction.fetchReply();
    expect(original.content).toBe('working');
    await interaction.deleteReply();
    expect(fake.originalMessage(interaction.id)).toBeUndefined();
  });

  it('lets the first followUp after deferReply replace the thinking message, as Discord does', async () => {
    const client = await login();
    const interaction = await command(client);
    await interaction.deferReply({ flags: MessageFlags.Ephemeral });
    const first = await interaction.followUp({ content: 'result' });
    expect(first.id).toBe(fake.interaction(interaction.id)?.originalMessageId);
    expect(first.flags.has(MessageFlags.Ephemeral)).toBe(true);
    const second = await interaction.followUp({ content: 'more' });
    expect(second.id).not.toBe(first.id);
  });

  it('checks Components V2 rules: no content, attachments referenced must exist', async () => {
    const client = await login();
    const interaction = await command(client);
    await interaction.deferReply();
    const gallery = (name: string): ContainerBuilder =>
      new ContainerBuilder()
        .addTextDisplayComponents(new TextDisplayBuilder().setContent('Your image'))
        .addMediaGalleryComponents(
          new MediaGalleryBuilder().addItems(new MediaGalleryItemBuilder().setURL(`attachment://${name}`)),
        );
    const png = Buffer.from('89504e470d0a1a0a', 'hex');
    const missing = apiErrorOf(
      await interaction
        .editReply({
          components: [gallery('b.png')],
          flags: MessageFlags.IsComponentsV2,
          files: [{ attachment: png, name: 'a.png' }],
        })
        .catch((e: unknown) => e),
    );
    expect(JSON.stringify(missing.rawError)).toContain('UNFURLED_MEDIA_ITEM_ATTACHMENT_NOT_FOUND');
    const withContent = apiErrorOf(
      await interaction
        .editReply({ content: 'no', components: [gallery('a.png')], flags: MessageFlags.IsComponentsV2 })
        .catch((e: unknown) => e),
    );
    expect(withContent.code).toBe(50035);
    const ok = await interaction.editReply({
      components: [gallery('a.png')],
      flags: MessageFlags.IsComponentsV2,
      files: [{ attachment: png, name: 'a.png' }],
    });
    expect(ok.flags.has(MessageFlags.IsComponentsV2)).toBe(true);
    expect(fake.invalidBodies).toEqual([]);
  });

  it('forgets interactions that are not answered within the response deadline', async () => {
    await fake.close();
    fake = await FakeDiscord.start({ responseDeadlineMs: 20 });
    const client = await login();
    const interaction = await command(client);
    await new Promise((resolve) => setTimeout(resolve, 40));
    const error = apiErrorOf(await interaction.deferReply().catch((e: unknown) => e));
    expect([error.status, error.code]).toEqual([404, 10062]);
  });

  it('answers expired tokens with 401 50027', async () => {
    const client = await login();
    const interaction = await command(client);
    await interaction.deferReply();
    fake.expireToken(interaction.token);
    const error = apiErrorOf(await interaction.editReply({ content: 'late' }).catch((e: unknown) => e));
    expect(error.status).toBe(401);
    expect(error.code).toBe(50027);
    // A webhook 401 must not cost the bot its token.
    await expect(client.application?.fetch()).resolves.toBeDefined();
  });

  it('refuses webhook calls before the interaction is acknowledged', async () => {
    const client = await login();
    const interaction = await command(client);
    const error = apiErrorOf(await interaction.webhook.send({ content: 'too early' }).catch((e: unknown) => e));
    expect(error.code).toBe(10015);
  });

  it('runs a button -> modal -> submit round trip', async () => {
    const client = await login();
    const interaction = await command(client);
    const row = new ActionRowBuilder<ButtonBuilder>().addComponents(
      new ButtonBuilder().setCustomId('imagine:edit:1').setLabel('Edit').setStyle(ButtonStyle.Secondary),
    );
    const reply = await interaction.reply({ content: 'image', components: [row], withResponse: true });
    const messageId = reply.resource?.message?.id ?? '';
    expect(messageId).not.toBe('');

    // Discord only sends clicks on buttons the message has; made-up messages are the test's business.
    expect(() => fake.button({ customId: 'imagine:gone:1', message: { id: messageId } })).toThrow(/no component/);
    expect(fake.button({ customId: 'stale:1', message: { id: snowflake() } }).type).toBe(3);
    const click = await deliver(client, fake.button({ customId: 'imagine:edit:1', message: { id: messageId } }));
    if (!click.isButton()) throw new Error('expected a button');
    expect(click.message.id).toBe(messageId);
    const input = new TextInputBuilder()
      .setCustomId('prompt')
      .setLabel('Prompt')
      .setStyle(TextInputStyle.Paragraph)
      .setMaxLength(100);
    await click.showModal(
      new ModalBuilder()
        .setCustomId('imagine:modal:1')
        .setTitle('Edit prompt')
        .addComponents(new ActionRowBuilder<TextInputBuilder>().addComponents(input)),
    );
    expect(() => fake.modalSubmit({ customId: 'imagine:modal:1', fields: { other: 'x' } })).toThrow(/no text input/);

    const submit = await deliver(
      client,
      fake.modalSubmit({ customId: 'imagine:modal:1', fields: { prompt: 'a dog' }, message: { id: messageId } }),
    );
    if (!submit.isModalSubmit() || !submit.isFromMessage()) throw new Error('expected a modal submit from a message');
    expect(submit.fields.getTextInputValue('prompt')).toBe('a dog');
    await submit.update({ content: 'regenerating', components: [] });
    expect(fake.messages.get(messageId)?.content).toBe('regenerating');

    // A modal cannot answer a modal submit.
    const again = client.rest.post(Routes.interactionCallback(submit.id, submit.token), {
      body: { type: 9, data: { custom_id: 'm', title: 't', components: [] } },
      auth: false,
    });
    expect(apiErrorOf(await again.catch((e: unknown) => e)).status).toBe(400);
  });

  it('checks the bot permissions on channel messages', async () => {
    const client = await login();
    const sent = await client.rest.post(Routes.channelMessages(fake.channelId), { body: { content: 'hello' } });
    expect(sent).toMatchObject({
      channel_id: fake.channelId,
      content: 'hello',
      author: { id: fake.botUserId, bot: true },
    });
    const noAttach = snowflake();
    fake.setChannel(noAttach, { botPermissions: PermissionFlagsBits.ViewChannel | PermissionFlagsBits.SendMessages });
    const upload = client.rest.post(Routes.channelMessages(noAttach), {
      body: {},
      files: [{ name: 'a.png', data: Buffer.from([1]) }],
    });
    expect(apiErrorOf(await upload.catch((e: unknown) => e)).code).toBe(50013);
    const unknown = client.rest.post(Routes.channelMessages(snowflake()), { body: { content: 'x' } });
    expect(apiErrorOf(await unknown.catch((e: unknown) => e)).code).toBe(10003);
  });

  it('sends a thread as the interaction’s partial channel, and posts there need Send Messages in Threads', async () => {
    const client = await login();
    const P = PermissionFlagsBits;
    for (const type of [11, 12]) {
      const thread = snowflake();
      fake.setChannel(thread, { type, parentId: fake.channelId, botPermissions: P.ViewChannel | P.SendMessages });
      const payload = fake.chatInput({ name: 'imagine', channelId: thread });
      expect(payload['channel']).toMatchObject({
        id: thread,
        type,
        parent_id: fake.channelId,
        thread_metadata: { archived: false },
      });
      const post = client.rest.post(Routes.channelMessages(thread), { body: { content: 'hello' } });
      expect(apiErrorOf(await post.catch((e: unknown) => e)).code).toBe(50013);
      fake.setChannel(thread, {
        type,
        parentId: fake.channelId,
        botPermissions: P.ViewChannel | P.SendMessagesInThreads,
      });
      expect(await client.rest.post(Routes.channelMessages(thread), { body: { content: 'hello' } })).toMatchObject({
        channel_id: thread,
      });
    }
    expect(() => fake.setChannel(snowflake(), { type: 11 })).toThrow(/parent/);
  });

  it('holds a request unanswered and without effect until released, or drops it', async () => {
    const client = await login();
    const isPost = (r: RecordedRequest) => r.method === 'POST' && r.path === `/channels/${fake.channelId}/messages`;
    const held = fake.holdNext(isPost);
    const sent = client.rest.post(Routes.channelMessages(fake.channelId), { body: { content: 'held' } });
    const { request, release } = await held;
    expect(request.body).toMatchObject({ content: 'held' });
    expect([...fake.messages.values()].some((m) => m.content === 'held')).toBe(false);
    release();
    expect(await sent).toMatchObject({ content: 'held' });

    const dropped = fake.holdNext(isPost);
    const lost = fetch(`${fake.apiUrl}/v10/channels/${fake.channelId}/messages`, {
      method: 'POST',
      headers: { authorization: `Bot ${fake.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ content: 'lost' }),
    });
    (await dropped).drop();
    await expect(lost).rejects.toThrow();
    expect([...fake.messages.values()].some((m) => m.content === 'lost')).toBe(false);
  });

  it('records unknown routes as 404', async () => {
    const client = await login();
    await expect(client.rest.get('/nothing/here')).rejects.toThrow();
    expect(fake.unknownRequests.map((r) => [r.path, r.status])).toEqual([['/nothing/here', 404]]);
  });

  it('serves a new client after the first one is destroyed', async () => {
    const first = await login();
    await first.destroy();
    expect(() => fake.dispatchInteraction(fake.chatInput({ name: 'imagine' }))).toThrow(/no gateway client/);
    const second = await login();
    let firstGotOne = false;
    first.on(Events.InteractionCreate, () => {
      firstGotOne = true;
    });
    const interaction = await deliver(second, fake.chatInput({ name: 'imagine' }));
    expect(interaction.client).toBe(second);
    expect(firstGotOne).toBe(false);
  });

  it('replays interactions dispatched while the client resumes after a dropped connection', async () => {
    const client = await login();
    const resumed = new Promise<void>((resolve) => client.once(Events.ShardResume, () => resolve()));
    await fake.dropGatewayConnection();
    const interaction = deliver(client, fake.chatInput({ name: 'imagine' }));
    await resumed;
    expect((await interaction).isChatInputCommand()).toBe(true);
    expect(fake.requests.filter((r) => r.path === '/gateway/bot')).toHaveLength(1);
  });
});

/** A client that connects only `shards` of `shardCount`, as one shard process of a ShardingManager does. */
async function loginShards(shards: number[] | 'auto', shardCount?: number): Promise<Client> {
  const client = new Client({ intents: [], rest: { api: fake.apiUrl }, shards, ...(shardCount && { shardCount }) });
  clients.push(client);
  const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
  await client.login(fake.token);
  await ready;
  return client;
}

/**
 * Identifies on a raw gateway socket: READY's payload (and the shards the fake has live then), or the code and
 * reason the fake closed it with.
 */
async function identify(
  shard?: unknown,
): Promise<{ ready: unknown; liveShards: unknown[] } | { code: number; reason: string }> {
  const socket = new WebSocket(`${fake.gatewayUrl}/?v=10&encoding=json`);
  try {
    return await new Promise((resolve, reject) => {
      socket.on('error', reject);
      socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
      socket.on('message', (raw: Buffer) => {
        const payload = JSON.parse(raw.toString()) as { op: number; t: string | null; d: unknown };
        if (payload.op === 10) {
          const d = { token: fake.token, intents: 0, properties: {}, ...(shard !== undefined && { shard }) };
          socket.send(JSON.stringify({ op: 2, d }));
        }
        if (payload.t === 'READY') resolve({ ready: payload.d, liveShards: fake.liveShards() });
      });
    });
  } finally {
    socket.terminate();
  }
}

describe('FakeDiscord gateway sharding', () => {
  async function restart(shards: number): Promise<void> {
    await fake.close();
    fake = await FakeDiscord.start({ shards });
  }

  it('recommends its shard count on GET /gateway/bot, which shards: auto follows', async () => {
    // Two, not more: discord.js waits out Discord's 5-second IDENTIFY interval between its shards.
    await restart(2);
    const client = await loginShards('auto');
    expect(fake.requests.find((r) => r.path === '/gateway/bot')?.response).toMatchObject({ shards: 2 });
    expect(client.options.shardCount).toBe(2);
    expect(fake.liveShards().sort()).toEqual([
      [0, 2],
      [1, 2],
    ]);
  });

  it('sends a guild’s interactions to the session of shard (guild_id >> 22) % count, and DMs to shard 0', async () => {
    await restart(2);
    const shard0 = await loginShards([0], 2);
    const shard1 = await loginShards([1], 2);
    const received: Array<[string, string]> = [];
    shard0.on(Events.InteractionCreate, (i) => received.push(['shard 0', i.id]));
    shard1.on(Events.InteractionCreate, (i) => received.push(['shard 1', i.id]));

    const [onShard1, onShard0] = [guildOnShard(1, 2), guildOnShard(0, 2)];
    expect([FakeDiscord.shardOf(onShard1, 2), FakeDiscord.shardOf(onShard0, 2)]).toEqual([1, 0]);
    expect(FakeDiscord.shardOf(undefined, 2)).toBe(0);
    const first = fake.chatInput({ name: 'imagine', guildId: onShard1 });
    const second = fake.chatInput({ name: 'imagine', guildId: onShard0 });
    const dm = fake.chatInput({ name: 'imagine', guildId: null });
    expect(fake.dispatchInteraction(first)).toEqual([1, 2]);
    expect(fake.dispatchInteraction(second)).toEqual([0, 2]);
    expect(fake.dispatchInteraction(dm)).toEqual([0, 2]);
    await expect.poll(() => received.length).toBe(3);
    expect(received.sort()).toEqual(
      [
        ['shard 0', second.id],
        ['shard 0', dm.id],
        ['shard 1', first.id],
      ].sort(),
    );
  });

  it('throws when no session of the guild’s shard is connected', async () => {
    await restart(2);
    await loginShards([0], 2);
    expect(() => fake.dispatchInteraction(fake.chatInput({ name: 'imagine', guildId: guildOnShard(1, 2) }))).toThrow(
      /no gateway client is connected for guild/,
    );
    expect(fake.dispatchInteraction(fake.chatInput({ name: 'imagine', guildId: guildOnShard(0, 2) }))).toEqual([0, 2]);
  });

  it('keeps a shard’s interactions for RESUME while that shard reconnects; the other shard is not involved', async () => {
    await restart(2);
    const shard0 = await loginShards([0], 2);
    const shard1 = await loginShards([1], 2);
    let shard0Got = 0;
    shard0.on(Events.InteractionCreate, () => (shard0Got += 1));
    const resumed = new Promise<void>((resolve) => shard1.once(Events.ShardResume, () => resolve()));
    await fake.dropGatewayConnection(4000, 1);
    const interaction = deliver(shard1, fake.chatInput({ name: 'imagine', guildId: guildOnShard(1, 2) }));
    await resumed;
    expect((await interaction).isChatInputCommand()).toBe(true);
    expect(shard0Got).toBe(0);
  });

  it('closes an IDENTIFY with an impossible shard with 4010 Invalid shard', async () => {
    for (const shard of [[2, 2], [0, 0], [-1, 2], [0.5, 2], [0], 'zero']) {
      expect(await identify(shard)).toEqual({ code: 4010, reason: 'Invalid shard' });
    }
    expect(await identify([1, 3])).toMatchObject({ ready: { shard: [1, 3] } });
  });

  it('closes with 4011 Sharding required a client that identifies with fewer shards than it recommends', async () => {
    await restart(2);
    expect(await identify()).toEqual({ code: 4011, reason: 'Sharding required' });
    expect(await identify([0, 1])).toEqual({ code: 4011, reason: 'Sharding required' });
    expect(await identify([1, 2])).toMatchObject({ ready: { shard: [1, 2] } });
    expect(await identify([3, 4])).toMatchObject({ ready: { shard: [3, 4] } });

    fake.setRecommendedShards(5);
    expect(await identify([3, 4])).toEqual({ code: 4011, reason: 'Sharding required' });
  });

  it('accepts an IDENTIFY without shard as shard [0, 1] while it recommends one shard', async () => {
    const answer = await identify();
    expect(answer).toMatchObject({ ready: { session_id: expect.any(String) as unknown }, liveShards: [[0, 1]] });
    expect(answer).not.toHaveProperty('ready.shard');
  });
});
