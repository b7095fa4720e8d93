import commandModules from '../commands/index.js';
import { createBot } from './bot.js';
import { ConfigError, loadConfigFromEnvironment, type Config } from './config.js';
import { loadCommands } from './discord/loadCommands.js';
import { createLogger, errorContext } from './logger.js';

/** `npm start`: validate the configuration, build the bot, log in, and shut down cleanly on a signal. */
async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfigFromEnvironment();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write('The bot cannot start because of its configuration (see .env.example):\n');
    for (const problem of error.problems) process.stderr.write(`- ${problem}\n`);
    process.exitCode = 1;
    return;
  }
  const logger = createLogger({ level: config.logLevel, secrets: [config.discordToken, config.falKey] });
  process.on('unhandledRejection', (reason) => logger.error('unhandled promise rejection', errorContext(reason)));
  process.on('uncaughtException', (error) => logger.error('uncaught exception', errorContext(error)));

  const commands = loadCommands(commandModules);
  const bot = createBot(config, { logger, commands });
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info('shutting down', { signal });
    bot.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error('shutdown failed', errorContext(error));
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));

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
