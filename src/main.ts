import commandModules from '../commands/index.js';
import { createBot, type Bot } from './bot.js';
import { startCommandLine, stopOnSignals } from './cli.js';
import { loadCommands } from './discord/loadCommands.js';
import { errorContext } from './logger.js';
import { DatabaseUnavailable } from './store/database.js';
import { runShardingManager, runsShardingManager } from './sharding.js';

/**
 * `npm start`: validate the configuration, build the bot, log in, and shut down cleanly on a signal. With
 * SHARD_COUNT, this process runs the sharding manager instead, which starts this entry point once per shard.
 */
async function main(): Promise<void> {
  const started = startCommandLine('The bot cannot start because of its configuration (see .env.example):');
  if (!started) return;
  const { config, logger } = started;
  process.on('unhandledRejection', (reason) => logger.error('unhandled promise rejection', errorContext(reason)));
  process.on('uncaughtException', (error) => logger.error('uncaught exception', errorContext(error)));
  if (runsShardingManager(config)) {
    await runShardingManager(config, logger);
    return;
  }

  const commands = loadCommands(commandModules);
  let bot: Bot;
  try {
    bot = await createBot(config, { logger, commands });
  } catch (error) {
    if (!(error instanceof DatabaseUnavailable)) {
      logger.error('could not start the bot', errorContext(error));
    } else {
      logger.error(
        config.databaseUrl
          ? 'could not open the PostgreSQL database: check that it runs and that DATABASE_URL names it (see README, PostgreSQL)'
          : `could not open the SQLite database at DATABASE_PATH (${config.databasePath}): check that the folder is writable`,
        errorContext(error.cause),
      );
    }
    process.exitCode = 1;
    return;
  }
  const shutdown = stopOnSignals(logger, 'shutting down', () => bot.stop());
  // A shard the sharding manager started has an IPC channel to it. When the manager is gone (killed, crashed), the
  // shard stops too: a restarted manager would otherwise run the same shard twice, and members get answers twice.
  process.once('disconnect', () => {
    // discord.js's shard client still reports to the manager while it logs out; with no one left to tell, Node
    // raises ERR_IPC_CHANNEL_CLOSED on `process` for each report.
    process.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'ERR_IPC_CHANNEL_CLOSED') logger.error('process error', errorContext(error));
    });
    shutdown('sharding manager gone');
  });

  try {
    await bot.start();
  } catch (error) {
    const invalidToken = error instanceof Error && /TokenInvalid|invalid token/i.test(`${error.name} ${error.message}`);
    logger.error(
      invalidToken
        ? 'Discord refused DISCORD_TOKEN: copy a fresh token from https://discord.com/developers/applications -> Bot'
        : 'could not start the bot',
      errorContext(error),
    );
    await bot
      .stop(0)
      .catch((stopError: unknown) => logger.warn('cleanup after a failed start failed', errorContext(stopError)));
    process.exitCode = 1;
  }
}

await main();
