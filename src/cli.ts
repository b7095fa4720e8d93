import { ConfigError, loadConfigFromEnvironment, type Config } from './config.js';
import { createLogger, errorContext, type Logger } from './logger.js';

/**
 * What every command-line entry point (npm start, deploy-commands, migrate-to-postgres) does first: reads the
 * configuration, or prints every problem with it in plain words and sets exit code 1 (then returns undefined).
 * The logger it returns redacts the bot token, the fal key and the database password.
 */
export function startCommandLine(heading?: string): { config: Config; logger: Logger } | undefined {
  let config: Config;
  try {
    config = loadConfigFromEnvironment();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    if (heading) process.stderr.write(`${heading}\n`);
    for (const problem of error.problems) process.stderr.write(`- ${problem}\n`);
    process.exitCode = 1;
    return undefined;
  }
  const secrets = [config.discordToken, config.falKey, databasePassword(config.databaseUrl)].filter(Boolean);
  return { config, logger: createLogger({ level: config.logLevel, secrets }) };
}

/** The password in DATABASE_URL, if any: redacted like the token, should a driver ever quote the URL. */
function databasePassword(url: string | undefined): string {
  if (!url) return '';
  try {
    return decodeURIComponent(new URL(url).password);
  } catch {
    return '';
  }
}

/**
 * On SIGINT or SIGTERM (once): logs it, runs `stop`, and exits 0, or 1 if stopping failed. Returns the same
 * shutdown for other reasons to call.
 */
export function stopOnSignals(logger: Logger, message: string, stop: () => Promise<void>): (reason: string) => void {
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info(message, { signal });
    stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error('shutdown failed', errorContext(error));
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  return shutdown;
}
