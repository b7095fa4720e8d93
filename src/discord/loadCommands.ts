import { isCommand, type Command } from './command.js';

/**
 * Checks the command modules of `commands/index.ts` and keys them by name: a module that does not export a
 * {@link Command} as its default, or a repeated name, stops start-up with a message that says which one.
 */
export function loadCommands(modules: readonly unknown[]): Map<string, Command> {
  const commands = new Map<string, Command>();
  for (const [index, module] of modules.entries()) {
    if (!isCommand(module)) {
      throw new Error(`command ${index + 1} in commands/index.ts is not a command ({ data, execute })`);
    }
    if (commands.has(module.data.name)) {
      throw new Error(`command ${index + 1} in commands/index.ts repeats the command name ${module.data.name}`);
    }
    commands.set(module.data.name, module);
  }
  return commands;
}
