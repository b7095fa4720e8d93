/**
 * Discord's constants (snowflakes, permissions, message flags, interaction types) and the API object shapes
 * the fake serves (users, guild text channels, threads), shared by every part of the fake.
 */
import { randomBytes } from 'node:crypto';
import { PermissionFlagsBits } from 'discord.js';
import type { FakeChannel, FakeUser } from './types.js';

const DISCORD_EPOCH = 1_420_070_400_000n;
let lastSnowflake = 0n;

/** A fresh, strictly increasing snowflake (https://discord.com/developers/docs/reference#snowflakes). */
export function snowflake(): string {
  let next = ((BigInt(Date.now()) - DISCORD_EPOCH) << 22n) | (1n << 17n);
  if (next <= lastSnowflake) next = lastSnowflake + 1n;
  lastSnowflake = next;
  return next.toString();
}

/** The user interactions come from unless a test says otherwise. */
export const DEFAULT_USER: Readonly<FakeUser> = Object.freeze({
  id: '400000000000000001',
  username: 'test-user',
  global_name: 'Test User',
});

export const P = PermissionFlagsBits;

/** A bot invited with View Channel, Send Messages, Attach Files, Embed Links, Read Message History. */
export const DEFAULT_APP_PERMISSIONS: bigint =
  P.ViewChannel | P.SendMessages | P.AttachFiles | P.EmbedLinks | P.ReadMessageHistory;

/** An ordinary member: @everyone's defaults, no moderation (no Manage Messages). */
export const DEFAULT_MEMBER_PERMISSIONS: bigint =
  P.CreateInstantInvite |
  P.AddReactions |
  P.Stream |
  P.ViewChannel |
  P.SendMessages |
  P.EmbedLinks |
  P.AttachFiles |
  P.ReadMessageHistory |
  P.UseExternalEmojis |
  P.Connect |
  P.Speak |
  P.UseVAD |
  P.ChangeNickname |
  P.UseApplicationCommands |
  P.CreatePublicThreads |
  P.CreatePrivateThreads |
  P.UseExternalStickers |
  P.SendMessagesInThreads |
  P.UseEmbeddedActivities |
  P.SendVoiceMessages |
  P.SendPolls |
  P.UseExternalApps;

export const FLAG_SUPPRESS_EMBEDS = 1 << 2;
export const FLAG_EPHEMERAL = 1 << 6;
export const FLAG_LOADING = 1 << 7;
export const FLAG_SUPPRESS_NOTIFICATIONS = 1 << 12;
export const FLAG_VOICE_MESSAGE = 1 << 13;
export const FLAG_COMPONENTS_V2 = 1 << 15;
/** Flags an app may set when creating a message. */
export const CREATE_FLAGS =
  FLAG_SUPPRESS_EMBEDS | FLAG_EPHEMERAL | FLAG_SUPPRESS_NOTIFICATIONS | FLAG_VOICE_MESSAGE | FLAG_COMPONENTS_V2;
/** Flags an edit may carry (Ephemeral is accepted and ignored: ephemerality is fixed at creation). */
export const EDIT_FLAGS = FLAG_SUPPRESS_EMBEDS | FLAG_EPHEMERAL | FLAG_SUPPRESS_NOTIFICATIONS | FLAG_COMPONENTS_V2;

export const INTERACTION_COMMAND = 2;
export const INTERACTION_COMPONENT = 3;
export const INTERACTION_AUTOCOMPLETE = 4;
export const INTERACTION_MODAL_SUBMIT = 5;

export type Json = Record<string, unknown>;

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function randomToken(prefix: string, bytes: number): string {
  return `${prefix}${randomBytes(bytes).toString('base64url')}`;
}

/** Discord's thread channel types: ANNOUNCEMENT_THREAD, PUBLIC_THREAD, PRIVATE_THREAD. */
export const THREAD_TYPES = new Set([10, 11, 12]);

/**
 * A thread as Discord serializes it (https://discord.com/developers/docs/resources/channel#thread-metadata-object):
 * its parent channel, owner, counts and metadata; `invitable` exists only on private threads.
 */
export function threadChannel(channel: FakeChannel): Json {
  return {
    id: channel.id,
    type: channel.type,
    guild_id: channel.guildId,
    parent_id: channel.parentId,
    name: channel.type === 12 ? 'private ideas' : 'ideas',
    owner_id: DEFAULT_USER.id,
    flags: 0,
    last_message_id: null,
    rate_limit_per_user: 0,
    message_count: 0,
    member_count: 1,
    total_message_sent: 0,
    thread_metadata: {
      archived: false,
      auto_archive_duration: 1440,
      archive_timestamp: new Date(0).toISOString(),
      locked: false,
      create_timestamp: new Date(0).toISOString(),
      ...(channel.type === 12 ? { invitable: true } : {}),
    },
  };
}

/** A guild text channel as Discord serializes it (every test server has one 'general' channel like this). */
export function guildTextChannel(id: string, guildId: string | null | undefined, type: number): Json {
  return {
    id,
    type,
    guild_id: guildId,
    name: 'general',
    position: 0,
    flags: 0,
    parent_id: null,
    topic: null,
    nsfw: false,
    last_message_id: null,
    rate_limit_per_user: 0,
  };
}

export function fullUser(user: FakeUser): Json {
  return {
    id: user.id,
    username: user.username,
    discriminator: '0',
    global_name: user.global_name ?? null,
    avatar: null,
    avatar_decoration_data: null,
    public_flags: 0,
    primary_guild: null,
    collectibles: null,
  };
}
