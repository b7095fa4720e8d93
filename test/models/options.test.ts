import { ApplicationCommandOptionType } from 'discord.js';
import { describe, expect, it } from 'vitest';
import imagine from '../../commands/imagine.js';
import { loadConfig } from '../../src/config.js';
import { optionsFromModels } from '../../src/discord/commandOptions.js';
import { NEGATIVE_PROMPT_MAX_LENGTH, PROMPT_MAX_LENGTH, SEED_MAX } from '../../src/models/fields.js';
import { MODELS, modelsWithIds } from '../../src/models/registry.js';

const ENV = { DISCORD_TOKEN: 'aaaa.bbbb.cccc', FAL_KEY: 'id:secret' };

describe('optionsFromModels', () => {
  const options = optionsFromModels(MODELS);
  const byName = Object.fromEntries(options.map((option) => [option.name, option]));

  it('is the union of every model input, required options first', () => {
    expect(options.map((o) => o.name)).toEqual([
      'prompt',
      'aspect_ratio',
      'num_images',
      'seed',
      'resolution',
      'negative_prompt',
    ]);
    expect(byName.prompt).toMatchObject({
      type: ApplicationCommandOptionType.String,
      required: true,
      min_length: 1,
      max_length: PROMPT_MAX_LENGTH,
    });
    expect(byName.negative_prompt).toMatchObject({ required: false, max_length: NEGATIVE_PROMPT_MAX_LENGTH });
  });

  it('turns enums into choices (the union, within Discord’s 25) and integer bounds into min/max', () => {
    const ratios = (byName.aspect_ratio as { choices: { value: string }[] }).choices.map((c) => c.value);
    expect(new Set(ratios)).toEqual(
      new Set([
        'auto',
        '21:9',
        '16:9',
        '3:2',
        '4:3',
        '5:4',
        '1:1',
        '4:5',
        '3:4',
        '2:3',
        '9:16',
        '4:1',
        '1:4',
        '8:1',
        '1:8',
      ]),
    );
    expect(ratios.length).toBeLessThanOrEqual(25);
    expect((byName.resolution as { choices: { value: string }[] }).choices.map((c) => c.value)).toEqual([
      '0.5K',
      '1K',
      '2K',
      '4K',
    ]);
    expect(byName.num_images).toMatchObject({ type: ApplicationCommandOptionType.Integer, min_value: 1, max_value: 4 });
    expect(byName.seed).toMatchObject({
      type: ApplicationCommandOptionType.Integer,
      min_value: 0,
      max_value: SEED_MAX,
    });
  });

  it('keeps every description within Discord limits', () => {
    for (const option of imagine.data.options) {
      expect(option.description.length, option.name).toBeGreaterThan(0);
      expect(option.description.length, option.name).toBeLessThanOrEqual(100);
    }
  });

  it('offers a field only while an offered model takes it', () => {
    const gemini = optionsFromModels(modelsWithIds(['nano-banana-2', 'nano-banana-pro'])).map((o) => o.name);
    expect(gemini).not.toContain('negative_prompt');
    expect(optionsFromModels(modelsWithIds(['imagen4-fast'])).map((o) => o.name)).not.toContain('resolution');
    expect(optionsFromModels(modelsWithIds(['nano-banana-2', 'imagen4'])).map((o) => o.name)).toContain(
      'negative_prompt',
    );
  });
});

describe('/imagine definition', () => {
  it('registers the offered models only: the Gemini models by default, Imagen 4 when the operator offers it', () => {
    const defaults = imagine.dataFor(loadConfig(ENV));
    expect(defaults.options.find((o) => o.name === 'model')).toMatchObject({
      choices: [
        { name: 'Nano Banana 2', value: 'nano-banana-2' },
        { name: 'Nano Banana Pro', value: 'nano-banana-pro' },
      ],
    });
    expect(defaults.options.map((o) => o.name)).not.toContain('negative_prompt');
    const withImagen = imagine.dataFor(loadConfig({ ...ENV, IMAGEN_MODELS: 'nano-banana-2,imagen4' }));
    expect(withImagen.options.map((o) => o.name)).toContain('negative_prompt');
    expect(withImagen.options.find((o) => o.name === 'model')).toMatchObject({
      choices: [
        { name: 'Nano Banana 2', value: 'nano-banana-2' },
        { name: 'Imagen 4', value: 'imagen4' },
      ],
    });
  });
});
