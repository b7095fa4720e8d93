import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import commandModules from '../../commands/index.js';
import { createBot, type Bot } from '../../src/bot.js';
import { loadConfig, type Config } from '../../src/config.js';
import { loadCommands } from '../../src/discord/loadCommands.js';
import { createLogger } from '../../src/logger.js';
import { FakeDiscord, type FakeDiscordOptions, type RecordedRequest } from '../fakes/discord.js';
import { FakeFal } from '../fakes/fal.js';
import { openDatabase } from '../../src/store/database.js';
import { createPostgresDatabase } from '../support/databases.js';

/**
 * The database engine this run of the suite uses: the `postgres` project of vitest.config.ts sets it (with
 * TEST_DATABASE_URL); otherwise SQLite. Each world gets a fresh database of its own either way.
 */
export const TEST_ENGINE: 'sqlite' | 'postgres' = process.env.IMAGEN_TEST_ENGINE === 'postgres' ? 'postgres' : 'sqlite';

/** A bot token in Discord's format (three dot-separated parts), accepted only by the fake. */
export const TEST_DISCORD_TOKEN = 'MTExMTExMTExMTExMTExMTEx.GtEsTs.loopback-only-token-value_0123456789';

/**
 * Everything an end-to-end test needs: the loopback Discord and fal fakes, and the real bot (real discord.js
 * Client, real @fal-ai/client, real SQLite in a temp dir, or a fresh PostgreSQL database) pointed at them through DISCORD_API_URL/FAL_BASE_URL.
 */
export interface World {
  readonly discord: FakeDiscord;
  readonly fal: FakeFal;
  readonly config: Config;
  readonly logs: string[];
  bot: Bot;
  /** Stops the bot (with `graceMs` for running jobs) and starts a new one on the same database. */
  restart(graceMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** The loopback fakes, a temp dir for the database, and the environment that points a bot at them. */
export interface Fakes {
  readonly discord: FakeDiscord;
  readonly fal: FakeFal;
  readonly dir: string;
  readonly databasePath: string;
  /** The PostgreSQL database of this world (TEST_ENGINE postgres), else undefined. */
  readonly databaseUrl: string | undefined;
  readonly env: Record<string, string>;
  close(): Promise<void>;
}

export async function startFakes(
  env: Record<string, string> = {},
  options: { fileSizeLimit?: number; discord?: FakeDiscordOptions } = {},
): Promise<Fakes> {
  const discord = await FakeDiscord.start({
    ...options.discord,
    token: TEST_DISCORD_TOKEN,
    ...(options.fileSizeLimit !== undefined && { fileSizeLimit: options.fileSizeLimit }),
  });
  const fal = await FakeFal.start();
  const dir = mkdtempSync(join(tmpdir(), 'imagen-bot-'));
  const databasePath = join(dir, 'imagine.sqlite');
  // A database the test brought (sharedDatabase) is its own to drop.
  const postgres = TEST_ENGINE === 'postgres' && !env.DATABASE_URL ? await createPostgresDatabase() : undefined;
  return {
    discord,
    fal,
    dir,
    databasePath,
    databaseUrl: postgres?.url,
    env: {
      ...(postgres && { DATABASE_URL: postgres.url }),
      DISCORD_TOKEN: TEST_DISCORD_TOKEN,
      FAL_KEY: fal.key,
      DISCORD_API_URL: discord.apiUrl,
      FAL_BASE_URL: fal.baseUrl,
      DATABASE_PATH: databasePath,
      FAL_POLL_INTERVAL_MS: '10',
      LOG_LEVEL: 'debug',
      // Generous limits, so tests about other things are not refused; the limits tests set their own.
      USER_COOLDOWN_SECONDS: '0',
      USER_MAX_ACTIVE_JOBS: '50',
      USER_DAILY_IMAGES: '10000',
      GUILD_DAILY_IMAGES: '100000',
      GUILD_DAILY_BUDGET_USD: '10000',
      DAILY_BUDGET_USD: '10000',
      ...env,
    },
    async close() {
      await Promise.all([discord.close(), fal.close()]);
      await postgres?.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A database of this run's engine that outlives one world, for a test that stops a bot and starts another with
 * another configuration on the same data: pass `env` to each startWorld, and `drop` it at the end.
 */
export async function sharedDatabase(): Promise<{ env: Record<string, string>; drop(): Promise<void> }> {
  if (TEST_ENGINE === 'postgres') {
    const created = await createPostgresDatabase();
    return { env: { DATABASE_URL: created.url }, drop: () => created.drop() };
  }
  const dir = mkdtempSync(join(tmpdir(), 'imagen-bot-shared-'));
  return {
    env: { DATABASE_PATH: join(dir, 'imagine.sqlite') },
    drop: () => {
      rmSync(dir, { recursive: true, force: true });
      return Promise.resolve();
    },
  };
}

/**
 * Reads a generation's row as the database holds it (not through the bot), e.g. from a bot running in a child
 * process: the raw columns.
 */
export async function readRow(fakes: Fakes, id: number): Promise<Record<string, unknown> | undefined> {
  const database = await openDatabase({ url: fakes.databaseUrl, path: fakes.databasePath });
  try {
    return await database.db.selectFrom('generations').selectAll().where('id', '=', id).executeTakeFirst();
  } finally {
    await database.close();
  }
}

export async function startWorld(
  env: Record<string, string> = {},
  options: { fileSizeLimit?: number } = {},
): Promise<World> {
  const fakes = await startFakes(env, options);
  const { discord, fal } = fakes;
  const config = loadConfig(fakes.env);
  const logs: string[] = [];
  const logger = createLogger({
    level: config.logLevel,
    secrets: [config.discordToken, config.falKey],
    write: (line) => logs.push(line),
  });
  const commands = loadCommands(commandModules);
  const newBot = async () => {
    const bot = await createBot(config, { logger, commands });
    await bot.start();
    return bot;
  };
  const world: World = {
    discord,
    fal,
    config,
    logs,
    bot: await newBot(),
    async restart(graceMs?: number) {
      await world.bot.stop(graceMs);
      world.bot = await newBot();
    },
    async close() {
      await world.bot.stop(0);
      const interactionTokens = [...discord.interactions.values()].map((interaction) => interaction.token);
      await fakes.close();
      assertNoSecrets(logs, [config.discordToken, config.falKey, ...interactionTokens]);
    },
  };
  return world;
}

/** Resolves when the bot has logged a line containing `text`. */
export async function waitForLog(world: World, text: string, timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = world.logs.find((l) => l.includes(text));
    if (line) return line;
    if (Date.now() > deadline)
      throw new Error(`no log line with ${JSON.stringify(text)}:\n${world.logs.slice(-15).join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Every e2e test ends with this: no token or key may ever reach a log line. */
export function assertNoSecrets(logs: readonly string[], secrets: readonly string[]): void {
  const text = logs.join('\n');
  for (const secret of secrets) {
    if (secret && text.includes(secret)) {
      throw new Error(`a secret (${secret.slice(0, 4)}…) appeared in the bot's logs`);
    }
  }
}

/** A PATCH of an interaction's `@original` reply. */
export function isOriginalEdit(token: string) {
  return (r: RecordedRequest) => r.method === 'PATCH' && r.path.endsWith(`/${token}/messages/@original`);
}

/** The callback (first response) of an interaction. */
export function isCallback(interactionId: string) {
  return (r: RecordedRequest) => r.method === 'POST' && r.path.startsWith(`/interactions/${interactionId}/`);
}

/** Waits for the edit of `@original` that carries the result or the failure (no Cancel button any more). */
export function isFinalEdit(token: string) {
  return (r: RecordedRequest) => {
    if (!isOriginalEdit(token)(r)) return false;
    const body = r.body as { components?: { components?: { custom_id?: string }[] }[] } | undefined;
    const ids = (body?.components ?? []).flatMap((row) => row.components ?? []).map((c) => c.custom_id ?? '');
    return !ids.some((id) => id.includes(':cancel:'));
  };
}

export function customIds(body: unknown): string[] {
  const rows = (body as { components?: { components?: { custom_id?: string }[] }[] } | undefined)?.components ?? [];
  return rows.flatMap((row) => row.components ?? []).map((c) => c.custom_id ?? '');
}

export function contentOf(body: unknown): string {
  return (body as { content?: string } | undefined)?.content ?? '';
}
