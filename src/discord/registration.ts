import { createHash } from 'node:crypto';
import { Routes, type REST, type RESTPostAPIChatInputApplicationCommandsJSONBody } from 'discord.js';
import type { Logger } from '../logger.js';
import type { SettingsStore } from '../store/settings.js';

export type RegistrationResult = 'registered' | 'unchanged';

/**
 * Registers the slash commands with one bulk overwrite, to one guild (development) or globally, but only when
 * their definitions changed since the last registration (a hash kept in the database): Discord allows 200
 * command creations a day per guild, and a restart loop must not burn them.
 * @see https://discord.com/developers/docs/interactions/application-commands#bulk-overwrite-global-application-commands
 */
export async function syncCommands(options: {
  rest: REST;
  applicationId: string;
  guildId: string | undefined;
  commands: readonly RESTPostAPIChatInputApplicationCommandsJSONBody[];
  settings: SettingsStore;
  logger: Logger;
  force?: boolean;
}): Promise<RegistrationResult> {
  const { rest, applicationId, guildId, commands, settings, logger } = options;
  const scope = guildId ? `guild:${guildId}` : 'global';
  const key = `commands-hash:${applicationId}:${scope}`;
  const hash = createHash('sha256').update(JSON.stringify(commands)).digest('hex');
  if (!options.force && (await settings.get(key)) === hash) {
    logger.debug('slash commands unchanged; not registering', { scope });
    return 'unchanged';
  }
  const route = guildId
    ? Routes.applicationGuildCommands(applicationId, guildId)
    : Routes.applicationCommands(applicationId);
  await rest.put(route, { body: commands });
  await settings.set(key, hash);
  logger.info('slash commands registered', { scope, count: commands.length });
  return 'registered';
}
