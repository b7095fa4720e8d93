import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBot, type Bot } from '../../src/bot.js';
import { loadConfig, type Config } from '../../src/config.js';
import type { Command } from '../../src/discord/command.js';
import { loadCommands } from '../../src/discord/loadCommands.js';
import { createLogger } from '../../src/logger.js';
import { FakeDiscord, type RecordedRequest } from '../fakes/discord.js';
import { FakeFal } from '../fakes/fal.js';

/** A bot token in Discord's format (three dot-separated parts), accepted only by the fake. */
export const TEST_DISCORD_TOKEN = 'MTExMTExMTExMTExMTExMTEx.GtEsTs.loopback-only-token-value_0123456789';

/**
 * Everything an end-to-end test needs: the loopback Discord and fal fakes, and the real bot (real discord.js
 * Client, real @fal-ai/client, real SQLite in a temp dir) pointed at them through DISCORD_API_URL/FAL_BASE_URL.
 */
export interface World {
  readonly discord: FakeDiscord;
  readonly fal: FakeFal;
  readonly config: Config;
  readonly logs: string[];
  bot: Bot;
  /** Stops the bot and starts a new one on the same database, like a process restart. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

let commandsPromise: Promise<Map<string, Command>> | undefined;

export async function startWorld(env: Record<string, string> = {}): Promise<World> {
  const discord = await FakeDiscord.start({ token: TEST_DISCORD_TOKEN });
  const fal = await FakeFal.start();
  const dir = mkdtempSync(join(tmpdir(), 'imagen-bot-'));
  const config = loadConfig({
    DISCORD_TOKEN: TEST_DISCORD_TOKEN,
    FAL_KEY: fal.key,
    DISCORD_API_URL: discord.apiUrl,
    FAL_BASE_URL: fal.baseUrl,
    DATABASE_PATH: join(dir, 'imagine.sqlite'),
    FAL_POLL_INTERVAL_MS: '10',
    LOG_LEVEL: 'debug',
    ...env,
  });
  const logs: string[] = [];
  const logger = createLogger({
    level: config.logLevel,
    secrets: [config.discordToken, config.falKey],
    write: (line) => logs.push(line),
  });
  commandsPromise ??= loadCommands(new URL('../../commands/', import.meta.url));
  const commands = await commandsPromise;
  const newBot = async () => {
    const bot = createBot(config, { logger, commands });
    await bot.start();
    return bot;
  };
  const world: World = {
    discord,
    fal,
    config,
    logs,
    bot: await newBot(),
    async restart() {
      await world.bot.stop();
      world.bot = await newBot();
    },
    async close() {
      await world.bot.stop(0);
      await Promise.all([discord.close(), fal.close()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return world;
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
