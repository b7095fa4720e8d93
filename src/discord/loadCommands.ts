import { readdir } from 'node:fs/promises';
import { isCommand, type Command } from './command.js';

/**
 * Imports every command module in `directory` (one file per slash command) and refuses a module that does not
 * export a {@link Command} as its default, naming the file.
 */
export async function loadCommands(directory: URL): Promise<Map<string, Command>> {
  const files = (await readdir(directory)).filter((file) => /\.(js|ts)$/.test(file) && !file.endsWith('.d.ts')).sort();
  const commands = new Map<string, Command>();
  for (const file of files) {
    const module = (await import(new URL(file, directory).href)) as { default?: unknown };
    if (!isCommand(module.default)) {
      throw new Error(`commands/${file} does not export a command as default ({ data, execute })`);
    }
    if (commands.has(module.default.data.name)) {
      throw new Error(`commands/${file} repeats the command name ${module.default.data.name}`);
    }
    commands.set(module.default.data.name, module.default);
  }
  return commands;
}
