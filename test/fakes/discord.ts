/**
 * A loopback fake of Discord (REST API v10 and the gateway) that the real discord.js `Client` logs into:
 *
 * ```ts
 * const fake = await FakeDiscord.start();
 * const client = new Client({ intents: [], rest: { api: fake.apiUrl } });
 * await client.login(fake.token);
 * fake.dispatchInteraction(fake.chatInput({ name: 'imagine', options: [{ name: 'prompt', type: 3, value: 'a cat' }] }));
 * const edit = await fake.waitForRequest((r) => r.method === 'PATCH' && r.path.endsWith('/@original'));
 * ```
 *
 * It records every REST call, keeps the state Discord would keep (interactions and their acknowledgement,
 * messages, attachments, application commands) and is strict: request bodies are validated against Discord's
 * OpenAPI description (see `openapi.ts`) and against the rules the docs state but the schema cannot express
 * (https://discord.com/developers/docs/interactions/receiving-and-responding,
 * https://discord.com/developers/docs/components/reference, https://discord.com/developers/docs/reference#uploading-files).
 * What real Discord rejects, the fake rejects, with Discord's status, error code and body shape.
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PermissionFlagsBits } from 'discord.js';
import { WebSocket, WebSocketServer } from 'ws';
import type { RawData } from 'ws';
import { FakeDiscordCdn, resolvedWithAttachments } from './discordCdn.js';
import type { InteractionAttachmentInput, ResolvedAttachment } from './discordCdn.js';
import { checkRequestBody, toDiscordFormErrors } from './openapi.js';

// ---------------------------------------------------------------------------------------------------------
// Public types

export interface RecordedRequest {
  /** 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE' */
  method: string;
  /** Path after `/api/v10`, decoded (`%40original` -> `@original`), without the query. */
  path: string;
  query: URLSearchParams;
  /** Authorization header value. */
  auth: string | undefined;
  /** Parsed JSON body, or parsed `payload_json` of a multipart body, or undefined. */
  body: unknown;
  /** Multipart file parts (`files[n]`), in order. */
  files: RecordedFile[];
  /** Status the fake answered with. */
  status: number;
  /** Date.now() when received. */
  at: number;
  /** The fake's route template that handled it (e.g. `PATCH /webhooks/{application_id}/{token}/messages/{message_id}`); undefined for unknown routes. */
  route: string | undefined;
  /** The JSON the fake answered with (undefined for 204). */
  response: unknown;
}

export interface RecordedFile {
  field: string;
  filename: string;
  contentType: string | undefined;
  data: Buffer;
}

export interface FakeUser {
  id: string;
  username: string;
  global_name?: string | null;
}

export type InteractionPayload = Record<string, unknown> & { id: string; token: string };

export interface FakeAttachment {
  id: string;
  filename: string;
  size: number;
  url: string;
  proxy_url: string;
  content_type: string | undefined;
  description: string | undefined;
  /** The uploaded bytes (not part of the API object). */
  data: Buffer;
}

export interface FakeMessage {
  id: string;
  channel_id: string;
  author: Record<string, unknown>;
  content: string;
  components: unknown[];
  embeds: unknown[];
  attachments: FakeAttachment[];
  flags: number;
  /** 0 DEFAULT, 20 CHAT_INPUT_COMMAND, ... */
  type: number;
  timestamp: string;
  edited_timestamp: string | null;
  application_id: string | undefined;
  webhook_id: string | undefined;
  interaction_metadata: Record<string, unknown> | undefined;
  /** The poll as Discord returns it, if the message has one. */
  poll: Record<string, unknown> | undefined;
  /** Token of the interaction whose webhook created it; undefined for bot-token messages. */
  interactionToken: string | undefined;
  interactionId: string | undefined;
}

export interface FakeInteractionState {
  id: string;
  token: string;
  /** Interaction type: 2 APPLICATION_COMMAND, 3 MESSAGE_COMPONENT, 4 AUTOCOMPLETE, 5 MODAL_SUBMIT. */
  type: number;
  channelId: string | undefined;
  guildId: string | undefined;
  userId: string | undefined;
  /** Command name (application commands) or custom_id (components, modals). */
  name: string | undefined;
  /** The message a component (or a modal opened from a component) belongs to. */
  messageId: string | undefined;
  /** Callback type of the first response, null while unanswered. */
  acknowledged: number | null;
  /** The message `@original` designates, once there is one. */
  originalMessageId: string | null;
  /** Data of the modal shown in response (callback type 9). */
  modal: Record<string, unknown> | undefined;
  followupIds: string[];
  createdAt: number;
  expired: boolean;
}

/** A request {@link FakeDiscord.holdNext} is holding: not acted on, not answered. */
export interface HeldRequest {
  readonly request: RecordedRequest;
  /** Handles the request as usual and answers it. */
  release(): void;
  /** Cuts the connection: the request never takes effect. */
  drop(): void;
}

export interface FakeChannel {
  id: string;
  /** 0 GUILD_TEXT, 1 DM, 3 GROUP_DM, 10 ANNOUNCEMENT_THREAD, 11 PUBLIC_THREAD, 12 PRIVATE_THREAD ... */
  type: number;
  guildId: string | null;
  /** The channel a thread belongs to (null for every other channel). */
  parentId: string | null;
  /** What the bot may do there (bot-token routes are checked against it). */
  botPermissions: bigint;
}

export interface FakeDiscordOptions {
  token?: string;
  applicationId?: string;
  botUserId?: string;
  botUsername?: string;
  /** Per-file upload limit in bytes (default 10 MiB, Discord's default since 2025). */
  fileSizeLimit?: number;
  /** Whole-request limit in bytes (default 25 MiB). */
  requestSizeLimit?: number;
  /** The initial response must arrive within this many ms of the dispatch (default 3000; null disables). */
  responseDeadlineMs?: number | null;
  /** Interaction tokens stop working this long after the interaction (default 15 minutes). */
  tokenLifetimeMs?: number;
  /** Gateway heartbeat interval sent in HELLO (default 41250). */
  heartbeatInterval?: number;
}

export interface FailureSpec {
  status: number;
  code?: number;
  message?: string;
  /** Seconds, for 429s. */
  retryAfter?: number;
  /** A 429 for the bot's global limit (50 requests/s per bot token) rather than the route's bucket. */
  global?: boolean;
}

type InteractionContext = 0 | 1 | 2;

interface ContextOptions {
  user?: FakeUser;
  guildId?: string | null;
  channelId?: string;
  appPermissions?: string;
  memberPermissions?: string;
  /** 0 GUILD, 1 BOT_DM, 2 PRIVATE_CHANNEL (default: 0 with a guild, 1 without). */
  context?: InteractionContext;
  /** Who installed the app for this interaction (default 'guild' in guilds, 'user' elsewhere). */
  install?: 'guild' | 'user';
  /** The member's role ids (guild interactions). */
  roles?: string[];
}

/** A chat-input option as Discord sends it: a value, or (subcommands) nested options. */
export interface ChatInputOption {
  name: string;
  type: number;
  value?: string | number | boolean;
  options?: ChatInputOption[];
}

export interface ChatInputOptions extends ContextOptions {
  name: string;
  options?: ChatInputOption[];
  /** `data.resolved` (channels, roles, users... referenced by option values), as Discord sends it. */
  resolved?: Record<string, unknown>;
  /** Files of attachment options (type 11, value = the id), from {@link FakeDiscord.interactionAttachment}. */
  attachments?: ResolvedAttachment[];
}

export interface ButtonOptions extends ContextOptions {
  customId: string;
  message: { id: string; content?: string; components?: unknown[] };
}

export interface ModalSubmitOptions extends ContextOptions {
  customId: string;
  fields: Record<string, string>;
  message?: { id: string };
}

// ---------------------------------------------------------------------------------------------------------
// Constants and small helpers

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

const P = PermissionFlagsBits;

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

const FLAG_SUPPRESS_EMBEDS = 1 << 2;
const FLAG_EPHEMERAL = 1 << 6;
const FLAG_LOADING = 1 << 7;
const FLAG_SUPPRESS_NOTIFICATIONS = 1 << 12;
const FLAG_VOICE_MESSAGE = 1 << 13;
const FLAG_COMPONENTS_V2 = 1 << 15;
/** Flags an app may set when creating a message. */
const CREATE_FLAGS = FLAG_SUPPRESS_EMBEDS | FLAG_EPHEMERAL | FLAG_SUPPRESS_NOTIFICATIONS | FLAG_VOICE_MESSAGE | FLAG_COMPONENTS_V2;
/** Flags an edit may carry (Ephemeral is accepted and ignored: ephemerality is fixed at creation). */
const EDIT_FLAGS = FLAG_SUPPRESS_EMBEDS | FLAG_EPHEMERAL | FLAG_SUPPRESS_NOTIFICATIONS | FLAG_COMPONENTS_V2;

const INTERACTION_COMMAND = 2;
const INTERACTION_COMPONENT = 3;
const INTERACTION_AUTOCOMPLETE = 4;
const INTERACTION_MODAL_SUBMIT = 5;

const CHAT_INPUT_NAME = /^[-_'\p{L}\p{N}\p{sc=Deva}\p{sc=Thai}]{1,32}$/u;

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function randomToken(prefix: string, bytes: number): string {
  return `${prefix}${randomBytes(bytes).toString('base64url')}`;
}

/** Discord's thread channel types: ANNOUNCEMENT_THREAD, PUBLIC_THREAD, PRIVATE_THREAD. */
const THREAD_TYPES = new Set([10, 11, 12]);

/**
 * A thread as Discord serializes it (https://discord.com/developers/docs/resources/channel#thread-metadata-object):
 * its parent channel, owner, counts and metadata; `invitable` exists only on private threads.
 */
function threadChannel(channel: FakeChannel): Json {
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
function guildTextChannel(id: string, guildId: string | null | undefined, type: number): Json {
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

function fullUser(user: FakeUser): Json {
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

/** An error Discord would answer with. */
interface ApiError {
  status: number;
  body: Json;
}

function apiError(status: number, code: number, message: string, errors?: Json): ApiError {
  return { status, body: errors ? { message, code, errors } : { message, code } };
}

/** 400 50035 Invalid Form Body with one field error at `path` (e.g. ['data', 'content']). */
function formError(path: Array<string | number>, code: string, message: string): ApiError {
  const errors: Json = {};
  let node = errors;
  for (const segment of path) {
    const next: Json = {};
    node[String(segment)] = next;
    node = next;
  }
  node['_errors'] = [{ code, message }];
  return apiError(400, 50035, 'Invalid Form Body', errors);
}

const unknownInteraction = (): ApiError => apiError(404, 10062, 'Unknown interaction');
const unknownWebhook = (): ApiError => apiError(404, 10015, 'Unknown Webhook');
const invalidWebhookToken = (): ApiError => apiError(401, 50027, 'Invalid Webhook Token');
const unknownMessage = (): ApiError => apiError(404, 10008, 'Unknown Message');
const unknownChannel = (): ApiError => apiError(404, 10003, 'Unknown Channel');
const missingAccess = (): ApiError => apiError(403, 50001, 'Missing Access');
const missingPermissions = (): ApiError => apiError(403, 50013, 'Missing Permissions');

interface ParsedBody {
  body: unknown;
  files: RecordedFile[];
  kind: 'json' | 'multipart' | 'none';
  error: ApiError | undefined;
}

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

interface RequestContext {
  record: RecordedRequest;
  params: Record<string, string>;
  kind: 'json' | 'multipart' | 'none';
}

interface Route {
  method: string;
  template: string;
  segments: string[];
  auth: 'bot' | 'none';
  handle: (ctx: RequestContext) => Reply | ApiError;
}

interface GatewaySession {
  id: string;
  seq: number;
  connection: GatewayConnection | undefined;
  /** Dispatches sent in this session, for RESUME replay. */
  events: Array<{ s: number; t: string; d: unknown }>;
  /** False once the client closed normally (1000/1001) or was told the session is invalid. */
  resumable: boolean;
}

interface GatewayConnection {
  socket: WebSocket;
  session: GatewaySession | undefined;
}

interface Waiter {
  match: (r: RecordedRequest) => boolean;
  resolve: (r: RecordedRequest) => void;
  cancel: (reason: Error) => void;
}

interface Failure {
  match: (method: string, path: string, request: RecordedRequest) => boolean;
  failure: FailureSpec;
  remaining: number;
}

function isErrorReply(value: unknown): value is ApiError {
  return isObject(value) && typeof value['status'] === 'number' && value['status'] >= 400 && isObject(value['body']);
}

// ---------------------------------------------------------------------------------------------------------
// The fake

export class FakeDiscord {
  readonly apiUrl: string;
  readonly gatewayUrl: string;
  readonly token: string;
  readonly applicationId: string;
  readonly botUserId: string;
  readonly botUsername: string;
  /** Default guild and channel of built interactions. */
  readonly guildId: string = snowflake();
  readonly channelId: string = snowflake();
  readonly defaultUser: FakeUser = DEFAULT_USER;
  readonly fileSizeLimit: number;
  readonly requestSizeLimit: number;

  readonly requests: RecordedRequest[] = [];
  readonly invalidBodies: Array<{ method: string; path: string; errors: unknown }> = [];
  readonly messages = new Map<string, FakeMessage>();
  readonly commands: { global: unknown[]; guilds: Map<string, unknown[]> } = { global: [], guilds: new Map() };
  readonly interactions = new Map<string, FakeInteractionState>();
  readonly channels = new Map<string, FakeChannel>();
  /** Errors thrown by the fake itself while handling a request (answered 500); a test should expect none. */
  readonly internalErrors: unknown[] = [];

  readonly #server: Server;
  readonly #wss: WebSocketServer;
  readonly #routes: Route[];
  readonly #responseDeadlineMs: number | null;
  readonly #tokenLifetimeMs: number;
  readonly #heartbeatInterval: number;
  readonly #ownerId = snowflake();
  readonly #failures: Failure[] = [];
  readonly #holds: Array<{ match: (request: RecordedRequest) => boolean; arrived: (held: HeldRequest) => void }> = [];
  /** Drops of the requests being held, run on close. */
  readonly #held = new Set<() => void>();
  readonly #waiters = new Set<Waiter>();
  readonly #readyWaiters: Array<() => void> = [];
  readonly #connections = new Set<GatewayConnection>();
  readonly #sessions = new Map<string, GatewaySession>();
  /** Sessions in the order they became READY/RESUMED; the last live one receives dispatches. */
  #readyOrder: GatewaySession[] = [];
  readonly #expiredTokens = new Set<string>();
  /** Signed attachment URLs, their bytes and refresh-urls (./discordCdn.ts). */
  readonly cdn: FakeDiscordCdn;
  /** Messages a test made up through `button()` rather than the bot posting them. */
  readonly #fabricatedMessages = new Set<string>();
  /** Dispatched interaction payloads by id (for interaction_metadata). */
  readonly #payloads = new Map<string, Json>();

  private constructor(server: Server, port: number, options: FakeDiscordOptions) {
    this.#server = server;
    this.apiUrl = `http://127.0.0.1:${port}/api`;
    this.gatewayUrl = `ws://127.0.0.1:${port}`;
    this.cdn = new FakeDiscordCdn(`http://127.0.0.1:${port}`);
    this.token = options.token ?? randomToken('fake-bot-token-', 24);
    this.applicationId = options.applicationId ?? snowflake();
    this.botUserId = options.botUserId ?? this.applicationId;
    this.botUsername = options.botUsername ?? 'fake-bot';
    this.fileSizeLimit = options.fileSizeLimit ?? 10 * 1024 * 1024;
    this.requestSizeLimit = options.requestSizeLimit ?? 25 * 1024 * 1024;
    this.#responseDeadlineMs = options.responseDeadlineMs === undefined ? 3000 : options.responseDeadlineMs;
    this.#tokenLifetimeMs = options.tokenLifetimeMs ?? 15 * 60 * 1000;
    this.#heartbeatInterval = options.heartbeatInterval ?? 41_250;
    this.#routes = this.#buildRoutes();
    this.channels.set(this.channelId, {
      id: this.channelId,
      type: 0,
      guildId: this.guildId,
      parentId: null,
      botPermissions: DEFAULT_APP_PERMISSIONS,
    });
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      this.#onHttp(req, res).catch((error: unknown) => {
        this.internalErrors.push(error);
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
    this.#wss = new WebSocketServer({ server });
    this.#wss.on('connection', (socket, req) => this.#onGatewayConnection(socket, req));
  }

  /** Starts the fake on a free loopback port. */
  static async start(options: FakeDiscordOptions = {}): Promise<FakeDiscord> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    return new FakeDiscord(server, port, options);
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

  // ----- test controls ----------------------------------------------------------------------------------

  /** Resolves once a client has IDENTIFIED and been sent READY (immediately if one is connected now). */
  waitForReady(): Promise<void> {
    if (this.#liveSession()) return Promise.resolve();
    return new Promise((resolve) => this.#readyWaiters.push(resolve));
  }

  /**
   * Dispatches an INTERACTION_CREATE to the most recently READY client and remembers the interaction.
   * While that client is reconnecting after a drop (see {@link dropGatewayConnection}) the event is kept
   * and replayed on RESUME, as Discord does. Throws when no client is connected.
   */
  dispatchInteraction(payload: object): void {
    const session = this.#readyOrder.at(-1);
    if (!session || (!session.connection && !session.resumable)) {
      throw new Error('FakeDiscord: no gateway client is connected (call client.login first)');
    }
    const data = payload as Json;
    const id = data['id'];
    const token = data['token'];
    if (typeof id !== 'string' || typeof token !== 'string') throw new Error('FakeDiscord: interaction payload needs id and token');
    const inner = isObject(data['data']) ? data['data'] : {};
    const member = isObject(data['member']) ? data['member'] : undefined;
    const user = isObject(data['user']) ? data['user'] : isObject(member?.['user']) ? member['user'] : undefined;
    const message = isObject(data['message']) ? data['message'] : undefined;
    const name = typeof inner['name'] === 'string' ? inner['name'] : typeof inner['custom_id'] === 'string' ? inner['custom_id'] : undefined;
    this.#payloads.set(id, data);
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
    this.#dispatch(session, 'INTERACTION_CREATE', payload);
  }

  /** Waits until a recorded request matches (already-recorded ones count). */
  waitForRequest(match: (r: RecordedRequest) => boolean, timeoutMs = 10_000): Promise<RecordedRequest> {
    const found = this.requests.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        match,
        resolve: (r) => {
          clearTimeout(timer);
          this.#waiters.delete(waiter);
          resolve(r);
        },
        cancel: (reason) => {
          clearTimeout(timer);
          this.#waiters.delete(waiter);
          reject(reason);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        const last = this.requests
          .slice(-15)
          .map((r) => `  ${r.method} ${r.path} -> ${r.status}`)
          .join('\n');
        reject(new Error(`FakeDiscord: no matching request within ${timeoutMs} ms. Last requests:\n${last || '  (none)'}`));
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  /**
   * Makes the next `count` matching requests fail with this status and Discord error body, e.g.
   * `{ status: 500 }`, `{ status: 429, retryAfter: 0.05 }`, `{ status: 403, code: 50013, message: 'Missing Permissions' }`.
   * `match` also sees the parsed request (body and files), e.g. to fail only an upload.
   */
  failNext(match: (method: string, path: string, request: RecordedRequest) => boolean, failure: FailureSpec, count = 1): void {
    this.#failures.push({ match, failure, remaining: count });
  }

  /**
   * Holds the next matching request as if it were still on its way: the fake neither acts on it nor answers it
   * until the test calls `release()` (then it is handled as usual) or `drop()` (the connection is cut and the
   * request never took effect). Resolves once the request has arrived. For crashing a client mid-request.
   */
  holdNext(match: (request: RecordedRequest) => boolean): Promise<HeldRequest> {
    return new Promise((arrived) => this.#holds.push({ match, arrived }));
  }

  /** Expires an interaction token: its webhook calls then answer 401 50027 Invalid Webhook Token. */
  expireToken(token: string): void {
    this.#expiredTokens.add(token);
    for (const state of this.interactions.values()) if (state.token === token) state.expired = true;
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

  /** Requests that hit no route (tests can assert this stays empty). */
  get unknownRequests(): RecordedRequest[] {
    return this.requests.filter((r) => r.route === undefined);
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

  /** Closes the current gateway connection like a network blip (code 4000): discord.js resumes. */
  async dropGatewayConnection(code = 4000): Promise<void> {
    const session = this.#liveSession();
    const socket = session?.connection?.socket;
    if (!socket) throw new Error('FakeDiscord: no gateway client is connected');
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.close(code, 'fake network blip');
    });
  }

  /** Closes the HTTP and WebSocket servers and every socket. */
  async close(): Promise<void> {
    for (const waiter of [...this.#waiters]) waiter.cancel(new Error('FakeDiscord: closed while waiting for a request'));
    for (const drop of this.#held) drop();
    for (const connection of this.#connections) connection.socket.terminate();
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  // ----- interaction builders ----------------------------------------------------------------------------

  /** A chat-input command interaction, using the registered command's id when there is one. */
  chatInput(opts: ChatInputOptions): InteractionPayload {
    const base = this.#interactionBase(opts);
    const guildId = typeof base['guild_id'] === 'string' ? base['guild_id'] : undefined;
    const command = this.#findCommand(opts.name, guildId);
    if (command) this.#checkCommandOptions(command, opts.options ?? []);
    const data: Json = {
      id: typeof command?.['id'] === 'string' ? command['id'] : snowflake(),
      name: opts.name,
      type: 1,
      ...(typeof command?.['guild_id'] === 'string' ? { guild_id: command['guild_id'] } : {}),
      ...(opts.options && opts.options.length > 0 ? { options: structuredClone(opts.options) } : {}),
    };
    const resolved = resolvedWithAttachments(opts.options ?? [], opts.resolved, opts.attachments ?? []);
    if (resolved) data['resolved'] = structuredClone(resolved);
    return { ...base, type: INTERACTION_COMMAND, data };
  }

  /** A file a member put in an attachment option: pass it in `chatInput({ attachments })`, its id as the option value. */
  interactionAttachment(file: InteractionAttachmentInput): ResolvedAttachment {
    return this.cdn.interactionAttachment(this.applicationId, snowflake(), file);
  }

  /**
   * A button click on a message. When the bot posted that message through the fake, the payload carries
   * it as stored and the button must exist on it and be enabled (Discord only sends clicks on real
   * buttons). A message id the fake never saw is registered from `message` (content, components) as a
   * bot message, and clicks on it are not checked, so a test can model stale or tampered custom_ids.
   */
  button(opts: ButtonOptions): InteractionPayload {
    let message = this.messages.get(opts.message.id);
    const fabricated = !message || this.#fabricatedMessages.has(opts.message.id);
    if (!message || (fabricated && (opts.message.content !== undefined || opts.message.components !== undefined))) {
      message = this.#newMessage({
        id: opts.message.id,
        channelId: message?.channel_id ?? opts.channelId ?? this.channelId,
        content: opts.message.content ?? message?.content ?? '',
        components: opts.message.components ? numberComponents(structuredClone(opts.message.components)) : (message?.components ?? []),
      });
      this.messages.set(message.id, message);
      this.#fabricatedMessages.add(message.id);
    }
    const button = findComponent(message.components, opts.customId);
    if (!fabricated) {
      if (!button) throw new Error(`FakeDiscord: message ${message.id} has no component with custom_id ${JSON.stringify(opts.customId)}`);
      if (button['disabled'] === true) throw new Error(`FakeDiscord: button ${JSON.stringify(opts.customId)} is disabled; users cannot click it`);
      if (button['type'] !== 2) throw new Error(`FakeDiscord: component ${JSON.stringify(opts.customId)} is not a button`);
    }
    const base = this.#interactionBase({ ...opts, ...this.#placeOf(message, opts.guildId) });
    return {
      ...base,
      type: INTERACTION_COMPONENT,
      data: { custom_id: opts.customId, component_type: 2, ...(typeof button?.['id'] === 'number' ? { id: button['id'] } : {}) },
      message: this.#messageToApi(message),
    };
  }

  /**
   * A modal submission. When the bot showed a modal with this custom_id, the submission mirrors its layout
   * (labels or action rows) and the fields must be its text inputs, within their length limits.
   */
  modalSubmit(opts: ModalSubmitOptions): InteractionPayload {
    const message = opts.message ? this.messages.get(opts.message.id) : undefined;
    if (opts.message && !message) throw new Error(`FakeDiscord: unknown message ${opts.message.id} for modal submit`);
    const base = this.#interactionBase({ ...opts, ...(message ? this.#placeOf(message, opts.guildId) : {}) });
    const modal = [...this.interactions.values()].reverse().find((s) => s.modal?.['custom_id'] === opts.customId)?.modal;
    const components = modal ? submittedModalComponents(modal, opts.fields) : legacyModalComponents(opts.fields);
    return {
      ...base,
      type: INTERACTION_MODAL_SUBMIT,
      data: { custom_id: opts.customId, components },
      ...(message ? { message: this.#messageToApi(message) } : {}),
    };
  }

  /** A component lives where its message is: same channel, and no guild when that channel is a DM. */
  #placeOf(message: FakeMessage, guildId: string | null | undefined): { channelId: string; guildId: string | null } {
    const channel = this.channels.get(message.channel_id);
    return { channelId: message.channel_id, guildId: guildId !== undefined ? guildId : channel ? channel.guildId : this.guildId };
  }

  #interactionBase(opts: ContextOptions): InteractionPayload {
    const user = opts.user ?? DEFAULT_USER;
    const guildId = opts.guildId === undefined ? this.guildId : opts.guildId;
    const context: InteractionContext = opts.context ?? (guildId ? 0 : 1);
    const install = opts.install ?? (context === 0 ? 'guild' : 'user');
    const channelId = opts.channelId ?? (guildId ? this.channelId : snowflake());
    const appPermissions = opts.appPermissions ?? DEFAULT_APP_PERMISSIONS.toString();
    const memberPermissions = opts.memberPermissions ?? DEFAULT_MEMBER_PERMISSIONS.toString();
    const channelType = guildId ? 0 : context === 2 ? 3 : 1;
    if (!this.channels.has(channelId)) {
      // The bot can post in guild channels it was installed in and in its own DM; not in other users' DMs
      // or in guilds where only a user installed it.
      const botIsThere = context !== 2 && install === 'guild';
      this.setChannel(channelId, {
        type: channelType,
        guildId: guildId ?? null,
        botPermissions: botIsThere || context === 1 ? BigInt(appPermissions) : 0n,
      });
    }
    const owners: Json = install === 'guild' ? { '0': guildId ?? '0' } : { '1': user.id };
    const known = this.channels.get(channelId);
    const channel: Json = guildId
      ? {
          ...(known && THREAD_TYPES.has(known.type) ? threadChannel(known) : guildTextChannel(channelId, guildId, known?.type ?? 0)),
          permissions: memberPermissions,
        }
      : {
          id: channelId,
          type: channelType,
          flags: 0,
          last_message_id: null,
          recipients: [fullUser(user)],
          ...(channelType === 1 ? {} : { name: null, owner_id: user.id, icon: null }),
        };
    const base: InteractionPayload = {
      id: snowflake(),
      token: randomToken('aW50ZXJhY3Rpb246', 120),
      application_id: this.applicationId,
      version: 1,
      channel_id: channelId,
      channel,
      app_permissions: appPermissions,
      locale: 'en-US',
      entitlements: [],
      authorizing_integration_owners: owners,
      context,
      attachment_size_limit: this.fileSizeLimit,
    };
    if (guildId) {
      base['guild_id'] = guildId;
      base['guild'] = { id: guildId, locale: 'en-US', features: [] };
      base['guild_locale'] = 'en-US';
      base['member'] = {
        user: fullUser(user),
        roles: opts.roles ?? [],
        permissions: memberPermissions,
        joined_at: new Date(Date.now() - 86_400_000).toISOString(),
        premium_since: null,
        deaf: false,
        mute: false,
        pending: false,
        flags: 0,
        avatar: null,
        banner: null,
        nick: null,
        communication_disabled_until: null,
        unusual_dm_activity_until: null,
      };
    } else {
      base['user'] = fullUser(user);
    }
    return base;
  }

  #findCommand(name: string, guildId: string | undefined): Json | undefined {
    const pools = [...(guildId ? [this.commands.guilds.get(guildId) ?? []] : []), this.commands.global];
    for (const pool of pools) {
      const found = pool.find((c) => isObject(c) && c['name'] === name && (c['type'] ?? 1) === 1);
      if (isObject(found)) return found;
    }
    return undefined;
  }

  /** Discord only sends options the registered command declares, with values of the declared type. */
  #checkCommandOptions(command: Json, given: ReadonlyArray<ChatInputOption>): void {
    const declared = Array.isArray(command['options']) ? command['options'].filter(isObject) : [];
    if (declared.some((o) => o['type'] === 1 || o['type'] === 2)) return; // subcommands: not modelled here
    for (const option of given) {
      const spec = declared.find((o) => o['name'] === option.name);
      if (!spec) throw new Error(`FakeDiscord: /${String(command['name'])} has no option ${JSON.stringify(option.name)}`);
      if (spec['type'] !== option.type) {
        throw new Error(`FakeDiscord: option ${option.name} of /${String(command['name'])} has type ${String(spec['type'])}, not ${option.type}`);
      }
      const choices = Array.isArray(spec['choices']) ? spec['choices'].filter(isObject) : [];
      if (choices.length > 0 && !choices.some((c) => c['value'] === option.value)) {
        throw new Error(`FakeDiscord: ${JSON.stringify(option.value)} is not a choice of option ${option.name}`);
      }
    }
    for (const spec of declared) {
      if (spec['required'] === true && !given.some((o) => o.name === spec['name'])) {
        throw new Error(`FakeDiscord: required option ${String(spec['name'])} of /${String(command['name'])} is missing`);
      }
    }
  }

  // ----- HTTP --------------------------------------------------------------------------------------------

  async #onHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const at = Date.now();
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const method = (req.method ?? 'GET').toUpperCase();
    const { data, size } = await readBody(req, this.requestSizeLimit * 4);

    if (this.cdn.isCdnPath(url.pathname)) {
      this.cdn.serve(method, url, res);
      return;
    }

    const rawPath = url.pathname.startsWith('/api/v10/') ? url.pathname.slice('/api/v10'.length) : url.pathname;
    const segments = rawPath.split('/').slice(1).map(safeDecode);
    const record: RecordedRequest = {
      method,
      path: `/${segments.join('/')}`,
      query: url.searchParams,
      auth: req.headers.authorization,
      body: undefined,
      files: [],
      status: 0,
      at,
      route: undefined,
      response: undefined,
    };
    const truncated = size > data.length;
    const parsed = truncated ? undefined : await parseBody(req.headers['content-type'], data);
    if (parsed) {
      record.body = parsed.body;
      record.files = parsed.files;
    }

    const hold = this.#holds.find((h) => h.match(record));
    if (hold) {
      this.#holds.splice(this.#holds.indexOf(hold), 1);
      let drop = () => {};
      const released = await new Promise<boolean>((resolve) => {
        drop = () => resolve(false);
        this.#held.add(drop);
        hold.arrived({ request: record, release: () => resolve(true), drop });
      });
      this.#held.delete(drop);
      if (!released) {
        res.destroy();
        return;
      }
    }

    let reply: Reply | ApiError;
    try {
      reply = this.#route(record, url.pathname.startsWith('/api/v10/'), segments, size, parsed);
    } catch (error) {
      this.internalErrors.push(error);
      reply = { status: 500, body: { message: '500: Internal Server Error', code: 0 } };
    }
    record.status = reply.status;
    record.response = reply.body;
    this.requests.push(record);
    for (const waiter of [...this.#waiters]) {
      try {
        if (waiter.match(record)) waiter.resolve(record);
      } catch (error) {
        waiter.cancel(error instanceof Error ? error : new Error(String(error)));
      }
    }

    const headers: Record<string, string> = { ...('headers' in reply ? reply.headers : {}) };
    if (reply.body === undefined || reply.status === 204) {
      res.writeHead(reply.status, headers).end();
    } else {
      res.writeHead(reply.status, { ...headers, 'Content-Type': 'application/json' }).end(JSON.stringify(reply.body));
    }
  }

  #route(record: RecordedRequest, versioned: boolean, segments: string[], size: number, parsed: ParsedBody | undefined): Reply | ApiError {
    const notFound: ApiError = apiError(404, 0, '404: Not Found');
    if (!versioned) return notFound;
    const candidates = this.#routes.filter((r) => matchSegments(r.segments, segments) !== undefined);
    const route = candidates.find((r) => r.method === record.method);
    if (!route) {
      return candidates.length > 0 ? apiError(405, 0, '405: Method Not Allowed') : notFound;
    }
    record.route = `${route.method} ${route.template}`;
    const params = matchSegments(route.segments, segments) ?? {};

    const failure = this.#failures.find((f) => f.remaining > 0 && f.match(record.method, record.path, record));
    if (failure) {
      failure.remaining -= 1;
      return failureReply(failure.failure);
    }

    // Cloudflare answers oversized requests before Discord looks at them.
    if (size > this.requestSizeLimit) return apiError(413, 40005, 'Request entity too large');
    if (parsed?.files.some((f) => f.data.length > this.fileSizeLimit)) return apiError(413, 40005, 'Request entity too large');

    if (route.auth === 'bot' && record.auth !== `Bot ${this.token}`) return apiError(401, 0, '401: Unauthorized');

    for (const [name, value] of Object.entries(params)) {
      if (name.endsWith('_id') && !/^\d{1,20}$/.test(value) && !(name === 'message_id' && value === '@original')) {
        return formError([name], 'NUMBER_TYPE_COERCE', `Value "${value}" is not snowflake.`);
      }
    }

    if (!parsed) return apiError(400, 0, '400: Bad Request');
    if (parsed.error) return parsed.error;

    if (parsed.files.length > 10) return apiError(400, 30015, 'Maximum number of attachments in a message reached (10)');
    for (const [index, file] of parsed.files.entries()) {
      if (file.filename.length > 1024) {
        return formError([file.field || `files[${index}]`, 'filename'], 'BASE_TYPE_MAX_LENGTH', 'Must be 1024 or fewer in length.');
      }
    }

    if (parsed.kind !== 'none' || ['POST', 'PUT', 'PATCH'].includes(record.method)) {
      const check = checkRequestBody(record.method, record.path, parsed.body, parsed.kind === 'multipart' ? 'multipart' : 'json');
      if (check && check.errors.length > 0) {
        this.invalidBodies.push({ method: record.method, path: record.path, errors: check.errors });
        return apiError(400, 50035, 'Invalid Form Body', toDiscordFormErrors(check.errors));
      }
    }

    return route.handle({ record, params, kind: parsed.kind });
  }

  #buildRoutes(): Route[] {
    const routes: Route[] = [];
    const add = (method: string, template: string, auth: Route['auth'], handle: Route['handle']): void => {
      routes.push({ method, template, segments: template.split('/').slice(1), auth, handle });
    };
    add('GET', '/gateway', 'none', () => ({ status: 200, body: { url: this.gatewayUrl } }));
    add('GET', '/gateway/bot', 'bot', () => ({
      status: 200,
      body: {
        url: this.gatewayUrl,
        shards: 1,
        session_start_limit: { total: 1000, remaining: 999, reset_after: 0, max_concurrency: 1 },
      },
    }));
    add('GET', '/users/@me', 'bot', () => ({ status: 200, body: this.botUser }));
    add('GET', '/applications/@me', 'bot', () => ({ status: 200, body: this.#application() }));
    add('GET', '/oauth2/applications/@me', 'bot', () => ({ status: 200, body: this.#application() }));

    for (const scope of ['', '/guilds/{guild_id}']) {
      const list = `/applications/{application_id}${scope}/commands`;
      add('GET', list, 'bot', (ctx) => this.#withApp(ctx, () => ({ status: 200, body: this.#commandPool(ctx.params) })));
      add('PUT', list, 'bot', (ctx) => this.#withApp(ctx, () => this.#putCommands(ctx)));
      add('POST', list, 'bot', (ctx) => this.#withApp(ctx, () => this.#postCommand(ctx)));
      add('GET', `${list}/{command_id}`, 'bot', (ctx) => this.#withApp(ctx, () => this.#getCommand(ctx)));
      add('PATCH', `${list}/{command_id}`, 'bot', (ctx) => this.#withApp(ctx, () => this.#patchCommand(ctx)));
      add('DELETE', `${list}/{command_id}`, 'bot', (ctx) => this.#withApp(ctx, () => this.#deleteCommand(ctx)));
    }

    add('POST', '/interactions/{interaction_id}/{token}/callback', 'none', (ctx) => this.#callback(ctx));
    add('POST', '/webhooks/{application_id}/{token}', 'none', (ctx) => this.#followup(ctx));
    for (const method of ['GET', 'PATCH', 'DELETE']) {
      add(method, '/webhooks/{application_id}/{token}/messages/{message_id}', 'none', (ctx) => this.#webhookMessage(ctx));
    }

    add('POST', '/attachments/refresh-urls', 'bot', (ctx) => this.cdn.refreshUrls(ctx.record.body));
    add('GET', '/channels/{channel_id}', 'bot', (ctx) => this.#getChannel(ctx));
    add('POST', '/channels/{channel_id}/typing', 'bot', (ctx) => this.#withChannel(ctx, P.SendMessages, () => ({ status: 204 })));
    add('POST', '/channels/{channel_id}/messages', 'bot', (ctx) => this.#createChannelMessage(ctx));
    for (const method of ['GET', 'PATCH', 'DELETE']) {
      add(method, '/channels/{channel_id}/messages/{message_id}', 'bot', (ctx) => this.#channelMessage(ctx));
    }
    return routes;
  }

  #application(): Json {
    return {
      id: this.applicationId,
      name: 'Fake Application',
      icon: null,
      description: '',
      summary: '',
      type: null,
      hook: true,
      bot_public: true,
      bot_require_code_grant: false,
      verify_key: randomBytes(32).toString('hex'),
      flags: 0,
      owner: { id: this.#ownerId, username: 'app-owner', discriminator: '0', global_name: null, avatar: null, public_flags: 0, flags: 0 },
      team: null,
      bot: this.botUser,
      redirect_uris: [],
      interactions_endpoint_url: null,
      role_connections_verification_url: null,
      tags: [],
      approximate_guild_count: 1,
      approximate_user_install_count: 0,
      integration_types_config: { '0': {}, '1': {} },
    };
  }

  // ----- commands ---------------------------------------------------------------------------------------

  #withApp(ctx: RequestContext, run: () => Reply | ApiError): Reply | ApiError {
    if (ctx.params['application_id'] !== this.applicationId) return missingAccess();
    return run();
  }

  #commandPool(params: Record<string, string>): unknown[] {
    const guildId = params['guild_id'];
    return guildId ? (this.commands.guilds.get(guildId) ?? []) : this.commands.global;
  }

  #setCommandPool(params: Record<string, string>, commands: unknown[]): void {
    const guildId = params['guild_id'];
    if (guildId) this.commands.guilds.set(guildId, commands);
    else this.commands.global = commands;
  }

  #putCommands(ctx: RequestContext): Reply | ApiError {
    const body = Array.isArray(ctx.record.body) ? ctx.record.body.filter(isObject) : [];
    const error = validateCommands(body);
    if (error) return error;
    const existing = this.#commandPool(ctx.params).filter(isObject);
    const stored = body.map((definition) => this.#storeCommand(definition, ctx.params['guild_id'], existing));
    this.#setCommandPool(ctx.params, stored);
    return { status: 200, body: stored };
  }

  #postCommand(ctx: RequestContext): Reply | ApiError {
    const definition = isObject(ctx.record.body) ? ctx.record.body : {};
    const pool = this.#commandPool(ctx.params).filter(isObject);
    const others = pool.filter((c) => !(c['name'] === definition['name'] && c['type'] === (definition['type'] ?? 1)));
    const error = validateCommands([...others, definition]);
    if (error) return error;
    const stored = this.#storeCommand(definition, ctx.params['guild_id'], pool);
    const replaced = others.length < pool.length;
    this.#setCommandPool(ctx.params, [...others, stored]);
    return { status: replaced ? 200 : 201, body: stored };
  }

  #getCommand(ctx: RequestContext): Reply | ApiError {
    const found = this.#commandPool(ctx.params).find((c) => isObject(c) && c['id'] === ctx.params['command_id']);
    return found ? { status: 200, body: found } : apiError(404, 10063, 'Unknown application command');
  }

  #patchCommand(ctx: RequestContext): Reply | ApiError {
    const pool = this.#commandPool(ctx.params).filter(isObject);
    const index = pool.findIndex((c) => c['id'] === ctx.params['command_id']);
    const current = pool[index];
    if (!current) return apiError(404, 10063, 'Unknown application command');
    const merged = { ...current, ...(isObject(ctx.record.body) ? ctx.record.body : {}) };
    const error = validateCommands(pool.map((c, i) => (i === index ? merged : c)));
    if (error) return error;
    const stored = this.#storeCommand(merged, ctx.params['guild_id'], pool);
    this.#setCommandPool(ctx.params, pool.map((c, i) => (i === index ? stored : c)));
    return { status: 200, body: stored };
  }

  #deleteCommand(ctx: RequestContext): Reply | ApiError {
    const pool = this.#commandPool(ctx.params).filter(isObject);
    if (!pool.some((c) => c['id'] === ctx.params['command_id'])) return apiError(404, 10063, 'Unknown application command');
    this.#setCommandPool(ctx.params, pool.filter((c) => c['id'] !== ctx.params['command_id']));
    return { status: 204 };
  }

  #storeCommand(definition: Json, guildId: string | undefined, existing: Json[]): Json {
    const type = typeof definition['type'] === 'number' ? definition['type'] : 1;
    const previous = existing.find((c) => c['name'] === definition['name'] && c['type'] === type);
    const permissions = definition['default_member_permissions'];
    return {
      id: typeof previous?.['id'] === 'string' ? previous['id'] : snowflake(),
      application_id: this.applicationId,
      version: snowflake(),
      type,
      name: definition['name'],
      name_localizations: definition['name_localizations'] ?? null,
      description: definition['description'] ?? '',
      description_localizations: definition['description_localizations'] ?? null,
      ...(Array.isArray(definition['options']) ? { options: definition['options'] } : {}),
      default_member_permissions: permissions === null || permissions === undefined ? null : String(permissions),
      nsfw: definition['nsfw'] ?? false,
      ...(guildId
        ? { guild_id: guildId }
        : {
            dm_permission: definition['dm_permission'] ?? true,
            contexts: definition['contexts'] ?? null,
            integration_types: definition['integration_types'] ?? [0],
          }),
    };
  }

  // ----- interactions -----------------------------------------------------------------------------------

  #tokenExpired(state: FakeInteractionState): boolean {
    return state.expired || this.#expiredTokens.has(state.token) || Date.now() - state.createdAt > this.#tokenLifetimeMs;
  }

  #callback(ctx: RequestContext): Reply | ApiError {
    const state = this.interactions.get(ctx.params['interaction_id'] ?? '');
    if (!state || state.token !== ctx.params['token'] || this.#tokenExpired(state)) return unknownInteraction();
    if (state.acknowledged !== null) return apiError(400, 40060, 'Interaction has already been acknowledged.');
    if (this.#responseDeadlineMs !== null && Date.now() - state.createdAt > this.#responseDeadlineMs) {
      // Discord stops waiting after 3 s; the interaction is then unknown.
      return unknownInteraction();
    }
    const body = isObject(ctx.record.body) ? ctx.record.body : {};
    const type = body['type'];
    const data = isObject(body['data']) ? body['data'] : undefined;
    const invalidType = (): ApiError =>
      formError(['type'], 'INTERACTION_RESPONSE_TYPE_INVALID', `Interaction response type ${String(type)} is not valid for interaction type ${state.type}.`);
    const fromCommandLike = state.type === INTERACTION_COMMAND || state.type === INTERACTION_COMPONENT || state.type === INTERACTION_MODAL_SUBMIT;
    const hasMessage = state.type === INTERACTION_COMPONENT || (state.type === INTERACTION_MODAL_SUBMIT && state.messageId !== undefined);
    const files = ctx.record.files;
    let message: FakeMessage | undefined;

    switch (type) {
      case 4: {
        if (!fromCommandLike) return invalidType();
        const created = this.#buildMessage(data ?? {}, files, {
          channelId: state.channelId ?? this.channelId,
          interaction: state,
          messageType: state.type === INTERACTION_COMMAND ? 20 : 0,
        });
        if (isErrorReply(created)) return prefixErrors(created, 'data');
        message = created;
        this.messages.set(message.id, message);
        state.originalMessageId = message.id;
        break;
      }
      case 5: {
        if (!fromCommandLike) return invalidType();
        const extra = Object.keys(data ?? {}).filter((k) => k !== 'flags');
        if (extra.length > 0) return formError(['data', extra[0] ?? ''], 'INTERACTION_DEFERRED_DATA_INVALID', 'A deferred response may only carry flags.');
        if (files.length > 0) return formError(['files'], 'INTERACTION_DEFERRED_DATA_INVALID', 'A deferred response cannot carry files.');
        const flags = typeof data?.['flags'] === 'number' ? data['flags'] : 0;
        if ((flags & ~FLAG_EPHEMERAL) !== 0) return formError(['data', 'flags'], 'MESSAGE_FLAGS_INVALID', 'A deferred response may only set the EPHEMERAL flag.');
        message = this.#newMessage({
          channelId: state.channelId ?? this.channelId,
          flags: flags | FLAG_LOADING,
          type: state.type === INTERACTION_COMMAND ? 20 : 0,
          interaction: state,
        });
        this.messages.set(message.id, message);
        state.originalMessageId = message.id;
        break;
      }
      case 6:
      case 7: {
        if (!hasMessage || !state.messageId) return invalidType();
        const target = this.messages.get(state.messageId);
        if (!target) return unknownMessage();
        if (type === 7) {
          const edited = this.#editMessage(target, data ?? {}, files);
          if (isErrorReply(edited)) return prefixErrors(edited, 'data');
          message = edited;
        } else if (data !== undefined || files.length > 0) {
          return formError(['data'], 'INTERACTION_DEFERRED_DATA_INVALID', 'DEFERRED_UPDATE_MESSAGE takes no data.');
        }
        state.originalMessageId = target.id;
        break;
      }
      case 8:
        if (state.type !== INTERACTION_AUTOCOMPLETE) return invalidType();
        break;
      case 9: {
        if (state.type !== INTERACTION_COMMAND && state.type !== INTERACTION_COMPONENT) return invalidType();
        const error = validateModal(data ?? {});
        if (error) return error;
        state.modal = structuredClone(data ?? {});
        break;
      }
      default:
        return invalidType();
    }
    state.acknowledged = type;

    if (ctx.record.query.get('with_response') !== 'true') return { status: 204 };
    const original = state.originalMessageId ? this.messages.get(state.originalMessageId) : undefined;
    return {
      status: 200,
      body: {
        interaction: {
          id: state.id,
          type: state.type,
          ...(original && type !== 6
            ? {
                response_message_id: original.id,
                response_message_loading: (original.flags & FLAG_LOADING) !== 0,
                response_message_ephemeral: (original.flags & FLAG_EPHEMERAL) !== 0,
              }
            : {}),
        },
        resource: { type, ...(message ? { message: this.#messageToApi(message) } : {}) },
      },
    };
  }

  /** The interaction behind a webhook URL, or Discord's answer when there is none usable. */
  #webhookState(params: Record<string, string>): FakeInteractionState | ApiError {
    if (params['application_id'] !== this.applicationId) return unknownWebhook();
    const token = params['token'] ?? '';
    const state = [...this.interactions.values()].find((s) => s.token === token);
    if (!state || this.#tokenExpired(state)) return invalidWebhookToken();
    // The interaction webhook only exists once the interaction was answered.
    if (state.acknowledged === null) return unknownWebhook();
    return state;
  }

  #followup(ctx: RequestContext): Reply | ApiError {
    const state = this.#webhookState(ctx.params);
    if ('status' in state) return state;
    const body = isObject(ctx.record.body) ? ctx.record.body : {};
    const wait = ctx.record.query.get('wait') === 'true';
    const original = state.originalMessageId ? this.messages.get(state.originalMessageId) : undefined;
    let message: FakeMessage;
    if (state.acknowledged === 5 && original && (original.flags & FLAG_LOADING) !== 0) {
      // The first followup after a deferred reply replaces the "thinking..." message, keeping its ephemerality.
      const edited = this.#editMessage(original, body, ctx.record.files);
      if (isErrorReply(edited)) return edited;
      message = edited;
    } else {
      const created = this.#buildMessage(body, ctx.record.files, {
        channelId: state.channelId ?? this.channelId,
        interaction: state,
        messageType: 0,
      });
      if (isErrorReply(created)) return created;
      message = created;
      this.messages.set(message.id, message);
      state.followupIds.push(message.id);
    }
    return wait ? { status: 200, body: this.#messageToApi(message) } : { status: 204 };
  }

  #webhookMessage(ctx: RequestContext): Reply | ApiError {
    const state = this.#webhookState(ctx.params);
    if ('status' in state) return state;
    const requested = ctx.params['message_id'];
    const id = requested === '@original' ? state.originalMessageId : requested;
    const message = id ? this.messages.get(id) : undefined;
    if (!message) return unknownMessage();
    const ownedByApp = message.webhook_id === this.applicationId || message.id === state.messageId;
    const ephemeralOfOther = (message.flags & FLAG_EPHEMERAL) !== 0 && message.interactionToken !== state.token && message.id !== state.messageId;
    if (!ownedByApp || ephemeralOfOther) return unknownMessage();
    switch (ctx.record.method) {
      case 'GET':
        return { status: 200, body: this.#messageToApi(message) };
      case 'DELETE':
        this.messages.delete(message.id);
        return { status: 204 };
      default: {
        const edited = this.#editMessage(message, isObject(ctx.record.body) ? ctx.record.body : {}, ctx.record.files);
        if (isErrorReply(edited)) return edited;
        return { status: 200, body: this.#messageToApi(edited) };
      }
    }
  }

  // ----- channel messages (bot token) --------------------------------------------------------------------

  #withChannel(ctx: RequestContext, needs: bigint, run: (channel: FakeChannel) => Reply | ApiError): Reply | ApiError {
    const channel = this.channels.get(ctx.params['channel_id'] ?? '');
    if (!channel) return unknownChannel();
    if ((channel.botPermissions & P.ViewChannel) === 0n) return missingAccess();
    if ((channel.botPermissions & needs) !== needs) return missingPermissions();
    return run(channel);
  }

  #getChannel(ctx: RequestContext): Reply | ApiError {
    return this.#withChannel(ctx, 0n, (channel) => ({
      status: 200,
      body:
        channel.type === 1
          ? { id: channel.id, type: 1, flags: 0, last_message_id: null, recipients: [fullUser(DEFAULT_USER)] }
          : THREAD_TYPES.has(channel.type)
            ? threadChannel(channel)
            : { ...guildTextChannel(channel.id, channel.guildId, channel.type), permission_overwrites: [] },
    }));
  }

  #createChannelMessage(ctx: RequestContext): Reply | ApiError {
    // In a thread, Send Messages in Threads stands in for Send Messages.
    const inThread = THREAD_TYPES.has(this.channels.get(ctx.params['channel_id'] ?? '')?.type ?? 0);
    const needs = (inThread ? P.SendMessagesInThreads : P.SendMessages) | (ctx.record.files.length > 0 ? P.AttachFiles : 0n);
    return this.#withChannel(ctx, needs, (channel) => {
      const body = isObject(ctx.record.body) ? ctx.record.body : {};
      if (typeof body['flags'] === 'number' && (body['flags'] & FLAG_EPHEMERAL) !== 0) {
        return formError(['flags'], 'MESSAGE_FLAGS_INVALID', 'Only interaction responses can be ephemeral.');
      }
      const created = this.#buildMessage(body, ctx.record.files, { channelId: channel.id, interaction: undefined, messageType: 0 });
      if (isErrorReply(created)) return created;
      this.messages.set(created.id, created);
      return { status: 200, body: this.#messageToApi(created) };
    });
  }

  #channelMessage(ctx: RequestContext): Reply | ApiError {
    return this.#withChannel(ctx, ctx.record.method === 'GET' ? P.ReadMessageHistory : 0n, (channel) => {
      const message = this.messages.get(ctx.params['message_id'] ?? '');
      if (!message || message.channel_id !== channel.id || (message.flags & FLAG_EPHEMERAL) !== 0) return unknownMessage();
      switch (ctx.record.method) {
        case 'GET':
          return { status: 200, body: this.#messageToApi(message) };
        case 'DELETE':
          if (message.author['id'] !== this.botUserId && (channel.botPermissions & P.ManageMessages) === 0n) return missingPermissions();
          this.messages.delete(message.id);
          return { status: 204 };
        default: {
          if (message.author['id'] !== this.botUserId) return apiError(403, 50005, 'Cannot edit a message authored by another user');
          const edited = this.#editMessage(message, isObject(ctx.record.body) ? ctx.record.body : {}, ctx.record.files);
          if (isErrorReply(edited)) return edited;
          return { status: 200, body: this.#messageToApi(edited) };
        }
      }
    });
  }

  // ----- messages -----------------------------------------------------------------------------------------

  #newMessage(init: {
    id?: string;
    channelId: string;
    content?: string;
    components?: unknown[];
    flags?: number;
    type?: number;
    interaction?: FakeInteractionState | undefined;
  }): FakeMessage {
    const interaction = init.interaction;
    return {
      id: init.id ?? snowflake(),
      channel_id: init.channelId,
      author: this.botUser,
      content: init.content ?? '',
      components: init.components ?? [],
      embeds: [],
      attachments: [],
      flags: init.flags ?? 0,
      type: init.type ?? 0,
      timestamp: new Date().toISOString(),
      edited_timestamp: null,
      application_id: interaction ? this.applicationId : undefined,
      webhook_id: interaction ? this.applicationId : undefined,
      interaction_metadata: interaction ? this.#interactionMetadata(interaction) : undefined,
      poll: undefined,
      interactionToken: interaction?.token,
      interactionId: interaction?.id,
    };
  }

  #interactionMetadata(state: FakeInteractionState): Json {
    const payload = this.#payloads.get(state.id) ?? {};
    const member = isObject(payload['member']) ? payload['member'] : {};
    const user = isObject(payload['user']) ? payload['user'] : isObject(member['user']) ? member['user'] : fullUser(DEFAULT_USER);
    return {
      id: state.id,
      type: state.type,
      user,
      authorizing_integration_owners: isObject(payload['authorizing_integration_owners']) ? payload['authorizing_integration_owners'] : {},
      ...(state.type === INTERACTION_COMMAND ? { name: state.name, command_type: 1 } : {}),
      ...(state.type === INTERACTION_COMPONENT && state.messageId ? { interacted_message_id: state.messageId } : {}),
    };
  }

  /** Creates a message from a create body (not stored yet). */
  #buildMessage(
    body: Json,
    files: RecordedFile[],
    init: { channelId: string; interaction: FakeInteractionState | undefined; messageType: number },
  ): FakeMessage | ApiError {
    const flags = typeof body['flags'] === 'number' ? body['flags'] : 0;
    if ((flags & ~CREATE_FLAGS) !== 0) return formError(['flags'], 'MESSAGE_FLAGS_INVALID', `Flags ${flags} cannot be set on a new message.`);
    const message = this.#newMessage({
      channelId: init.channelId,
      type: init.messageType,
      flags,
      interaction: init.interaction,
    });
    const applied = this.#applyContent(message, body, files, false);
    return isErrorReply(applied) ? applied : message;
  }

  /** Applies an edit body to a copy of the message and stores it. */
  #editMessage(message: FakeMessage, body: Json, files: RecordedFile[]): FakeMessage | ApiError {
    const next: FakeMessage = { ...message, attachments: [...message.attachments] };
    if (typeof body['flags'] === 'number') {
      const flags = body['flags'];
      if ((flags & ~EDIT_FLAGS) !== 0) return formError(['flags'], 'MESSAGE_FLAGS_INVALID', `Flags ${flags} cannot be set by an edit.`);
      if ((message.flags & FLAG_COMPONENTS_V2) !== 0 && (flags & FLAG_COMPONENTS_V2) === 0) {
        return formError(['flags'], 'MESSAGE_CANNOT_REMOVE_COMPONENTS_V2_FLAG', 'The IS_COMPONENTS_V2 flag cannot be removed from a message.');
      }
      next.flags = (message.flags & (FLAG_EPHEMERAL | FLAG_LOADING | FLAG_COMPONENTS_V2)) | (flags & (FLAG_SUPPRESS_EMBEDS | FLAG_COMPONENTS_V2));
    }
    const applied = this.#applyContent(next, body, files, true);
    if (isErrorReply(applied)) return applied;
    const wasLoading = (next.flags & FLAG_LOADING) !== 0;
    next.flags &= ~FLAG_LOADING;
    // The edit that fills in a deferred reply is not shown as an edit.
    next.edited_timestamp = wasLoading ? null : new Date().toISOString();
    this.messages.set(next.id, next);
    return next;
  }

  /** Validates and applies content/embeds/components/attachments of a create or edit body. */
  #applyContent(message: FakeMessage, body: Json, files: RecordedFile[], isEdit: boolean): FakeMessage | ApiError {
    if ('content' in body) {
      const content = body['content'];
      if (typeof content === 'string' && content.length > 2000) {
        return formError(['content'], 'BASE_TYPE_MAX_LENGTH', 'Must be 2000 or fewer in length.');
      }
      message.content = typeof content === 'string' ? content : '';
    }
    if ('embeds' in body) message.embeds = Array.isArray(body['embeds']) ? structuredClone(body['embeds']) : [];
    if ('components' in body) message.components = Array.isArray(body['components']) ? structuredClone(body['components']) : [];
    const poll = body['poll'];
    if (isObject(poll)) {
      if (isEdit) return formError(['poll'], 'POLL_CANNOT_BE_EDITED', 'Polls cannot be edited.');
      message.poll = storedPoll(poll);
    }

    const attachments = this.#resolveAttachments(message, body, files, isEdit);
    if (isErrorReply(attachments)) return attachments;
    message.attachments = attachments;

    const error = validateMessageShape(message);
    if (error) return error;
    message.components = numberComponents(message.components);
    return message;
  }

  /**
   * Discord's attachment rules: `attachments` in the body lists every attachment the message keeps
   * (existing ids) or gains (`id` = n of a `files[n]` part, with optional filename/description); without
   * it, an edit keeps the existing attachments and new files are added.
   */
  #resolveAttachments(message: FakeMessage, body: Json, files: RecordedFile[], isEdit: boolean): FakeAttachment[] | ApiError {
    const byIndex = new Map<string, RecordedFile>();
    for (const [position, file] of files.entries()) {
      const index = /^files\[(\d+)\]$/.exec(file.field)?.[1] ?? String(position);
      byIndex.set(index, file);
    }
    const listed = Array.isArray(body['attachments']) ? body['attachments'].filter(isObject) : undefined;
    const result: FakeAttachment[] = [];
    const used = new Set<string>();
    if (listed) {
      for (const entry of listed) {
        const id = String(entry['id']);
        const file = byIndex.get(id);
        if (file && !used.has(id)) {
          used.add(id);
          result.push(this.#storeAttachment(message, file, entry));
          continue;
        }
        const kept = message.attachments.find((a) => a.id === id);
        if (kept) result.push(kept);
      }
    } else if (isEdit) {
      result.push(...message.attachments);
    }
    for (const [index, file] of byIndex) {
      if (!used.has(index)) result.push(this.#storeAttachment(message, file, undefined));
    }
    if (result.length > 10) return apiError(400, 30015, 'Maximum number of attachments in a message reached (10)');
    return result;
  }

  #storeAttachment(message: FakeMessage, file: RecordedFile, entry: Json | undefined): FakeAttachment {
    const id = snowflake();
    const filename = typeof entry?.['filename'] === 'string' ? entry['filename'] : file.filename;
    const url = this.cdn.storeAttachment(message.channel_id, id, filename, file.data, file.contentType);
    return {
      id,
      filename,
      size: file.data.length,
      url,
      proxy_url: url,
      content_type: file.contentType,
      description: typeof entry?.['description'] === 'string' ? entry['description'] : undefined,
      data: file.data,
    };
  }

  #messageToApi(message: FakeMessage): Json {
    return {
      id: message.id,
      channel_id: message.channel_id,
      author: message.author,
      content: message.content,
      timestamp: message.timestamp,
      edited_timestamp: message.edited_timestamp,
      tts: false,
      mention_everyone: false,
      mentions: [],
      mention_roles: [],
      attachments: message.attachments.map((a) => ({
        id: a.id,
        filename: a.filename,
        size: a.size,
        // Discord signs attachment URLs afresh in every payload it sends.
        url: this.cdn.resign(a.url) ?? a.url,
        proxy_url: this.cdn.resign(a.proxy_url) ?? a.proxy_url,
        ...(a.content_type ? { content_type: a.content_type } : {}),
        ...(a.description ? { description: a.description } : {}),
        ...((message.flags & FLAG_EPHEMERAL) !== 0 ? { ephemeral: true } : {}),
      })),
      embeds: structuredClone(message.embeds),
      components: structuredClone(message.components),
      pinned: false,
      type: message.type,
      flags: message.flags,
      ...(message.application_id ? { application_id: message.application_id } : {}),
      ...(message.webhook_id ? { webhook_id: message.webhook_id } : {}),
      ...(message.interaction_metadata ? { interaction_metadata: message.interaction_metadata } : {}),
      ...(message.poll ? { poll: structuredClone(message.poll) } : {}),
    };
  }

  // ----- gateway ------------------------------------------------------------------------------------------

  #liveSession(): GatewaySession | undefined {
    const session = this.#readyOrder.at(-1);
    return session?.connection?.socket.readyState === WebSocket.OPEN ? session : undefined;
  }

  #onGatewayConnection(socket: WebSocket, req: IncomingMessage): void {
    const connection: GatewayConnection = { socket, session: undefined };
    this.#connections.add(connection);
    const query = new URL(req.url ?? '/', 'http://127.0.0.1').searchParams;
    socket.on('close', (code) => {
      this.#connections.delete(connection);
      const session = connection.session;
      if (session && session.connection === connection) {
        session.connection = undefined;
        if (code === 1000 || code === 1001) session.resumable = false;
      }
    });
    socket.on('error', () => undefined);
    if (query.get('v') !== '10') {
      socket.close(4012, 'Invalid API version');
      return;
    }
    if ((query.get('encoding') ?? 'json') !== 'json' || query.has('compress')) {
      socket.close(4002, 'Only uncompressed JSON is supported by the fake');
      return;
    }
    socket.on('message', (raw: RawData) => this.#onGatewayMessage(connection, raw));
    send(socket, { op: 10, d: { heartbeat_interval: this.#heartbeatInterval }, s: null, t: null });
  }

  #onGatewayMessage(connection: GatewayConnection, raw: RawData): void {
    const { socket } = connection;
    let payload: Json;
    try {
      const parsed: unknown = JSON.parse(rawToString(raw));
      if (!isObject(parsed)) throw new Error('not an object');
      payload = parsed;
    } catch {
      socket.close(4002, 'Decode error');
      return;
    }
    const d = isObject(payload['d']) ? payload['d'] : {};
    switch (payload['op']) {
      case 1:
        send(socket, { op: 11, d: null, s: null, t: null });
        return;
      case 2: {
        if (connection.session) {
          socket.close(4005, 'Already authenticated');
          return;
        }
        if (d['token'] !== this.token && d['token'] !== `Bot ${this.token}`) {
          socket.close(4004, 'Authentication failed');
          return;
        }
        if (typeof d['intents'] !== 'number') {
          socket.close(4013, 'Invalid intent(s)');
          return;
        }
        const shard = d['shard'];
        if (shard !== undefined && (!Array.isArray(shard) || shard[0] !== 0 || shard[1] !== 1)) {
          socket.close(4010, 'Invalid shard');
          return;
        }
        const session: GatewaySession = { id: randomBytes(16).toString('hex'), seq: 0, connection, events: [], resumable: true };
        connection.session = session;
        this.#sessions.set(session.id, session);
        this.#dispatch(session, 'READY', {
          v: 10,
          user: { ...this.botUser, verified: true, mfa_enabled: false, email: null },
          guilds: [],
          session_id: session.id,
          session_type: 'normal',
          resume_gateway_url: this.gatewayUrl,
          application: { id: this.applicationId, flags: 0 },
          private_channels: [],
          presences: [],
          relationships: [],
          guild_join_requests: [],
          geo_ordered_rtc_regions: [],
          auth_session_id_hash: randomBytes(16).toString('base64'),
          user_settings: {},
          ...(shard !== undefined ? { shard } : {}),
          _trace: ['["fake-gateway",{"micros":0}]'],
        });
        this.#markReady(session);
        return;
      }
      case 6: {
        const session = typeof d['session_id'] === 'string' ? this.#sessions.get(d['session_id']) : undefined;
        const tokenOk = d['token'] === this.token || d['token'] === `Bot ${this.token}`;
        const live = session?.connection && session.connection !== connection && session.connection.socket.readyState === WebSocket.OPEN;
        if (!session || !tokenOk || !session.resumable || live || typeof d['seq'] !== 'number') {
          send(socket, { op: 9, d: false, s: null, t: null });
          return;
        }
        const seq = d['seq'];
        connection.session = session;
        session.connection = connection;
        for (const event of session.events) {
          if (event.s > seq) send(socket, { op: 0, t: event.t, s: event.s, d: event.d });
        }
        this.#dispatch(session, 'RESUMED', { _trace: ['["fake-gateway",{"micros":0}]'] });
        this.#markReady(session);
        return;
      }
      case 3:
      case 4:
      case 8:
      case 14:
      case 31:
        if (!connection.session) socket.close(4003, 'Not authenticated');
        return;
      default:
        socket.close(4001, 'Unknown opcode');
    }
  }

  #markReady(session: GatewaySession): void {
    this.#readyOrder = [...this.#readyOrder.filter((s) => s !== session), session];
    for (const resolve of this.#readyWaiters.splice(0)) resolve();
  }

  #dispatch(session: GatewaySession, t: string, d: unknown): void {
    session.seq += 1;
    const event = { s: session.seq, t, d };
    session.events.push(event);
    if (session.events.length > 1000) session.events.shift();
    const socket = session.connection?.socket;
    if (socket?.readyState === WebSocket.OPEN) send(socket, { op: 0, ...event });
  }
}

// ---------------------------------------------------------------------------------------------------------
// Pure helpers

function send(socket: WebSocket, payload: Json): void {
  socket.send(JSON.stringify(payload));
}

function rawToString(raw: RawData): string {
  if (Array.isArray(raw)) return Buffer.concat(raw).toString('utf8');
  if (raw instanceof ArrayBuffer) return Buffer.from(raw).toString('utf8');
  return raw.toString('utf8');
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function matchSegments(template: string[], actual: string[]): Record<string, string> | undefined {
  if (template.length !== actual.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, part] of template.entries()) {
    const value = actual[i] ?? '';
    const param = /^\{(.+)\}$/.exec(part)?.[1];
    if (param) {
      if (value === '') return undefined;
      params[param] = value;
    } else if (part !== value) {
      return undefined;
    }
  }
  return params;
}

function readBody(req: IncomingMessage, keepAtMost: number): Promise<{ data: Buffer; size: number }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let kept = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (kept + chunk.length <= keepAtMost) {
        chunks.push(chunk);
        kept += chunk.length;
      }
    });
    req.on('end', () => resolve({ data: Buffer.concat(chunks), size }));
    req.on('error', reject);
  });
}

async function parseBody(contentType: string | undefined, data: Buffer): Promise<ParsedBody> {
  if (data.length === 0) return { body: undefined, files: [], kind: 'none', error: undefined };
  if (contentType?.startsWith('multipart/form-data')) {
    let form: FormData;
    try {
      form = await new Response(data, { headers: { 'content-type': contentType } }).formData();
    } catch {
      return { body: undefined, files: [], kind: 'multipart', error: apiError(400, 50035, 'Invalid Form Body') };
    }
    const files: RecordedFile[] = [];
    const fields: Json = {};
    let body: unknown;
    let error: ApiError | undefined;
    for (const [field, value] of form.entries()) {
      if (typeof value === 'string') {
        if (field === 'payload_json') {
          try {
            body = JSON.parse(value) as unknown;
          } catch {
            error = apiError(400, 50109, 'The request body contains invalid JSON.');
          }
        } else {
          fields[field] = value;
        }
      } else {
        files.push({
          field,
          filename: value.name,
          contentType: value.type === '' ? undefined : value.type,
          data: Buffer.from(await value.arrayBuffer()),
        });
      }
    }
    if (body === undefined && Object.keys(fields).length > 0) body = fields;
    return { body, files, kind: 'multipart', error };
  }
  try {
    return { body: JSON.parse(data.toString('utf8')) as unknown, files: [], kind: 'json', error: undefined };
  } catch {
    return { body: undefined, files: [], kind: 'json', error: apiError(400, 50109, 'The request body contains invalid JSON.') };
  }
}

function failureReply(failure: FailureSpec): Reply {
  if (failure.status === 429) {
    const retryAfter = failure.retryAfter ?? 1;
    const global = failure.global ?? false;
    const body = { message: failure.message ?? 'You are being rate limited.', retry_after: retryAfter, global, code: failure.code ?? 0 };
    if (global) {
      // Discord's global 429 carries no bucket headers (https://discord.com/developers/docs/topics/rate-limits).
      return { status: 429, body, headers: { 'Retry-After': String(retryAfter), 'X-RateLimit-Global': 'true', 'X-RateLimit-Scope': 'global' } };
    }
    return {
      status: 429,
      body,
      headers: {
        'Retry-After': String(retryAfter),
        'X-RateLimit-Scope': 'user',
        'X-RateLimit-Limit': '5',
        'X-RateLimit-Remaining': '0',
        'X-RateLimit-Reset-After': String(retryAfter),
      },
    };
  }
  const defaultMessage = failure.status >= 500 ? `${failure.status}: Internal Server Error` : `${failure.status}: Error`;
  return { status: failure.status, body: { message: failure.message ?? defaultMessage, code: failure.code ?? 0 } };
}

/** A poll request as Discord stores it (https://discord.com/developers/docs/resources/poll). */
function storedPoll(poll: Json): Json {
  const hours = typeof poll['duration'] === 'number' ? poll['duration'] : 24;
  const answers = Array.isArray(poll['answers']) ? poll['answers'].filter(isObject) : [];
  return {
    question: poll['question'],
    answers: answers.map((answer, i) => ({ answer_id: i + 1, poll_media: answer['poll_media'] })),
    expiry: new Date(Date.now() + hours * 3_600_000).toISOString(),
    allow_multiselect: poll['allow_multiselect'] === true,
    layout_type: typeof poll['layout_type'] === 'number' ? poll['layout_type'] : 1,
    results: { is_finalized: false, answer_counts: [] },
  };
}

/** Nests the `errors` of a form error under a prefix (`data` for interaction callbacks). */
function prefixErrors(error: ApiError, prefix: string): ApiError {
  const errors = error.body['errors'];
  if (!isObject(errors)) return error;
  return { status: error.status, body: { ...error.body, errors: { [prefix]: errors } } };
}

/** Every component (depth-first), with nested rows, containers, sections and labels. */
function walkComponents(components: unknown[], visit: (component: Json) => void): void {
  for (const component of components) {
    if (!isObject(component)) continue;
    visit(component);
    if (Array.isArray(component['components'])) walkComponents(component['components'], visit);
    if (isObject(component['accessory'])) walkComponents([component['accessory']], visit);
    if (isObject(component['component'])) walkComponents([component['component']], visit);
  }
}

function findComponent(components: unknown[], customId: string): Json | undefined {
  let found: Json | undefined;
  walkComponents(components, (c) => {
    if (!found && c['custom_id'] === customId) found = c;
  });
  return found;
}

/** Discord numbers components that have no `id` (1, 2, ... in depth-first order, skipping taken ids). */
function numberComponents(components: unknown[]): unknown[] {
  const taken = new Set<number>();
  walkComponents(components, (c) => {
    if (typeof c['id'] === 'number') taken.add(c['id']);
  });
  let next = 1;
  walkComponents(components, (c) => {
    if (typeof c['id'] === 'number') return;
    while (taken.has(next)) next += 1;
    c['id'] = next;
    taken.add(next);
  });
  return components;
}

function textLength(components: unknown[]): number {
  let total = 0;
  walkComponents(components, (c) => {
    if (c['type'] === 10 && typeof c['content'] === 'string') total += c['content'].length;
  });
  return total;
}

function embedLength(embeds: unknown[]): number {
  let total = 0;
  for (const embed of embeds.filter(isObject)) {
    for (const key of ['title', 'description'] as const) if (typeof embed[key] === 'string') total += embed[key].length;
    if (isObject(embed['footer']) && typeof embed['footer']['text'] === 'string') total += embed['footer']['text'].length;
    if (isObject(embed['author']) && typeof embed['author']['name'] === 'string') total += embed['author']['name'].length;
    for (const field of Array.isArray(embed['fields']) ? embed['fields'].filter(isObject) : []) {
      if (typeof field['name'] === 'string') total += field['name'].length;
      if (typeof field['value'] === 'string') total += field['value'].length;
    }
  }
  return total;
}

/**
 * Rules of https://discord.com/developers/docs/components/reference that the schema cannot express:
 * legacy messages hold up to 5 action rows; Components V2 messages carry no content/embeds, at most 40
 * components and 4000 characters of text, and reference only attachments they have; custom_ids are 1-100
 * characters and unique within the message; a message is never empty.
 */
function validateMessageShape(message: FakeMessage): ApiError | undefined {
  const v2 = (message.flags & FLAG_COMPONENTS_V2) !== 0;
  const { components } = message;
  if (v2) {
    if (message.content !== '') return formError(['content'], 'MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2', 'The content field cannot be used when using MessageFlags.IS_COMPONENTS_V2');
    if (message.embeds.length > 0) return formError(['embeds'], 'MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2', 'The embeds field cannot be used when using MessageFlags.IS_COMPONENTS_V2');
    let count = 0;
    walkComponents(components, () => {
      count += 1;
    });
    if (count > 40) return formError(['components'], 'BASE_TYPE_MAX_LENGTH', 'Must be 40 or fewer in length.');
    if (textLength(components) > 4000) return formError(['components'], 'COMPONENT_MAX_TOTAL_TEXT_LENGTH_EXCEEDED', 'Total text length must be 4000 or fewer.');
    const names = new Set(message.attachments.map((a) => a.filename));
    let missing: string | undefined;
    walkComponents(components, (c) => {
      const urls: unknown[] = [];
      if (isObject(c['media'])) urls.push(c['media']['url']);
      if (isObject(c['file'])) urls.push(c['file']['url']);
      if (Array.isArray(c['items'])) for (const item of c['items'].filter(isObject)) if (isObject(item['media'])) urls.push(item['media']['url']);
      for (const url of urls) {
        if (typeof url === 'string' && url.startsWith('attachment://') && !names.has(url.slice('attachment://'.length))) missing ??= url;
      }
    });
    if (missing) return formError(['components'], 'UNFURLED_MEDIA_ITEM_ATTACHMENT_NOT_FOUND', `Attachment ${missing} was not found in the message.`);
  } else {
    if (components.length > 5) return formError(['components'], 'BASE_TYPE_MAX_LENGTH', 'Must be 5 or fewer in length.');
    for (const [i, row] of components.entries()) {
      if (!isObject(row) || row['type'] !== 1) {
        return formError(['components', i, 'type'], 'COMPONENT_LAYOUT_INVALID', 'Only action rows can be top-level components without the IS_COMPONENTS_V2 flag.');
      }
    }
  }
  for (const [i, row] of components.entries()) {
    if (!isObject(row) || row['type'] !== 1 || !Array.isArray(row['components'])) continue;
    const children = row['components'].filter(isObject);
    if (children.length > 5) return formError(['components', i, 'components'], 'BASE_TYPE_MAX_LENGTH', 'Must be 5 or fewer in length.');
    const selects = children.filter((c) => c['type'] !== 2);
    if (selects.length > 0 && children.length > 1) {
      return formError(['components', i, 'components'], 'COMPONENT_LAYOUT_WIDTH_EXCEEDED', 'A select menu must be alone in its action row.');
    }
    for (const [j, button] of children.entries()) {
      if (button['type'] !== 2) continue;
      const link = button['style'] === 5;
      const premium = button['style'] === 6;
      if (link && (typeof button['url'] !== 'string' || button['custom_id'] !== undefined)) {
        return formError(['components', i, 'components', j], 'BUTTON_COMPONENT_URL_REQUIRED', 'Link buttons need a url and cannot have a custom_id.');
      }
      if (!link && !premium && typeof button['custom_id'] !== 'string') {
        return formError(['components', i, 'components', j, 'custom_id'], 'BUTTON_COMPONENT_CUSTOM_ID_REQUIRED', 'Buttons need a custom_id.');
      }
      if (!link && !premium && button['label'] === undefined && button['emoji'] === undefined) {
        return formError(['components', i, 'components', j], 'BUTTON_COMPONENT_LABEL_OR_EMOJI_REQUIRED', 'Buttons need a label or an emoji.');
      }
    }
  }
  const seen = new Set<string>();
  let problem: ApiError | undefined;
  walkComponents(components, (c) => {
    const customId = c['custom_id'];
    if (problem || customId === undefined) return;
    if (typeof customId !== 'string' || customId.length < 1 || customId.length > 100) {
      problem = formError(['components'], 'BASE_TYPE_BAD_LENGTH', 'custom_id must be between 1 and 100 in length.');
    } else if (seen.has(customId)) {
      problem = formError(['components'], 'COMPONENT_CUSTOM_ID_DUPLICATED', `Component custom id "${customId}" cannot be duplicated`);
    } else {
      seen.add(customId);
    }
  });
  if (problem) return problem;
  if (embedLength(message.embeds) > 6000) return formError(['embeds'], 'BASE_TYPE_MAX_LENGTH', 'Embed size exceeds maximum size of 6000');
  const loading = (message.flags & FLAG_LOADING) !== 0;
  const empty = message.content === '' && message.embeds.length === 0 && components.length === 0 && message.attachments.length === 0;
  if (!loading && empty && !message.poll) {
    return apiError(400, 50006, 'Cannot send an empty message');
  }
  return undefined;
}

/** Modal rules: custom_id 1-100, title 1-45, 1-5 top-level components, unique custom_ids, text inputs within 4000. */
function validateModal(data: Json): ApiError | undefined {
  const customId = data['custom_id'];
  if (typeof customId !== 'string' || customId.length < 1 || customId.length > 100) {
    return formError(['data', 'custom_id'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
  }
  const title = data['title'];
  if (typeof title !== 'string' || title.length < 1 || title.length > 45) {
    return formError(['data', 'title'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 45 in length.');
  }
  const components = Array.isArray(data['components']) ? data['components'] : [];
  if (components.length < 1 || components.length > 5) {
    return formError(['data', 'components'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 5 in length.');
  }
  const seen = new Set<string>();
  let problem: ApiError | undefined;
  walkComponents(components, (c) => {
    if (problem) return;
    const id = c['custom_id'];
    if (typeof id === 'string') {
      if (id.length < 1 || id.length > 100) problem = formError(['data', 'components'], 'BASE_TYPE_BAD_LENGTH', 'custom_id must be between 1 and 100 in length.');
      else if (seen.has(id)) problem = formError(['data', 'components'], 'COMPONENT_CUSTOM_ID_DUPLICATED', `Component custom id "${id}" cannot be duplicated`);
      seen.add(id);
    }
    if (c['type'] === 4) {
      for (const key of ['max_length', 'min_length'] as const) {
        const n = c[key];
        if (typeof n === 'number' && (n < 0 || n > 4000)) problem = formError(['data', 'components'], 'NUMBER_TYPE_MAX', `${key} must be between 0 and 4000.`);
      }
      if (typeof c['value'] === 'string' && c['value'].length > 4000) problem = formError(['data', 'components'], 'BASE_TYPE_MAX_LENGTH', 'Must be 4000 or fewer in length.');
    }
  });
  return problem;
}

function legacyModalComponents(fields: Record<string, string>): unknown[] {
  let id = 0;
  return Object.entries(fields).map(([customId, value]) => ({
    type: 1,
    id: ++id,
    components: [{ type: 4, id: ++id, custom_id: customId, value }],
  }));
}

/** What Discord sends back for a shown modal: its layout, each text input carrying the user's value. */
function submittedModalComponents(modal: Json, fields: Record<string, string>): unknown[] {
  const components = numberComponents(structuredClone(Array.isArray(modal['components']) ? modal['components'] : []));
  const inputs = new Map<string, Json>();
  walkComponents(components, (c) => {
    if (c['type'] === 4 && typeof c['custom_id'] === 'string') inputs.set(c['custom_id'], c);
  });
  for (const name of Object.keys(fields)) {
    if (!inputs.has(name)) throw new Error(`FakeDiscord: the modal ${String(modal['custom_id'])} has no text input ${JSON.stringify(name)}`);
  }
  const strip = (c: Json): Json => {
    if (c['type'] === 4) {
      const value = fields[String(c['custom_id'])] ?? '';
      const required = c['required'] !== false;
      if (required && value === '') throw new Error(`FakeDiscord: text input ${String(c['custom_id'])} is required`);
      const min = typeof c['min_length'] === 'number' ? c['min_length'] : 0;
      const max = typeof c['max_length'] === 'number' ? c['max_length'] : 4000;
      if (value !== '' && (value.length < min || value.length > max)) {
        throw new Error(`FakeDiscord: text input ${String(c['custom_id'])} must be ${min}-${max} characters`);
      }
      return { type: 4, id: c['id'], custom_id: c['custom_id'], value };
    }
    if (Array.isArray(c['components'])) return { type: c['type'], id: c['id'], components: c['components'].filter(isObject).map(strip) };
    if (isObject(c['component'])) return { type: c['type'], id: c['id'], component: strip(c['component']) };
    return { type: c['type'], id: c['id'] };
  };
  return components.filter(isObject).map(strip);
}

/**
 * Command rules of https://discord.com/developers/docs/interactions/application-commands beyond the schema:
 * lowercase chat-input names, unique names per type, required options first, unique option names,
 * at most 100 chat-input commands and 8000 characters per command.
 */
function validateCommands(commands: Json[]): ApiError | undefined {
  const seen = new Set<string>();
  let chatInput = 0;
  for (const [i, command] of commands.entries()) {
    const type = typeof command['type'] === 'number' ? command['type'] : 1;
    const name = typeof command['name'] === 'string' ? command['name'] : '';
    if (type === 1) {
      chatInput += 1;
      if (!CHAT_INPUT_NAME.test(name) || name !== name.toLowerCase()) {
        return formError([i, 'name'], 'APPLICATION_COMMAND_INVALID_NAME', `Command name "${name}" is invalid`);
      }
      const description = command['description'];
      if (typeof description !== 'string' || description.length < 1 || description.length > 100) {
        return formError([i, 'description'], 'BASE_TYPE_BAD_LENGTH', 'Must be between 1 and 100 in length.');
      }
    } else if (typeof command['description'] === 'string' && command['description'] !== '') {
      return formError([i, 'description'], 'APPLICATION_COMMAND_DESCRIPTION_INVALID', 'Context menu commands cannot have a description.');
    }
    const key = `${type}:${name}`;
    if (seen.has(key)) return formError([i, 'name'], 'APPLICATION_COMMANDS_DUPLICATE_NAME', `Application command names must be unique`);
    seen.add(key);
    const optionError = validateOptions(Array.isArray(command['options']) ? command['options'].filter(isObject) : [], [i, 'options']);
    if (optionError) return optionError;
    if (commandSize(command) > 8000) return formError([i], 'APPLICATION_COMMAND_TOO_LARGE', 'Command exceeds maximum size (8000)');
  }
  if (chatInput > 100) return apiError(400, 30032, 'Maximum number of application commands reached (100)');
  return undefined;
}

function validateOptions(options: Json[], path: Array<string | number>): ApiError | undefined {
  const names = new Set<string>();
  let optionalSeen = false;
  for (const [j, option] of options.entries()) {
    const name = typeof option['name'] === 'string' ? option['name'] : '';
    if (!CHAT_INPUT_NAME.test(name) || name !== name.toLowerCase()) {
      return formError([...path, j, 'name'], 'APPLICATION_COMMAND_INVALID_NAME', `Option name "${name}" is invalid`);
    }
    if (names.has(name)) return formError([...path, j, 'name'], 'APPLICATION_COMMAND_OPTION_NAME_ALREADY_EXISTS', 'Option names must be unique');
    names.add(name);
    const required = option['required'] === true;
    if (required && optionalSeen) {
      return formError([...path, j, 'required'], 'APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID', 'Required options must be placed before non-required options');
    }
    if (!required) optionalSeen = true;
    if (option['autocomplete'] === true && Array.isArray(option['choices']) && option['choices'].length > 0) {
      return formError([...path, j, 'autocomplete'], 'APPLICATION_COMMAND_AUTOCOMPLETE_INVALID', 'Autocomplete cannot be used with choices');
    }
    if (Array.isArray(option['options'])) {
      const nested = validateOptions(option['options'].filter(isObject), [...path, j, 'options']);
      if (nested) return nested;
    }
  }
  return undefined;
}

function commandSize(command: Json): number {
  let total = 0;
  const add = (value: unknown): void => {
    if (typeof value === 'string') total += value.length;
    else if (typeof value === 'number') total += String(value).length;
    else if (isObject(value)) for (const v of Object.values(value)) add(v);
  };
  add(command['name']);
  add(command['description']);
  add(command['name_localizations']);
  add(command['description_localizations']);
  const visit = (options: unknown): void => {
    if (!Array.isArray(options)) return;
    for (const option of options.filter(isObject)) {
      add(option['name']);
      add(option['description']);
      add(option['name_localizations']);
      add(option['description_localizations']);
      for (const choice of Array.isArray(option['choices']) ? option['choices'].filter(isObject) : []) {
        add(choice['name']);
        add(choice['value']);
        add(choice['name_localizations']);
      }
      visit(option['options']);
    }
  };
  visit(command['options']);
  return total;
}
