/** The fake Discord's public types: what it records, the state it keeps, and the options its builders take. */
import type { ResolvedAttachment } from '../discordCdn.js';

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
  readonly release: () => void;
  /** Cuts the connection: the request never takes effect. */
  readonly drop: () => void;
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
  /**
   * The shard count Discord recommends (`shards` of GET /gateway/bot, default 1); above 1, a client that
   * identifies with fewer shards is closed with 4011 Sharding required. See {@link FakeDiscord.setRecommendedShards}.
   */
  shards?: number;
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

export type InteractionContext = 0 | 1 | 2;

export interface ContextOptions {
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
