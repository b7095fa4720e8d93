/**
 * Gateway sharding (https://discord.com/developers/docs/events/gateway#sharding): with SHARD_COUNT set, `npm start`
 * runs discord.js's ShardingManager instead of the bot. It starts one process per shard (this module's sibling
 * main.js again, told its shard by SHARDS and SHARD_COUNT, which discord.js's Client reads), starts a shard again when
 * its process dies, and on SIGTERM/SIGINT lets every shard drain before it exits. No bot logic runs here.
 */
import { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { REST, Routes, ShardingManager, type Shard } from 'discord.js';
import { z } from 'zod';
import { stopOnSignals } from './cli.js';
import type { Config } from './config.js';
import { errorContext, type Logger } from './logger.js';

/** What every shard process runs: the entry point this module was built beside (dist/src/main.js). */
const SHARD_ENTRY_POINT = fileURLToPath(new URL('./main.js', import.meta.url));

/** A shard process opens (and may migrate) the database before it logs in; discord.js's default is 30 s. */
const SHARD_READY_TIMEOUT_MS = 60_000;

/** A shard still running this long after its SHUTDOWN_GRACE_SECONDS is killed; its jobs wait for the next start. */
const SHARD_EXIT_MARGIN_MS = 10_000;

/** True when this process is to run the manager: SHARD_COUNT is set and this process is not one of the shards. */
export function runsShardingManager(config: Config): boolean {
  return config.sharding.count !== undefined && config.sharding.shardIds === undefined;
}

const GatewayBot = z.object({ shards: z.number().int().min(1) });

/**
 * Discord's recommended shard count (`shards` of GET /gateway/bot,
 * https://discord.com/developers/docs/events/gateway#get-gateway-bot), asked through DISCORD_API_URL when it is set:
 * ShardingManager's own 'auto' always asks discord.com.
 */
export async function recommendedShardCount(config: Pick<Config, 'discordToken' | 'discordApiUrl'>): Promise<number> {
  const rest = new REST({ ...(config.discordApiUrl && { api: config.discordApiUrl }) }).setToken(config.discordToken);
  try {
    return GatewayBot.parse(await rest.get(Routes.gatewayBot())).shards;
  } finally {
    rest.clearHashSweeper();
    rest.clearHandlerSweeper();
  }
}

/**
 * Runs the shard processes of SHARD_COUNT (those of SHARD_LIST only, when set) until SIGTERM/SIGINT, then stops them
 * and exits 0. Sets exit code 1 when the count cannot be resolved or a shard does not become ready at start.
 */
export async function runShardingManager(config: Config, logger: Logger): Promise<void> {
  let totalShards: number;
  try {
    totalShards = config.sharding.count === 'auto' ? await recommendedShardCount(config) : (config.sharding.count ?? 1);
  } catch (error) {
    logger.error(
      'could not ask Discord for its recommended shard count (GET /gateway/bot): check DISCORD_TOKEN, or set SHARD_COUNT to a number',
      errorContext(error),
    );
    process.exitCode = 1;
    return;
  }
  const shardList = [...(config.sharding.shardList ?? Array.from({ length: totalShards }, (_, id) => id))];
  const manager = new ShardingManager(SHARD_ENTRY_POINT, {
    totalShards,
    shardList,
    token: config.discordToken,
    respawn: true,
    execArgv: process.execArgv,
  });

  const aborted = new AbortController();
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    aborted.abort();
    stopped ??= stopShards(manager, config.shutdownGraceMs + SHARD_EXIT_MARGIN_MS, logger);
    return stopped;
  };
  stopOnSignals(logger, 'shutting down every shard', stop);

  logger.info('starting shard processes', {
    totalShards,
    shards: shardList.join(','),
    spawnDelayMs: config.sharding.spawnDelayMs,
  });
  // One shard at a time, as ShardingManager#spawn does, but in a loop a shutdown can interrupt: spawn() would
  // still start the remaining shards after a SIGTERM, and they would outlive this process.
  try {
    for (const [index, id] of shardList.entries()) {
      if (aborted.signal.aborted) return;
      const shard = manager.createShard(id);
      watchShard(shard, manager, logger);
      const last = index === shardList.length - 1;
      await Promise.all([
        shard.spawn(SHARD_READY_TIMEOUT_MS),
        last ? undefined : sleep(config.sharding.spawnDelayMs, undefined, { signal: aborted.signal }),
      ]);
    }
  } catch (error) {
    if (aborted.signal.aborted) return;
    logger.error('a shard did not become ready; stopping every shard', errorContext(error));
    await stop();
    process.exitCode = 1;
    return;
  }
  logger.info('every shard is ready', { totalShards, shards: shardList.join(',') });
}

/** Logs what happens to a shard's process; ShardingManager starts it again when it dies (`respawn`). */
function watchShard(shard: Shard, manager: ShardingManager, logger: Logger): void {
  const about = (child?: unknown) => ({ shard: shard.id, ...(child instanceof ChildProcess && { pid: child.pid }) });
  shard.on('spawn', (child) => logger.info('shard process started', about(child)));
  shard.on('ready', () => logger.info('shard ready', about()));
  shard.on('disconnect', () => logger.warn('shard disconnected from the gateway', about()));
  shard.on('death', (child) => {
    const exit = child instanceof ChildProcess ? { exitCode: child.exitCode, signal: child.signalCode } : {};
    if (manager.respawn) logger.warn('shard process exited; starting it again', { ...about(child), ...exit });
    else logger.info('shard process exited', { ...about(child), ...exit });
  });
  shard.on('error', (error) => {
    // While stopping, a shard started again just before is stopped before it is ready: that is no failure.
    if (manager.respawn)
      logger.error('shard process could not be started again', { ...about(), ...errorContext(error) });
    else logger.debug('shard process stopped before it was ready', about());
  });
}

/** Stops starting shards again, sends every shard process SIGTERM (each drains on its own) and waits for them. */
async function stopShards(manager: ShardingManager, killAfterMs: number, logger: Logger): Promise<void> {
  manager.respawn = false;
  await Promise.all([...manager.shards.values()].map((shard) => stopShard(shard, killAfterMs, logger)));
}

async function stopShard(shard: Shard, killAfterMs: number, logger: Logger): Promise<void> {
  const child = shard.process;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const deadline = setTimeout(() => {
    logger.warn('shard process did not stop in time; killing it', { shard: shard.id, pid: child.pid });
    child.kill('SIGKILL');
  }, killAfterMs);
  await exited;
  clearTimeout(deadline);
}
