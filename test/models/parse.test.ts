import { describe, expect, it } from 'vitest';
import { PROMPT_MAX_LENGTH, SEED_MAX } from '../../src/models/fields.js';
import { adaptInput, parseGenerationInput } from '../../src/models/parse.js';
import { MODELS, findModel, type ImageModel } from '../../src/models/registry.js';

const model = (id: string): ImageModel => {
  const found = findModel(id);
  if (!found) throw new Error(`no model ${id}`);
  return found;
};
const pickSeed = () => 1234;

describe('parseGenerationInput', () => {
  it("fills each model's defaults and picks a seed when none is given", () => {
    expect(parseGenerationInput(model('nano-banana-2'), { prompt: '  a red fox  ' }, { pickSeed })).toEqual({
      ok: true,
      input: { prompt: 'a red fox', aspect_ratio: 'auto', num_images: 1, resolution: '1K', seed: 1234 },
    });
    expect(parseGenerationInput(model('nano-banana-pro'), { prompt: 'x' }, { pickSeed })).toMatchObject({
      ok: true,
      input: { aspect_ratio: '1:1', resolution: '1K' },
    });
    expect(parseGenerationInput(model('imagen4'), { prompt: 'x' }, { pickSeed })).toEqual({
      ok: true,
      input: { prompt: 'x', aspect_ratio: '1:1', num_images: 1, resolution: '1K', seed: 1234 },
    });
  });

  it('keeps a seed the member chose', () => {
    const result = parseGenerationInput(
      model('imagen4-ultra'),
      { prompt: 'x', seed: 7, resolution: '2K' },
      { pickSeed: () => 99 },
    );
    expect(result.ok && result.input).toMatchObject({ seed: 7, resolution: '2K' });
  });

  it('names what the chosen model accepts when it does not take a value', () => {
    expect(parseGenerationInput(model('imagen4'), { prompt: 'x', aspect_ratio: '21:9' })).toEqual({
      ok: false,
      problems: ['Imagen 4 does not take that aspect ratio: it takes 1:1, 16:9, 9:16, 3:4, 4:3.'],
    });
    expect(parseGenerationInput(model('nano-banana-pro'), { prompt: 'x', resolution: '0.5K' })).toEqual({
      ok: false,
      problems: ['Nano Banana Pro does not take that resolution: it takes 1K, 2K, 4K.'],
    });
  });

  it('refuses an option the model lacks and names the offered models that take it', () => {
    expect(
      parseGenerationInput(model('nano-banana-2'), { prompt: 'x', constructor: 'y' }, { offered: MODELS }),
    ).toEqual({
      ok: false,
      problems: ['Nano Banana 2 does not take a constructor. Leave constructor out.'],
    });
    const result = parseGenerationInput(
      model('nano-banana-2'),
      { prompt: 'x', negative_prompt: 'people' },
      { offered: MODELS },
    );
    expect(result).toEqual({
      ok: false,
      problems: [
        'Nano Banana 2 does not take a negative prompt. Choose Imagen 4 or Imagen 4 Fast or Imagen 4 Ultra, or leave negative prompt out.',
      ],
    });
    const alone = parseGenerationInput(
      model('nano-banana-2'),
      { prompt: 'x', negative_prompt: 'people' },
      { offered: [model('nano-banana-2')] },
    );
    expect(alone).toEqual({
      ok: false,
      problems: ['Nano Banana 2 does not take a negative prompt. Leave negative prompt out.'],
    });
    expect(
      parseGenerationInput(model('imagen4-fast'), { prompt: 'x', resolution: '2K' }, { offered: MODELS }),
    ).toMatchObject({
      ok: false,
      problems: [
        expect.stringContaining(
          'Imagen 4 Fast does not take a resolution. Choose Nano Banana 2 or Nano Banana Pro or Imagen 4 or Imagen 4 Ultra',
        ),
      ],
    });
  });

  it('explains out-of-range values in plain words', () => {
    const tooLong = parseGenerationInput(model('nano-banana-2'), { prompt: 'a'.repeat(PROMPT_MAX_LENGTH + 1) });
    expect(tooLong).toEqual({
      ok: false,
      problems: [`The prompt is too long: the most is ${PROMPT_MAX_LENGTH} characters.`],
    });
    const many = parseGenerationInput(model('nano-banana-2'), { prompt: 'x', num_images: 5 });
    expect(many).toEqual({ ok: false, problems: ['The num images must be at most 4.'] });
    const seed = parseGenerationInput(model('nano-banana-2'), { prompt: 'x', seed: SEED_MAX + 1 });
    expect(seed.ok).toBe(false);
    const empty = parseGenerationInput(model('nano-banana-2'), { prompt: '   ' });
    expect(empty).toEqual({ ok: false, problems: ['The prompt is empty: describe what you want to see.'] });
  });

  it('drops an empty negative prompt instead of sending it', () => {
    const result = parseGenerationInput(model('imagen4'), { prompt: 'x', negative_prompt: '  ' }, { pickSeed });
    expect(result.ok && 'negative_prompt' in result.input).toBe(false);
  });
});

describe('adaptInput', () => {
  it('carries an Imagen 4 generation over to Nano Banana 2: what it takes is kept, the rest dropped', () => {
    const old = {
      prompt: 'a fox',
      negative_prompt: 'people',
      aspect_ratio: '16:9',
      num_images: 2,
      seed: 5,
      resolution: '2K',
      safety_tolerance: '4',
    } as const;
    expect(adaptInput(model('nano-banana-2'), old)).toEqual({
      ok: true,
      input: { prompt: 'a fox', aspect_ratio: '16:9', num_images: 2, seed: 5, resolution: '2K' },
    });
  });

  it('falls back to the target model’s default for a value it does not take', () => {
    const gemini = { prompt: 'a fox', aspect_ratio: '21:9', num_images: 1, seed: 5, resolution: '0.5K' } as const;
    expect(adaptInput(model('imagen4'), gemini)).toEqual({
      ok: true,
      input: { prompt: 'a fox', aspect_ratio: '1:1', num_images: 1, seed: 5, resolution: '1K' },
    });
  });
});
