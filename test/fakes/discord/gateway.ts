/**
 * The fake gateway (https://discord.com/developers/docs/events/gateway): a WebSocket server on the same port
 * that sends HELLO, answers heartbeats, accepts IDENTIFY (READY) and RESUME (replaying missed dispatches),
 * closes with Discord's close codes, and dispatches a guild's events to the most recently READY session of the
 * guild's shard (https://discord.com/developers/docs/events/gateway#sharding).
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';
import type { RawData } from 'ws';
import type { DiscordModel } from './model.js';
import { isObject, type Json } from './protocol.js';

/** `[shard_id, num_shards]`, as IDENTIFY sends it. */
export type ShardTuple = readonly [id: number, count: number];

/** The shard Discord sends a guild's events to; DMs (no guild) go to shard 0. */
export function shardOf(guildId: string | undefined, count: number): number {
  return guildId === undefined ? 0 : Number((BigInt(guildId) >> 22n) % BigInt(count));
}

/** A guild id on shard `shard` of `count` ({@link shardOf}); `n` picks another such guild. */
export function guildOnShard(shard: number, count: number, n = 0): string {
  return String((BigInt(count) * (1_000_000_000n + BigInt(n)) + BigInt(shard)) << 22n);
}

export interface GatewaySession {
  id: string;
  /** The shard the client identified as ([0, 1] when it sent none). */
  shard: ShardTuple;
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

export class FakeGateway {
  readonly #model: DiscordModel;
  readonly #heartbeatInterval: number;
  readonly #wss: WebSocketServer;
  /** Each returns true once it has resolved. */
  readonly #readyWaiters: Array<() => boolean> = [];
  readonly #connections = new Set<GatewayConnection>();
  readonly #sessions = new Map<string, GatewaySession>();
  /** Sessions in the order they became READY/RESUMED; the last one of a guild's shard receives its dispatches. */
  #readyOrder: GatewaySession[] = [];
  /** What GET /gateway/bot recommends; a client identifying with fewer shards is refused (when above 1). */
  recommendedShards: number;

  constructor(server: Server, model: DiscordModel, options: { heartbeatInterval: number; recommendedShards: number }) {
    this.#model = model;
    this.#heartbeatInterval = options.heartbeatInterval;
    this.recommendedShards = options.recommendedShards;
    this.#wss = new WebSocketServer({ server });
    this.#wss.on('connection', (socket, req) => this.#onGatewayConnection(socket, req));
  }

  /**
   * Resolves once a client has IDENTIFIED and been sent READY (immediately if one is connected now); with
   * `shard`, a client of that shard.
   */
  waitForReady(shard?: ShardTuple): Promise<void> {
    const ready = () => this.#liveSessions().some((s) => shard === undefined || sameShard(s.shard, shard));
    if (ready()) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter = () => {
        if (!ready()) return false;
        resolve();
        return true;
      };
      this.#readyWaiters.push(waiter);
    });
  }

  /** The shards of the connected sessions, in the order they became READY. */
  liveShards(): ShardTuple[] {
    return this.#liveSessions().map((s) => s.shard);
  }

  /**
   * The session a guild's events go to (`guildId` undefined: a DM, shard 0): the most recently READY session of
   * the guild's shard, also while it is reconnecting after a drop (its events are then replayed on RESUME).
   * Throws when no client of that shard is connected.
   */
  dispatchSession(guildId: string | undefined): GatewaySession {
    const session = this.#readyOrder.findLast((s) => shardOf(guildId, s.shard[1]) === s.shard[0]);
    if (!session || (!session.connection && !session.resumable)) {
      const where = guildId === undefined ? 'DMs (shard 0)' : `guild ${guildId}`;
      throw new Error(`FakeDiscord: no gateway client is connected for ${where} (call client.login first)`);
    }
    return session;
  }

  /**
   * Closes a gateway connection like a network blip (code 4000): discord.js resumes. The most recently READY
   * one, or with `shardId` the most recent of that shard.
   */
  async dropGatewayConnection(code = 4000, shardId?: number): Promise<void> {
    const session = this.#liveSessions().findLast((s) => shardId === undefined || s.shard[0] === shardId);
    const socket = session?.connection?.socket;
    if (!socket) throw new Error('FakeDiscord: no gateway client is connected');
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.close(code, 'fake network blip');
    });
  }

  /** Closes every connection and the WebSocket server. */
  async close(): Promise<void> {
    for (const connection of this.#connections) connection.socket.terminate();
    await new Promise<void>((resolve) => this.#wss.close(() => resolve()));
  }

  #liveSessions(): GatewaySession[] {
    return this.#readyOrder.filter((s) => s.connection?.socket.readyState === WebSocket.OPEN);
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
        if (d['token'] !== this.#model.token && d['token'] !== `Bot ${this.#model.token}`) {
          socket.close(4004, 'Authentication failed');
          return;
        }
        if (typeof d['intents'] !== 'number') {
          socket.close(4013, 'Invalid intent(s)');
          return;
        }
        const shard = d['shard'] === undefined ? ([0, 1] as const) : parseShard(d['shard']);
        if (!shard) {
          socket.close(4010, 'Invalid shard');
          return;
        }
        if (this.recommendedShards > 1 && shard[1] < this.recommendedShards) {
          socket.close(4011, 'Sharding required');
          return;
        }
        const session: GatewaySession = {
          id: randomBytes(16).toString('hex'),
          shard,
          seq: 0,
          connection,
          events: [],
          resumable: true,
        };
        connection.session = session;
        this.#sessions.set(session.id, session);
        this.dispatch(session, 'READY', {
          v: 10,
          user: { ...this.#model.botUser, verified: true, mfa_enabled: false, email: null },
          guilds: [],
          session_id: session.id,
          session_type: 'normal',
          resume_gateway_url: this.#model.gatewayUrl,
          application: { id: this.#model.applicationId, flags: 0 },
          private_channels: [],
          presences: [],
          relationships: [],
          guild_join_requests: [],
          geo_ordered_rtc_regions: [],
          auth_session_id_hash: randomBytes(16).toString('base64'),
          user_settings: {},
          ...(d['shard'] !== undefined ? { shard: [...shard] } : {}),
          _trace: ['["fake-gateway",{"micros":0}]'],
        });
        this.#markReady(session);
        return;
      }
      case 6: {
        const session = typeof d['session_id'] === 'string' ? this.#sessions.get(d['session_id']) : undefined;
        const tokenOk = d['token'] === this.#model.token || d['token'] === `Bot ${this.#model.token}`;
        const live =
          session?.connection &&
          session.connection !== connection &&
          session.connection.socket.readyState === WebSocket.OPEN;
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
        this.dispatch(session, 'RESUMED', { _trace: ['["fake-gateway",{"micros":0}]'] });
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
    const waiting = this.#readyWaiters.splice(0).filter((waiter) => !waiter());
    this.#readyWaiters.push(...waiting);
  }

  /** Sends an event (op 0) in a session and keeps it for RESUME replay. */
  dispatch(session: GatewaySession, t: string, d: unknown): void {
    session.seq += 1;
    const event = { s: session.seq, t, d };
    session.events.push(event);
    if (session.events.length > 1000) session.events.shift();
    const socket = session.connection?.socket;
    if (socket?.readyState === WebSocket.OPEN) send(socket, { op: 0, ...event });
  }
}

/** IDENTIFY's `shard`: `[id, count]` with 0 <= id < count; undefined when Discord would close with 4010. */
function parseShard(value: unknown): ShardTuple | undefined {
  if (!Array.isArray(value) || value.length !== 2) return undefined;
  const [id, count] = value as unknown[];
  if (typeof id !== 'number' || typeof count !== 'number' || !Number.isInteger(id) || !Number.isInteger(count)) {
    return undefined;
  }
  return count >= 1 && id >= 0 && id < count ? [id, count] : undefined;
}

function sameShard(a: ShardTuple, b: ShardTuple): boolean {
  return a[0] === b[0] && a[1] === b[1];
}

function send(socket: WebSocket, payload: Json): void {
  socket.send(JSON.stringify(payload));
}

function rawToString(raw: RawData): string {
  if (Array.isArray(raw)) return Buffer.concat(raw).toString('utf8');
  if (raw instanceof ArrayBuffer) return Buffer.from(raw).toString('utf8');
  return raw.toString('utf8');
}
