import { describe, expect, it } from 'vitest';
import {
  EsrganRequest,
  UPSCALER,
  UpscaleOutput,
  chooseUpscaleOutputFormat,
  upscaledSize,
} from '../../src/models/upscaler.js';

const URL_A = 'https://cdn.discordapp.com/attachments/1/2/a.png?ex=1&is=2&hm=3';

describe('the upscaler request schema', () => {
  it("sends the image, the bot's factor and weights, and a format fal-ai/esrgan returns (no WebP)", () => {
    expect(EsrganRequest.parse({ image_url: URL_A, output_format: 'jpeg' })).toEqual({
      image_url: URL_A,
      scale: 2,
      model: 'RealESRGAN_x4plus',
      output_format: 'jpeg',
    });
    expect(EsrganRequest.safeParse({ image_url: URL_A, output_format: 'webp' }).success).toBe(false);
    expect(EsrganRequest.safeParse({ image_url: URL_A, output_format: 'png', scale: 8 }).success).toBe(false);
    expect(EsrganRequest.safeParse({ image_url: URL_A, output_format: 'png', tile: 0 }).success).toBe(false);
    expect(
      UpscaleOutput.parse({ image: { url: 'https://v3.fal.media/x.png', width: 2048, height: 2048 } }).image.width,
    ).toBe(2048);
  });

  it('asks for PNG while the upscaled file fits the channel, else JPEG', () => {
    const discordDefault = { perFileBytes: 10 * 1024 * 1024, perRequestBytes: 25 * 1024 * 1024 };
    expect(chooseUpscaleOutputFormat({ width: 1024, height: 1024 }, 2, discordDefault)).toBe('png');
    expect(chooseUpscaleOutputFormat({ width: 2048, height: 2048 }, 2, discordDefault)).toBe('jpeg');
    expect(
      chooseUpscaleOutputFormat({ width: 2048, height: 2048 }, 2, {
        perFileBytes: 100 * 1024 * 1024,
        perRequestBytes: 500 * 1024 * 1024,
      }),
    ).toBe('png');
    expect(chooseUpscaleOutputFormat({ width: 2048, height: 2048 }, 2, undefined)).toBe('png');
  });
});

describe('UPSCALER', () => {
  it('names the endpoint its schema was written for, and sizes outputs as the upscaler does', () => {
    expect(UPSCALER).toMatchObject({
      id: 'esrgan',
      endpointId: 'fal-ai/esrgan',
      request: EsrganRequest,
      output: UpscaleOutput,
    });
    expect(UPSCALER.price.perImageUsd).toBeGreaterThan(0);
    expect(upscaledSize({ width: 1024, height: 576 }, 2)).toEqual({ width: 2048, height: 1152 });
    expect(upscaledSize({ width: 33, height: 17 }, 1.5)).toEqual({ width: 50, height: 26 });
  });
});
