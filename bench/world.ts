import { spawn, type ChildProcess } from 'node:child_process';
import dc from 'node:diagnostics_channel';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { FakeDiscord, type FakeUser, type InteractionPayload, type RecordedRequest } from '../test/fakes/discord.js';
import { FakeFal, type FalJobPlan } from '../test/fakes/fal.js';

/** A token in Discord's three-part format; only the loopback fake accepts it. */
export const BENCH_DISCORD_TOKEN = 'MTExMTExMTExMTExMTExMTEx.QmVuY2g.loopback-bench-token_0123456789';

/** The same entry point as `npm start` (built by `npm run build`, which `npm run bench` runs first). */
const BOT_ENTRY = fileURLToPath(new URL('../dist/src/main.js', import.meta.url));
const START_TIMEOUT_MS = 30_000;

/** One HTTP request the fake Discord received, timed with `performance.now()` by the bench. */
export interface TimedUpload {
  readonly method: string;
  /** When its headers arrived. */
  readonly start: number;
  /** When its last body byte arrived (undefined until then). */
  end: number | undefined;
  readonly multipart: boolean;
}

export interface WorldOptions {
  readonly pollIntervalMs: number;
  /** Extra node flags for the bot (e.g. --cpu-prof). */
  readonly nodeArgs?: readonly string[];
  /** Another build of the entry point, to compare a change (default: dist/src/main.js). */
  readonly entry?: string | undefined;
  /** FAL_CONCURRENCY for the bot (jobs at fal at once; the rest wait in the bot's fair queue). */
  readonly falConcurrency?: number | undefined;
  /** Extra environment variables for the bot (e.g. MALLOC_ARENA_MAX, UV_THREADPOOL_SIZE). */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * A PostgreSQL database for the bot (DATABASE_URL); then every process is one gateway shard (SHARDS and
   * SHARD_COUNT), as on several machines. Unset: one process on SQLite in a temp dir, as `npm start` by default.
   */
  readonly databaseUrl?: string | undefined;
  /** Bot processes, each one shard of this many (default 1; more than one needs `databaseUrl`). */
  readonly processes?: number;
}

/** One bot process (`node dist/src/main.js`) of the world and its output. */
export interface BenchBot {
  readonly child: ChildProcess;
  readonly pid: number;
  /** The gateway shard it runs (0 of 1 without sharding). */
  readonly shard: number;
  /** Its stdout and stderr lines (JSON log lines at LOG_LEVEL, Node warnings). */
  readonly lines: string[];
  readonly exited: Promise<number | null>;
}

/**
 * The fakes from `test/fakes` running in this process, the real bot as a child process (`node dist/src/main.js`,
 * as `npm start` runs it) pointed at them, and fine-grained timestamps of the HTTP traffic taken through
 * `node:diagnostics_channel` (so neither the fakes nor the bot are changed for the bench). With
 * {@link WorldOptions.processes}, several bot processes on one PostgreSQL database, one gateway shard each.
 */
export class BenchWorld {
  readonly discord: FakeDiscord;
  readonly fal: FakeFal;
  /** The bot processes, by shard. */
  readonly bots: BenchBot[] = [];
  /** Stderr and log lines of every bot process, in arrival order (LOG_LEVEL=warn unless the env says otherwise). */
  readonly botLog: string[] = [];
  /** Interaction id -> when its first callback request reached the fake. */
  readonly ackArrivals = new Map<string, number>();
  /** Interaction token -> webhook requests (edits of @original and follow-ups), in arrival order. */
  readonly webhookRequests = new Map<string, TimedUpload[]>();
  /** fal request id -> arrival times of its status requests: polls and status streams (one per connection). */
  readonly statusPolls = new Map<string, number[]>();
  /** fal request id -> when the status answer saying COMPLETED (or the stream that carried it) was fully written. */
  readonly completedAt = new Map<string, number>();
  /** fal request id -> when the job finished at fal (the bench let it complete; the bot learns it later). */
  readonly finishedAt = new Map<string, number>();
  /** fal request id -> result GET and image downloads as fal saw them (arrival and response written). */
  readonly falTimeline = new Map<string, FalTimeline>();
  /** TCP connections the bot opened to each fake (a new socket seen carrying an HTTP request). */
  readonly connections = { discord: 0, fal: 0 };
  /** Jobs are held in fal's queue this long after submission, then released (0: no hold). */
  holdMs = 0;
  /** Jobs planned with `holdRunning` generate this long after their release, then complete. */
  runMs = 0;

  readonly #dir: string;
  readonly #options: WorldOptions;
  readonly #discordPort: number;
  readonly #falPort: number;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #sockets = new WeakSet<Socket>();
  #seenSubmissions = 0;
  readonly #onRequestStart = (message: unknown): void => this.#requestStarted(message as DiagMessage);
  readonly #onResponseFinish = (message: unknown): void => this.#responseFinished(message as DiagMessage);

  private constructor(discord: FakeDiscord, fal: FakeFal, dir: string, options: WorldOptions) {
    this.discord = discord;
    this.fal = fal;
    this.#dir = dir;
    this.#options = options;
    this.#discordPort = Number(new URL(discord.apiUrl).port);
    this.#falPort = Number(new URL(fal.baseUrl).port);
    dc.subscribe('http.server.request.start', this.#onRequestStart);
    dc.subscribe('http.server.response.finish', this.#onResponseFinish);
  }

  /** The first (or only) bot process. */
  get bot(): ChildProcess {
    return this.#first().child;
  }

  get pid(): number {
    return this.#first().pid;
  }

  #first(): BenchBot {
    const first = this.bots[0];
    if (!first) throw new Error('no bot process started');
    return first;
  }

  #spawn(shard: number, count: number): BenchBot {
    const options = this.#options;
    const dir = this.#dir;
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), options.entry ?? BOT_ENTRY], {
      cwd: dir, // no stray .env is picked up
      env: {
        PATH: process.env['PATH'] ?? '/usr/bin:/bin',
        HOME: dir,
        DISCORD_TOKEN: BENCH_DISCORD_TOKEN,
        FAL_KEY: this.fal.key,
        DISCORD_API_URL: this.discord.apiUrl,
        FAL_BASE_URL: this.fal.baseUrl,
        DATABASE_PATH: join(dir, 'imagine.sqlite'),
        ...(options.databaseUrl !== undefined && {
          DATABASE_URL: options.databaseUrl,
          SHARDS: String(shard),
          SHARD_COUNT: String(count),
        }),
        LOG_LEVEL: 'warn',
        FAL_POLL_INTERVAL_MS: String(options.pollIntervalMs),
        ...(options.falConcurrency !== undefined && { FAL_CONCURRENCY: String(options.falConcurrency) }),
        // Spending policy is not under test: every bench job must be admitted (each comes from its own member).
        GUILD_DAILY_IMAGES: '1000000',
        GUILD_DAILY_BUDGET_USD: '1000000',
        DAILY_BUDGET_USD: '1000000',
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (child.pid === undefined) throw new Error('could not start the bot process');
    const lines: string[] = [];
    let partial = '';
    const keep = (chunk: Buffer): void => {
      const parts = (partial + chunk.toString('utf8')).split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        if (!line.trim()) continue;
        lines.push(line);
        this.botLog.push(line);
      }
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const bot: BenchBot = { child, pid: child.pid, shard, lines, exited };
    this.bots.push(bot);
    return bot;
  }

  /**
   * Starts both fakes and the bot; resolves once the bot is logged in and has registered /imagine. Several
   * processes start one after the other (the first one creates the schema), each once its shard is READY.
   */
  static async start(options: WorldOptions): Promise<BenchWorld> {
    const count = options.processes ?? 1;
    if (!Number.isInteger(count) || count < 1) throw new Error('processes must be a whole number >= 1');
    if (count > 1 && options.databaseUrl === undefined) throw new Error('several bot processes need a databaseUrl');
    const discord = await FakeDiscord.start({ token: BENCH_DISCORD_TOKEN, shards: count });
    const fal = await FakeFal.start();
    const dir = mkdtempSync(join(tmpdir(), 'imagen-bench-'));
    const world = new BenchWorld(discord, fal, dir, options);
    try {
      for (let shard = 0; shard < count; shard += 1) {
        const bot = world.#spawn(shard, count);
        const ready: Promise<unknown>[] = [discord.waitForReady([shard, count])];
        // Only the first process registers the commands; the others find them unchanged (a hash in the database).
        if (shard === 0) {
          ready.push(
            discord.waitForRequest(
              (r) => r.method === 'PUT' && r.path.endsWith('/commands') && r.status === 200,
              START_TIMEOUT_MS,
            ),
          );
        }
        const died = bot.exited.then((code) => {
          throw new Error(
            `bot process ${shard} exited (code ${String(code)}) before it was ready:\n${bot.lines.slice(-20).join('\n')}`,
          );
        });
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`bot process ${shard} was not ready after ${START_TIMEOUT_MS} ms`)),
            START_TIMEOUT_MS,
          );
        });
        try {
          await Promise.race([Promise.all(ready), died, timedOut]);
        } finally {
          clearTimeout(timer);
        }
      }
    } catch (error) {
      await world.close();
      throw error;
    }
    return world;
  }

  /**
   * Sends one /imagine from `user` (in `guildId`, default the fake's guild); returns the payload, when it was
   * handed to the gateway socket and the shard (so the process) it was sent to.
   */
  imagine(
    prompt: string,
    numImages: number,
    resolution: '1K' | '2K',
    user: FakeUser,
    guildId?: string,
  ): { interaction: InteractionPayload; dispatchedAt: number; shard: number } {
    const interaction = this.discord.chatInput({
      name: 'imagine',
      user,
      ...(guildId !== undefined && { guildId }),
      options: [
        { name: 'prompt', type: 3, value: prompt },
        { name: 'num_images', type: 4, value: numImages },
        { name: 'resolution', type: 3, value: resolution },
      ],
    });
    const dispatchedAt = performance.now();
    const [shard] = this.discord.dispatchInteraction(interaction);
    return { interaction, dispatchedAt, shard };
  }

  /**
   * Every job submitted from now on follows this plan: a held one is released `holdMs` after submission, and
   * one planned with `holdRunning` completes `runMs` after that, by wall clock, however the bot follows it.
   */
  usePlan(plan: FalJobPlan, holdMs: number, runMs = 0): void {
    this.fal.defaultPlan = plan;
    this.holdMs = holdMs;
    this.runMs = runMs;
  }

  /** REST requests the fake recorded for one interaction (callback, edits, follow-ups). */
  requestsOf(interaction: InteractionPayload): RecordedRequest[] {
    return this.discord.requests.filter(
      (r) => r.path.includes(`/${interaction.token}/`) || r.path.includes(`/${interaction.id}/`),
    );
  }

  /** fal request id of the job whose prompt is `prompt`. */
  requestIdOf(prompt: string): string | undefined {
    return this.fal.submissions.find((s) => s.input['prompt'] === prompt)?.requestId;
  }

  /** VmRSS and VmHWM of a bot process (by shard; default the first), in MiB. */
  memory(index = 0): { rssMb: number; hwmMb: number } {
    const bot = this.bots[index];
    if (!bot) throw new Error(`no bot process ${index}`);
    const status = readFileSync(`/proc/${bot.pid}/status`, 'utf8');
    const kb = (name: string): number =>
      Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
    return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024 };
  }

  /** User + system CPU time the bot has used (all its processes together), in seconds. */
  cpuSeconds(): number {
    let total = 0;
    for (const bot of this.bots) {
      const stat = readFileSync(`/proc/${bot.pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // Fields 14 and 15 of proc_pid_stat(5) (utime, stime); after the comm field they are at index 11 and 12.
      total += (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
    }
    return total;
  }

  /** Stops the bot processes (SIGTERM, as a service manager would), then the fakes. */
  async close(): Promise<void> {
    for (const timer of this.#timers) clearTimeout(timer);
    await Promise.all(
      this.bots.map(async ({ child, exited }) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }),
    );
    dc.unsubscribe('http.server.request.start', this.#onRequestStart);
    dc.unsubscribe('http.server.response.finish', this.#onResponseFinish);
    await Promise.all([this.discord.close(), this.fal.close()]);
    rmSync(this.#dir, { recursive: true, force: true });
  }

  #requestStarted({ request, socket }: DiagMessage): void {
    const now = performance.now();
    const port = socket.localPort;
    const path = (request.url ?? '').split('?')[0] ?? '';
    const parts = path.split('/');
    if (!this.#sockets.has(socket) && (port === this.#discordPort || port === this.#falPort)) {
      this.#sockets.add(socket);
      this.connections[port === this.#discordPort ? 'discord' : 'fal'] += 1;
    }
    if (port === this.#discordPort) {
      // /api/v10/interactions/{id}/{token}/callback
      if (request.method === 'POST' && parts[3] === 'interactions' && parts[6] === 'callback') {
        const id = parts[4] ?? '';
        if (!this.ackArrivals.has(id)) this.ackArrivals.set(id, now);
      }
      // /api/v10/webhooks/{application_id}/{token}[/messages/@original]
      if (
        parts[3] === 'webhooks' &&
        parts[5] !== undefined &&
        (request.method === 'POST' || request.method === 'PATCH')
      ) {
        const upload: TimedUpload = {
          method: request.method,
          start: now,
          end: undefined,
          multipart: (request.headers['content-type'] ?? '').startsWith('multipart/'),
        };
        const list = this.webhookRequests.get(parts[5]) ?? [];
        list.push(upload);
        this.webhookRequests.set(parts[5], list);
        request.once('end', () => {
          upload.end = performance.now();
        });
      }
    } else if (port === this.#falPort) {
      // /fal-ai/imagen4/requests/{id}/status and .../status/stream (a stream counts as one request)
      if (
        request.method === 'GET' &&
        parts[3] === 'requests' &&
        parts[5] === 'status' &&
        (parts.length === 6 || parts[6] === 'stream')
      ) {
        const id = parts[4] ?? '';
        const list = this.statusPolls.get(id) ?? [];
        list.push(now);
        this.statusPolls.set(id, list);
      }
      // /fal-ai/imagen4/requests/{id} (result) and /files/{id}/{index}.png
      if (request.method === 'GET' && parts[3] === 'requests' && parts.length === 5)
        this.#timeline(parts[4] ?? '').resultStart ??= now;
      if (request.method === 'GET' && parts[1] === 'files') this.#timeline(parts[2] ?? '').imageStarts.push(now);
    }
  }

  #timeline(requestId: string): FalTimeline {
    let timeline = this.falTimeline.get(requestId);
    if (!timeline) {
      timeline = { resultStart: undefined, resultEnd: undefined, imageStarts: [], imageEnds: [] };
      this.falTimeline.set(requestId, timeline);
    }
    return timeline;
  }

  #responseFinished({ request, response, socket }: DiagMessage): void {
    if (socket.localPort !== this.#falPort) return;
    const now = performance.now();
    const parts = (request.url ?? '').split('?')[0]?.split('/') ?? [];
    if (request.method === 'GET' && parts[3] === 'requests' && parts[5] === 'status' && response.statusCode === 200) {
      const id = parts[4] ?? '';
      if (!this.completedAt.has(id)) this.completedAt.set(id, now);
    }
    if (request.method === 'GET' && parts[3] === 'requests' && parts.length === 5)
      this.#timeline(parts[4] ?? '').resultEnd ??= now;
    if (request.method === 'GET' && parts[1] === 'files') this.#timeline(parts[2] ?? '').imageEnds.push(now);
    if (request.method === 'POST' && response.statusCode === 200) this.#onSubmitted();
  }

  #onSubmitted(): void {
    const fresh = this.fal.submissions.slice(this.#seenSubmissions);
    this.#seenSubmissions = this.fal.submissions.length;
    for (const submission of fresh) {
      const { requestId, plan } = submission;
      if (plan.hold === true) this.#at(this.holdMs, () => this.fal.release(requestId));
      if (plan.holdRunning === true) {
        this.#at((plan.hold === true ? this.holdMs : 0) + this.runMs, () => {
          this.finishedAt.set(requestId, performance.now());
          this.fal.finish(requestId);
        });
      }
    }
  }

  #at(delayMs: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      try {
        run();
      } catch {
        // The fake was closed under the timer; nothing to release any more.
      }
    }, delayMs);
    this.#timers.add(timer);
  }
}

export interface FalTimeline {
  resultStart: number | undefined;
  resultEnd: number | undefined;
  imageStarts: number[];
  imageEnds: number[];
}

interface DiagMessage {
  request: IncomingMessage;
  response: ServerResponse;
  socket: Socket;
}

/** USER_HZ: the unit of utime/stime in /proc/<pid>/stat and of /proc/stat (100 on every mainstream Linux build). */
const CLOCK_TICKS = 100;

/** CPU time of the whole machine so far (all cores, from /proc/stat), in seconds: busy, and busy + idle. */
export function cpuTimes(): { busy: number; total: number } {
  const fields = (/^cpu\s+(.*)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1] ?? '').split(/\s+/).map(Number);
  const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: (total - idle) / CLOCK_TICKS, total: total / CLOCK_TICKS };
}
