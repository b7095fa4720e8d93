import imagine from '../../commands/imagine.js';
import { describe, expect, it } from 'vitest';
import {
  COMPONENT_ACTIONS,
  CUSTOM_ID_MAX_LENGTH,
  GENERATION_COMPONENTS,
  decodeCustomId,
  encodeCustomId,
} from '../../src/discord/customId.js';

describe('custom_id codec', () => {
  it('round-trips every action', () => {
    for (const action of COMPONENT_ACTIONS) {
      const encoded = encodeCustomId({ command: 'imagine', action, id: 42 });
      expect(encoded).toBe(`imagine:${action}:42`);
      expect(decodeCustomId(encoded)).toEqual({ command: 'imagine', action, id: 42 });
    }
  });

  it('stays within Discord’s 100 characters for the largest id', () => {
    const encoded = encodeCustomId({ command: 'imagine', action: 'edit-submit', id: Number.MAX_SAFE_INTEGER });
    expect(encoded.length).toBeLessThanOrEqual(CUSTOM_ID_MAX_LENGTH);
  });

  it.each([
    '',
    'imagine',
    'imagine:same',
    'imagine:same:',
    'imagine:same:0',
    'imagine:same:-1',
    'imagine:same:1.5',
    'imagine:same:01',
    'imagine:explode:1',
    'imagine:same:1:extra',
    'IMAGINE:same:1',
    'imagine:same:99999999999999999',
    `imagine:same:${'1'.repeat(120)}`,
  ])('refuses %j', (raw) => {
    expect(decodeCustomId(raw)).toBeUndefined();
  });
});

describe('GENERATION_COMPONENTS', () => {
  it('is the name of the command that handles every generation button', () => {
    expect(imagine.data.name).toBe(GENERATION_COMPONENTS);
    expect(imagine.handleComponent).toBeTypeOf('function');
  });
});
