/**
 * The state Discord keeps for the fake: who the bot is, its default guild and channel, the channels it can
 * post in, the interactions it was sent (and their acknowledgement and tokens), the messages and their
 * attachments, the registered application commands. Every other part of the fake reads and changes it here.
 */
import { FakeDiscordCdn } from '../discordCdn.js';
import { DEFAULT_APP_PERMISSIONS, THREAD_TYPES, isObject, randomToken, snowflake, type Json } from './protocol.js';
import type { FakeChannel, FakeDiscordOptions, FakeInteractionState, FakeMessage } from './types.js';

export class DiscordModel {
  readonly apiUrl: string;
  readonly gatewayUrl: string;
  readonly token: string;
  readonly applicationId: string;
  readonly botUserId: string;
  readonly botUsername: string;
  /** Default guild and channel of built interactions. */
  readonly guildId: string = snowflake();
  readonly channelId: string = snowflake();
  readonly ownerId = snowflake();
  readonly fileSizeLimit: number;
  readonly requestSizeLimit: number;
  readonly responseDeadlineMs: number | null;
  readonly tokenLifetimeMs: number;

  readonly messages = new Map<string, FakeMessage>();
  readonly commands: { global: unknown[]; guilds: Map<string, unknown[]> } = { global: [], guilds: new Map() };
  readonly interactions = new Map<string, FakeInteractionState>();
  readonly channels = new Map<string, FakeChannel>();
  readonly expiredTokens = new Set<string>();
  /** Signed attachment URLs, their bytes and refresh-urls (../discordCdn.ts). */
  readonly cdn: FakeDiscordCdn;
  /** Messages a test made up through `button()` rather than the bot posting them. */
  readonly fabricatedMessages = new Set<string>();
  /** Dispatched interaction payloads by id (for interaction_metadata). */
  readonly payloads = new Map<string, Json>();

  constructor(port: number, options: FakeDiscordOptions) {
    this.apiUrl = `http://127.0.0.1:${port}/api`;
    this.gatewayUrl = `ws://127.0.0.1:${port}`;
    this.cdn = new FakeDiscordCdn(`http://127.0.0.1:${port}`);
    this.token = options.token ?? randomToken('fake-bot-token-', 24);
    this.applicationId = options.applicationId ?? snowflake();
    this.botUserId = options.botUserId ?? this.applicationId;
    this.botUsername = options.botUsername ?? 'fake-bot';
    this.fileSizeLimit = options.fileSizeLimit ?? 10 * 1024 * 1024;
    this.requestSizeLimit = options.requestSizeLimit ?? 25 * 1024 * 1024;
    this.responseDeadlineMs = options.responseDeadlineMs === undefined ? 3000 : options.responseDeadlineMs;
    this.tokenLifetimeMs = options.tokenLifetimeMs ?? 15 * 60 * 1000;
    this.channels.set(this.channelId, {
      id: this.channelId,
      type: 0,
      guildId: this.guildId,
      parentId: null,
      botPermissions: DEFAULT_APP_PERMISSIONS,
    });
  }

  /** The bot user, as `GET /users/@me` and message authors show it. */
  get botUser(): Json {
    return {
      id: this.botUserId,
      username: this.botUsername,
      discriminator: '0000',
      global_name: null,
      avatar: null,
      bot: true,
      public_flags: 0,
      flags: 0,
    };
  }

  /** Remembers a dispatched interaction as unanswered. */
  addInteraction(data: Json, id: string, token: string): void {
    const inner = isObject(data['data']) ? data['data'] : {};
    const member = isObject(data['member']) ? data['member'] : undefined;
    const user = isObject(data['user']) ? data['user'] : isObject(member?.['user']) ? member['user'] : undefined;
    const message = isObject(data['message']) ? data['message'] : undefined;
    const name =
      typeof inner['name'] === 'string'
        ? inner['name']
        : typeof inner['custom_id'] === 'string'
          ? inner['custom_id']
          : undefined;
    this.payloads.set(id, data);
    this.interactions.set(id, {
      id,
      token,
      type: typeof data['type'] === 'number' ? data['type'] : 0,
      channelId: typeof data['channel_id'] === 'string' ? data['channel_id'] : undefined,
      guildId: typeof data['guild_id'] === 'string' ? data['guild_id'] : undefined,
      userId: typeof user?.['id'] === 'string' ? user['id'] : undefined,
      name,
      messageId: typeof message?.['id'] === 'string' ? message['id'] : undefined,
      acknowledged: null,
      originalMessageId: null,
      modal: undefined,
      followupIds: [],
      createdAt: Date.now(),
      expired: false,
    });
  }

  /** Expires an interaction token: its webhook calls then answer 401 50027 Invalid Webhook Token. */
  expireToken(token: string): void {
    this.expiredTokens.add(token);
    for (const state of this.interactions.values()) if (state.token === token) state.expired = true;
  }

  tokenExpired(state: FakeInteractionState): boolean {
    return state.expired || this.expiredTokens.has(state.token) || Date.now() - state.createdAt > this.tokenLifetimeMs;
  }

  /** Adds or replaces a channel the bot can (or cannot) post in with its own token. */
  setChannel(
    id: string,
    options: { type?: number; guildId?: string | null; botPermissions?: bigint; parentId?: string } = {},
  ): FakeChannel {
    const type = options.type ?? 0;
    if (THREAD_TYPES.has(type) !== (options.parentId !== undefined)) {
      throw new Error('FakeDiscord: a thread needs its parent channel, and only a thread has one');
    }
    const channel: FakeChannel = {
      id,
      type,
      guildId: options.guildId === undefined ? this.guildId : options.guildId,
      parentId: options.parentId ?? null,
      botPermissions: options.botPermissions ?? DEFAULT_APP_PERMISSIONS,
    };
    this.channels.set(id, channel);
    return channel;
  }

  /** The state of the interaction a payload (or id) designates. */
  interaction(idOrPayload: string | { id: string }): FakeInteractionState | undefined {
    return this.interactions.get(typeof idOrPayload === 'string' ? idOrPayload : idOrPayload.id);
  }

  /** The message `@original` of an interaction currently designates. */
  originalMessage(idOrPayload: string | { id: string }): FakeMessage | undefined {
    const id = this.interaction(idOrPayload)?.originalMessageId;
    return id ? this.messages.get(id) : undefined;
  }
}
