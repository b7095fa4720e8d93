import { ApplicationCommandOptionType } from 'discord.js';
import { describe, expect, it } from 'vitest';
import imagine from '../../commands/imagine.js';
import { optionsFromModels } from '../../src/discord/commandOptions.js';
import { NEGATIVE_PROMPT_MAX_LENGTH, PROMPT_MAX_LENGTH, SEED_MAX } from '../../src/models/imagen4.js';
import { MODELS } from '../../src/models/registry.js';

describe('optionsFromModels', () => {
  const options = optionsFromModels(MODELS);
  const byName = Object.fromEntries(options.map((option) => [option.name, option]));

  it('mirrors the Imagen 4 inputs, required options first', () => {
    expect(options.map((o) => o.name)).toEqual(['prompt', 'negative_prompt', 'aspect_ratio', 'num_images', 'seed', 'resolution']);
    expect(byName.prompt).toMatchObject({
      type: ApplicationCommandOptionType.String,
      required: true,
      min_length: 1,
      max_length: PROMPT_MAX_LENGTH,
    });
    expect(byName.negative_prompt).toMatchObject({ required: false, max_length: NEGATIVE_PROMPT_MAX_LENGTH });
  });

  it('turns enums into choices and integer bounds into min/max', () => {
    expect(byName.aspect_ratio).toMatchObject({
      choices: ['1:1', '16:9', '9:16', '3:4', '4:3'].map((v) => ({ name: v, value: v })),
    });
    expect(byName.resolution).toMatchObject({ choices: [{ name: '1K', value: '1K' }, { name: '2K', value: '2K' }] });
    expect(byName.num_images).toMatchObject({ type: ApplicationCommandOptionType.Integer, min_value: 1, max_value: 4 });
    expect(byName.seed).toMatchObject({ type: ApplicationCommandOptionType.Integer, min_value: 0, max_value: SEED_MAX });
  });

  it('keeps every description within Discord limits', () => {
    for (const option of imagine.data.options) {
      expect(option.description.length, option.name).toBeGreaterThan(0);
      expect(option.description.length, option.name).toBeLessThanOrEqual(100);
    }
  });

  it('offers a field only some models take (resolution is not on Fast)', () => {
    expect(optionsFromModels(MODELS.filter((m) => m.id === 'imagen4-fast')).map((o) => o.name)).not.toContain('resolution');
  });
});

describe('/imagine definition', () => {
  it('adds the model choice from the registry', () => {
    const model = imagine.data.options.find((o) => o.name === 'model');
    expect(model).toMatchObject({
      choices: [
        { name: 'Imagen 4', value: 'imagen4' },
        { name: 'Imagen 4 Fast', value: 'imagen4-fast' },
        { name: 'Imagen 4 Ultra', value: 'imagen4-ultra' },
      ],
    });
  });
});
