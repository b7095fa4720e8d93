import { describe, expect, it } from 'vitest';
import { PROMPT_MAX_LENGTH, SEED_MAX } from '../../src/models/imagen4.js';
import { parseGenerationInput } from '../../src/models/parse.js';
import { findModel, type ImageModel } from '../../src/models/registry.js';

const model = (id: string): ImageModel => {
  const found = findModel(id);
  if (!found) throw new Error(`no model ${id}`);
  return found;
};

describe('parseGenerationInput', () => {
  it('fills defaults and picks a seed when none is given', () => {
    const result = parseGenerationInput(model('imagen4'), { prompt: '  a red fox  ' }, () => 1234);
    expect(result).toEqual({
      ok: true,
      input: { prompt: 'a red fox', aspect_ratio: '1:1', num_images: 1, resolution: '1K', seed: 1234 },
    });
  });

  it('keeps a seed the member chose', () => {
    const result = parseGenerationInput(model('imagen4-ultra'), { prompt: 'x', seed: 7, resolution: '2K' }, () => 99);
    expect(result.ok && result.input).toMatchObject({ seed: 7, resolution: '2K' });
  });

  it('refuses 2K on Imagen 4 Fast and names the models that offer it', () => {
    const result = parseGenerationInput(model('imagen4-fast'), { prompt: 'x', resolution: '2K' });
    expect(result).toEqual({
      ok: false,
      problems: ['Imagen 4 Fast does not support resolution. Choose Imagen 4 or Imagen 4 Ultra, or leave resolution out.'],
    });
  });

  it('explains out-of-range values in plain words', () => {
    const tooLong = parseGenerationInput(model('imagen4'), { prompt: 'a'.repeat(PROMPT_MAX_LENGTH + 1) });
    expect(tooLong).toEqual({ ok: false, problems: [`The prompt is too long: the most is ${PROMPT_MAX_LENGTH} characters.`] });
    const many = parseGenerationInput(model('imagen4'), { prompt: 'x', num_images: 5 });
    expect(many).toEqual({ ok: false, problems: ['The num images must be at most 4.'] });
    const ratio = parseGenerationInput(model('imagen4'), { prompt: 'x', aspect_ratio: '21:9' });
    expect(ratio.ok).toBe(false);
    expect(!ratio.ok && ratio.problems[0]).toBe('The aspect ratio must be one of: 1:1, 16:9, 9:16, 3:4, 4:3.');
    const seed = parseGenerationInput(model('imagen4'), { prompt: 'x', seed: SEED_MAX + 1 });
    expect(seed.ok).toBe(false);
    const empty = parseGenerationInput(model('imagen4'), { prompt: '   ' });
    expect(empty).toEqual({ ok: false, problems: ['The prompt is empty: describe what you want to see.'] });
  });

  it('drops an empty negative prompt instead of sending it', () => {
    const result = parseGenerationInput(model('imagen4'), { prompt: 'x', negative_prompt: '  ' }, () => 1);
    expect(result.ok && 'negative_prompt' in result.input).toBe(false);
  });
});
