/**
 * `FakeDiscord`, the one object tests hold: it starts the loopback server and composes the parts of the fake
 * (the state in `model.ts`, the REST side in `http.ts`/`router.ts`/`requests.ts`, the gateway in
 * `gateway.ts`, the payload builders in `builders.ts`) behind the controls tests use. See `../discord.ts`.
 */
import type { FakeDiscordCdn, InteractionAttachmentInput, ResolvedAttachment } from '../discordCdn.js';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { button, chatInput, modalSubmit } from './builders.js';
import { FakeGateway, shardOf, type ShardTuple } from './gateway.js';
import { serveHttp } from './http.js';
import { DiscordModel } from './model.js';
import { DEFAULT_USER, snowflake, type Json } from './protocol.js';
import { RequestLog } from './requests.js';
import { Router } from './router.js';
import type {
  ButtonOptions,
  ChatInputOptions,
  FailureSpec,
  FakeChannel,
  FakeDiscordOptions,
  FakeInteractionState,
  FakeMessage,
  FakeUser,
  HeldRequest,
  InteractionPayload,
  ModalSubmitOptions,
  RecordedRequest,
} from './types.js';

export class FakeDiscord {
  readonly apiUrl: string;
  readonly gatewayUrl: string;
  readonly token: string;
  readonly applicationId: string;
  readonly botUserId: string;
  readonly botUsername: string;
  /** Default guild and channel of built interactions. */
  readonly guildId: string;
  readonly channelId: string;
  readonly defaultUser: FakeUser = DEFAULT_USER;
  readonly fileSizeLimit: number;
  readonly requestSizeLimit: number;

  readonly requests: RecordedRequest[];
  readonly invalidBodies: Array<{ method: string; path: string; errors: unknown }>;
  readonly messages: Map<string, FakeMessage>;
  readonly commands: { global: unknown[]; guilds: Map<string, unknown[]> };
  readonly interactions: Map<string, FakeInteractionState>;
  readonly channels: Map<string, FakeChannel>;
  /** Signed attachment URLs, their bytes and refresh-urls (../discordCdn.ts). */
  readonly cdn: FakeDiscordCdn;
  /** Errors thrown by the fake itself while handling a request (answered 500); a test should expect none. */
  readonly internalErrors: unknown[];

  readonly #server: Server;
  readonly #model: DiscordModel;
  readonly #log = new RequestLog();
  readonly #gateway: FakeGateway;

  private constructor(server: Server, port: number, options: FakeDiscordOptions) {
    this.#server = server;
    const model = new DiscordModel(port, options);
    this.#model = model;
    this.apiUrl = model.apiUrl;
    this.gatewayUrl = model.gatewayUrl;
    this.token = model.token;
    this.applicationId = model.applicationId;
    this.botUserId = model.botUserId;
    this.botUsername = model.botUsername;
    this.guildId = model.guildId;
    this.channelId = model.channelId;
    this.fileSizeLimit = model.fileSizeLimit;
    this.requestSizeLimit = model.requestSizeLimit;
    this.messages = model.messages;
    this.commands = model.commands;
    this.interactions = model.interactions;
    this.channels = model.channels;
    this.cdn = model.cdn;
    this.requests = this.#log.requests;
    this.invalidBodies = this.#log.invalidBodies;
    this.internalErrors = this.#log.internalErrors;
    const gateway = new FakeGateway(server, model, {
      heartbeatInterval: options.heartbeatInterval ?? 41_250,
      recommendedShards: checkedShardCount(options.shards ?? 1),
    });
    this.#gateway = gateway;
    serveHttp(
      server,
      model,
      this.#log,
      new Router(model, this.#log, { recommendedShards: () => gateway.recommendedShards }),
    );
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
    return this.#model.botUser;
  }

  // ----- test controls ----------------------------------------------------------------------------------

  /**
   * Resolves once a client has IDENTIFIED and been sent READY (immediately if one is connected now); with
   * `shard` (`[id, count]`), a client of that shard.
   */
  waitForReady(shard?: ShardTuple): Promise<void> {
    return this.#gateway.waitForReady(shard);
  }

  /** The `[id, count]` of every connected gateway session, in the order they became READY. */
  liveShards(): ShardTuple[] {
    return this.#gateway.liveShards();
  }

  /**
   * The shard Discord sends a guild's events to: `(guild_id >> 22) % count`; DMs (no guild) go to shard 0
   * (https://discord.com/developers/docs/events/gateway#sharding).
   */
  static shardOf(guildId: string | undefined, count: number): number {
    return shardOf(guildId, count);
  }

  /**
   * What GET /gateway/bot recommends from now on (Discord raises it as a bot joins servers); a client that
   * identifies with fewer shards is then closed with 4011 Sharding required. Sessions already open stay.
   */
  setRecommendedShards(count: number): void {
    this.#gateway.recommendedShards = checkedShardCount(count);
  }

  /**
   * Dispatches an INTERACTION_CREATE and remembers the interaction. It goes where Discord sends it: to the most
   * recently READY session of the guild's shard ({@link shardOf}; DMs to shard 0). While that session is
   * reconnecting after a drop (see {@link dropGatewayConnection}) the event is kept and replayed on RESUME, as
   * Discord does. Throws when no client of that shard is connected. Returns the shard it was sent to.
   */
  dispatchInteraction(payload: object): ShardTuple {
    const data = payload as Json;
    const id = data['id'];
    const token = data['token'];
    const guildId = data['guild_id'];
    if (typeof id !== 'string' || typeof token !== 'string')
      throw new Error('FakeDiscord: interaction payload needs id and token');
    const session = this.#gateway.dispatchSession(typeof guildId === 'string' ? guildId : undefined);
    this.#model.addInteraction(data, id, token);
    this.#gateway.dispatch(session, 'INTERACTION_CREATE', payload);
    return session.shard;
  }

  /** Waits until a recorded request matches (already-recorded ones count). */
  waitForRequest(match: (r: RecordedRequest) => boolean, timeoutMs = 10_000): Promise<RecordedRequest> {
    return this.#log.waitForRequest(match, timeoutMs);
  }

  /**
   * Makes the next `count` matching requests fail with this status and Discord error body, e.g.
   * `{ status: 500 }`, `{ status: 429, retryAfter: 0.05 }`, `{ status: 403, code: 50013, message: 'Missing Permissions' }`.
   * `match` also sees the parsed request (body and files), e.g. to fail only an upload.
   */
  failNext(
    match: (method: string, path: string, request: RecordedRequest) => boolean,
    failure: FailureSpec,
    count = 1,
  ): void {
    this.#log.failNext(match, failure, count);
  }

  /**
   * Holds the next matching request as if it were still on its way: the fake neither acts on it nor answers it
   * until the test calls `release()` (then it is handled as usual) or `drop()` (the connection is cut and the
   * request never took effect). Resolves once the request has arrived. For crashing a client mid-request.
   */
  holdNext(match: (request: RecordedRequest) => boolean): Promise<HeldRequest> {
    return this.#log.holdNext(match);
  }

  /** Expires an interaction token: its webhook calls then answer 401 50027 Invalid Webhook Token. */
  expireToken(token: string): void {
    this.#model.expireToken(token);
  }

  /** Adds or replaces a channel the bot can (or cannot) post in with its own token. */
  setChannel(
    id: string,
    options: { type?: number; guildId?: string | null; botPermissions?: bigint; parentId?: string } = {},
  ): FakeChannel {
    return this.#model.setChannel(id, options);
  }

  /** Requests that hit no route (tests can assert this stays empty). */
  get unknownRequests(): RecordedRequest[] {
    return this.#log.unknownRequests;
  }

  /** The state of the interaction a payload (or id) designates. */
  interaction(idOrPayload: string | { id: string }): FakeInteractionState | undefined {
    return this.#model.interaction(idOrPayload);
  }

  /** The message `@original` of an interaction currently designates. */
  originalMessage(idOrPayload: string | { id: string }): FakeMessage | undefined {
    return this.#model.originalMessage(idOrPayload);
  }

  /**
   * Closes a gateway connection like a network blip (code 4000): discord.js resumes. The most recently READY
   * one, or with `shardId` the most recent of that shard.
   */
  dropGatewayConnection(code = 4000, shardId?: number): Promise<void> {
    return this.#gateway.dropGatewayConnection(code, shardId);
  }

  /** Closes the HTTP and WebSocket servers and every socket. */
  async close(): Promise<void> {
    this.#log.close();
    await this.#gateway.close();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  // ----- interaction builders ----------------------------------------------------------------------------

  /** A chat-input command interaction, using the registered command's id when there is one. */
  chatInput(opts: ChatInputOptions): InteractionPayload {
    return chatInput(this.#model, opts);
  }

  /** A file a member put in an attachment option: pass it in `chatInput({ attachments })`, its id as the option value. */
  interactionAttachment(file: InteractionAttachmentInput): ResolvedAttachment {
    return this.#model.cdn.interactionAttachment(this.applicationId, snowflake(), file);
  }

  /**
   * A button click on a message. When the bot posted that message through the fake, the payload carries
   * it as stored and the button must exist on it and be enabled (Discord only sends clicks on real
   * buttons). A message id the fake never saw is registered from `message` (content, components) as a
   * bot message, and clicks on it are not checked, so a test can model stale or tampered custom_ids.
   */
  button(opts: ButtonOptions): InteractionPayload {
    return button(this.#model, opts);
  }

  /**
   * A modal submission. When the bot showed a modal with this custom_id, the submission mirrors its layout
   * (labels or action rows) and the fields must be its text inputs, within their length limits.
   */
  modalSubmit(opts: ModalSubmitOptions): InteractionPayload {
    return modalSubmit(this.#model, opts);
  }
}

function checkedShardCount(count: number): number {
  if (!Number.isInteger(count) || count < 1) throw new Error(`FakeDiscord: a shard count is a whole number >= 1`);
  return count;
}
