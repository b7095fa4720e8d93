import { describe, expect, it } from 'vitest';
import commandModules from '../../commands/index.js';
import { loadCommands } from '../../src/discord/loadCommands.js';

const valid = (name: string) => ({ data: { name, description: 'd' }, execute: async () => {} });

describe('loadCommands', () => {
  it('loads exactly the commands of the static list, in its order', () => {
    // A stale compiled module left in dist/commands/ by a removed or renamed command is never loaded:
    // nothing scans that folder.
    expect([...loadCommands(commandModules).keys()]).toEqual([
      'imagine',
      'imagine-settings',
      'imagine-usage',
      'imagine-history',
      'imagine-show',
    ]);
  });

  it('refuses a module that is not a command, naming its place in the list', () => {
    expect(() => loadCommands([valid('a'), { data: { name: 'b' } }])).toThrow('command 2 in commands/index.ts');
  });

  it('refuses two commands with one name', () => {
    expect(() => loadCommands([valid('a'), valid('a')])).toThrow('repeats the command name a');
  });
});
