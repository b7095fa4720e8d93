import { REST, Routes, type APIApplication } from 'discord.js';
import commandModules from '../commands/index.js';
import { startCommandLine } from './cli.js';
import { commandDefinitions } from './discord/command.js';
import { loadCommands } from './discord/loadCommands.js';
import { syncCommands } from './discord/registration.js';
import { errorContext } from './logger.js';
import { openDatabase } from './store/database.js';
import { SettingsStore } from './store/settings.js';

/**
 * `npm run deploy-commands`: registers the slash commands now, even if they look unchanged
 * (e.g. after someone deleted them in the Developer Portal). The bot does this by itself at start when needed.
 */
async function deploy(): Promise<void> {
  const started = startCommandLine();
  if (!started) return;
  const { config, logger } = started;
  const rest = new REST(config.discordApiUrl ? { api: config.discordApiUrl } : {}).setToken(config.discordToken);
  const database = await openDatabase({ url: config.databaseUrl, path: config.databasePath });
  try {
    const application = (await rest.get(Routes.currentApplication())) as APIApplication;
    const commands = loadCommands(commandModules);
    await syncCommands({
      rest,
      applicationId: application.id,
      guildId: config.guildId,
      commands: commandDefinitions(commands, config),
      settings: new SettingsStore(database),
      logger,
      force: true,
    });
  } catch (error) {
    logger.error('could not register the commands', errorContext(error));
    process.exitCode = 1;
  } finally {
    await database.close();
  }
}

await deploy();
