import type { EndpointTypeMap } from '@fal-ai/client/endpoints';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { Imagen4FastRequest, Imagen4Request } from '../../src/models/imagen4.js';
import { EDIT_ENDPOINTS, editEndpointOf } from '../../src/models/editEndpoints.js';
import {
  EDIT_MAX_IMAGES,
  NanoBanana2EditRequest,
  NanoBanana2Request,
  NanoBananaEditOutput,
  NanoBananaProEditRequest,
  NanoBananaProRequest,
} from '../../src/models/nanoBanana.js';
import { MODELS } from '../../src/models/registry.js';
import { EsrganRequest, UPSCALER, UpscaleOutput, chooseUpscaleOutputFormat } from '../../src/models/upscaler.js';

/**
 * Compile-time check of every endpoint's request schema against @fal-ai/client's generated input type: the body
 * we send must be assignable to fal's input, and name no field fal's type lacks. `true satisfies Fits<...>` stops
 * `npm test`'s type-check when either fails, naming the offending fields.
 */
type Fits<Ours, Theirs> = [Ours] extends [Theirs]
  ? [Exclude<keyof Ours, keyof Theirs>] extends [never]
    ? true
    : { fieldsFalDoesNotTake: Exclude<keyof Ours, keyof Theirs> }
  : { notAssignable: Ours };

type FalInput<Endpoint extends keyof EndpointTypeMap> = EndpointTypeMap[Endpoint]['input'];
type FalOutput<Endpoint extends keyof EndpointTypeMap> = EndpointTypeMap[Endpoint]['output'];

/** What fal returns must be something our output schema parses: fal's output type is assignable to its input. */
type Parses<Theirs, Schema extends z.ZodType> = [Theirs] extends [z.input<Schema>] ? true : { notParsed: Theirs };
/** The JSON fal receives: an optional field left undefined is not sent at all (JSON.stringify drops it). */
type Body<Schema extends z.ZodType> = { [K in keyof z.output<Schema>]: Exclude<z.output<Schema>[K], undefined> };

/**
 * The one known difference: Imagen 4's published API page (shared/reference, the seed's page) takes
 * `negative_prompt`, but the package's generated types for these endpoints dropped it. We follow the page.
 */
type ImagenBody<Schema extends z.ZodType> = Omit<Body<Schema>, 'negative_prompt'>;

const checked = {
  'fal-ai/nano-banana-2': true satisfies Fits<Body<typeof NanoBanana2Request>, FalInput<'fal-ai/nano-banana-2'>>,
  'fal-ai/nano-banana-pro': true satisfies Fits<Body<typeof NanoBananaProRequest>, FalInput<'fal-ai/nano-banana-pro'>>,
  'fal-ai/imagen4/preview': true satisfies Fits<ImagenBody<typeof Imagen4Request>, FalInput<'fal-ai/imagen4/preview'>>,
  'fal-ai/imagen4/preview/fast': true satisfies Fits<
    ImagenBody<typeof Imagen4FastRequest>,
    FalInput<'fal-ai/imagen4/preview/fast'>
  >,
  'fal-ai/imagen4/preview/ultra': true satisfies Fits<
    ImagenBody<typeof Imagen4Request>,
    FalInput<'fal-ai/imagen4/preview/ultra'>
  >,
} as const;

/** The endpoints of the per-image actions and of reference images: the models' /edit endpoints and the upscaler. */
const checkedActions = {
  'fal-ai/nano-banana-2/edit': true satisfies Fits<Body<typeof NanoBanana2EditRequest>, FalInput<'fal-ai/nano-banana-2/edit'>>,
  'fal-ai/nano-banana-pro/edit': true satisfies Fits<Body<typeof NanoBananaProEditRequest>, FalInput<'fal-ai/nano-banana-pro/edit'>>,
  'fal-ai/esrgan': true satisfies Fits<Body<typeof EsrganRequest>, FalInput<'fal-ai/esrgan'>>,
} as const;

const outputsChecked = {
  'fal-ai/nano-banana-2/edit': true satisfies Parses<FalOutput<'fal-ai/nano-banana-2/edit'>, typeof NanoBananaEditOutput>,
  'fal-ai/nano-banana-pro/edit': true satisfies Parses<FalOutput<'fal-ai/nano-banana-pro/edit'>, typeof NanoBananaEditOutput>,
  'fal-ai/esrgan': true satisfies Parses<FalOutput<'fal-ai/esrgan'>, typeof UpscaleOutput>,
  // The upscaler we did not choose answers the same shape, so switching to it keeps the output schema.
  'fal-ai/topaz/upscale/image': true satisfies Parses<FalOutput<'fal-ai/topaz/upscale/image'>, typeof UpscaleOutput>,
} as const;

/** The request schema each endpoint is checked with above, so a catalog entry using another one is caught. */
const schemaOf = {
  'fal-ai/nano-banana-2': NanoBanana2Request,
  'fal-ai/nano-banana-pro': NanoBananaProRequest,
  'fal-ai/imagen4/preview': Imagen4Request,
  'fal-ai/imagen4/preview/fast': Imagen4FastRequest,
  'fal-ai/imagen4/preview/ultra': Imagen4Request,
} as const;

const actionSchemaOf = {
  'fal-ai/nano-banana-2/edit': NanoBanana2EditRequest,
  'fal-ai/nano-banana-pro/edit': NanoBananaProEditRequest,
  'fal-ai/esrgan': EsrganRequest,
} as const;

describe("request schemas against fal's generated endpoint types", () => {
  it('covers every endpoint of the catalog, each with the schema it was type-checked with', () => {
    for (const model of MODELS) {
      expect(checked[model.endpointId], model.endpointId).toBe(true);
      expect(model.request, model.endpointId).toBe(schemaOf[model.endpointId]);
    }
    expect(Object.keys(checked).sort()).toEqual([...new Set(MODELS.map((model) => model.endpointId))].sort());
  });

  it('covers every /edit endpoint and the upscaler, each with the schema it was type-checked with', () => {
    const used = [...Object.values(EDIT_ENDPOINTS), UPSCALER];
    for (const endpoint of used) {
      expect(checkedActions[endpoint.endpointId], endpoint.endpointId).toBe(true);
      expect(endpoint.request, endpoint.endpointId).toBe(actionSchemaOf[endpoint.endpointId]);
    }
    expect(Object.keys(checkedActions).sort()).toEqual(used.map((endpoint) => endpoint.endpointId).sort());
    expect(Object.values(outputsChecked).every((ok) => ok)).toBe(true);
    for (const edit of Object.values(EDIT_ENDPOINTS)) {
      expect(MODELS.find((model) => model.id === edit.modelId)?.output, edit.endpointId).toBe(edit.output);
    }
  });

  it("fails the type-check for a field fal does not take or a value fal's enum lacks", () => {
    // These two lines document what the check catches: each would not compile without its @ts-expect-error.
    // @ts-expect-error -- negative_prompt is not in fal's Nano Banana 2 input
    const extraField: true = true satisfies Fits<{ prompt: string; negative_prompt: string }, FalInput<'fal-ai/nano-banana-2'>>;
    // @ts-expect-error -- 0.5K is not a Nano Banana Pro resolution
    const badEnum: true = true satisfies Fits<{ prompt: string; resolution: '0.5K' }, FalInput<'fal-ai/nano-banana-pro'>>;
    expect([extraField, badEnum]).toEqual([true, true]);
  });
});

const SERVER = { output_format: 'png', safety_tolerance: '4' } as const;
const URL_A = 'https://cdn.discordapp.com/attachments/1/2/a.png?ex=1&is=2&hm=3';

describe('the /edit request schemas', () => {
  it("take the generate endpoint's member fields plus image_urls, defaulting to the image's own shape", () => {
    expect(NanoBanana2EditRequest.parse({ prompt: 'make the sky purple', image_urls: [URL_A], ...SERVER })).toEqual({
      prompt: 'make the sky purple',
      image_urls: [URL_A],
      aspect_ratio: 'auto',
      num_images: 1,
      resolution: '1K',
      ...SERVER,
    });
    // Nano Banana Pro generates 1:1 by default, but an edit keeps the image's aspect ratio unless asked.
    expect(NanoBananaProRequest.parse({ prompt: 'x', ...SERVER }).aspect_ratio).toBe('1:1');
    expect(NanoBananaProEditRequest.parse({ prompt: 'x', image_urls: [URL_A], ...SERVER }).aspect_ratio).toBe('auto');
    expect(NanoBananaProEditRequest.parse({ prompt: 'x', image_urls: [URL_A], aspect_ratio: '16:9', ...SERVER }).aspect_ratio).toBe('16:9');
    // Derived, not copied: each edit schema has exactly its generate schema's fields and image_urls.
    expect(Object.keys(NanoBanana2EditRequest.shape).sort()).toEqual([...Object.keys(NanoBanana2Request.shape), 'image_urls'].sort());
    expect(Object.keys(NanoBananaProEditRequest.shape).sort()).toEqual([...Object.keys(NanoBananaProRequest.shape), 'image_urls'].sort());
    expect(NanoBananaProEditRequest.safeParse({ prompt: 'x', image_urls: [URL_A], resolution: '0.5K', ...SERVER }).success).toBe(false);
  });

  it('require one to three fetchable images: http(s) URLs or data URIs, nothing else', () => {
    const parse = (image_urls: unknown) => NanoBanana2EditRequest.safeParse({ prompt: 'x', image_urls, ...SERVER }).success;
    expect(parse([URL_A, 'data:image/png;base64,iVBORw0KGgo=', 'http://127.0.0.1:9/x.png'])).toBe(true);
    expect(parse([])).toBe(false);
    expect(parse(Array.from({ length: EDIT_MAX_IMAGES + 1 }, () => URL_A))).toBe(false);
    expect(parse(['file:///etc/passwd'])).toBe(false);
    expect(parse(['attachment://a.png'])).toBe(false);
    expect(NanoBanana2EditRequest.safeParse({ prompt: 'x', ...SERVER }).success).toBe(false);
  });

  it('exist for the Gemini models only: Imagen 4 takes no images', () => {
    expect(editEndpointOf('nano-banana-2')?.endpointId).toBe('fal-ai/nano-banana-2/edit');
    expect(editEndpointOf('nano-banana-pro')?.endpointId).toBe('fal-ai/nano-banana-pro/edit');
    for (const id of ['imagen4', 'imagen4-fast', 'imagen4-ultra', 'toString', 'unknown']) expect(editEndpointOf(id), id).toBeUndefined();
    expect(editEndpointOf('nano-banana-2')?.price).toBe(MODELS[0].price);
  });
});

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
    expect(UpscaleOutput.parse({ image: { url: 'https://v3.fal.media/x.png', width: 2048, height: 2048 } }).image.width).toBe(2048);
  });

  it('asks for PNG while the upscaled file fits the channel, else JPEG', () => {
    const discordDefault = { perFileBytes: 10 * 1024 * 1024, perRequestBytes: 25 * 1024 * 1024 };
    expect(chooseUpscaleOutputFormat({ width: 1024, height: 1024 }, 2, discordDefault)).toBe('png');
    expect(chooseUpscaleOutputFormat({ width: 2048, height: 2048 }, 2, discordDefault)).toBe('jpeg');
    expect(chooseUpscaleOutputFormat({ width: 2048, height: 2048 }, 2, { perFileBytes: 100 * 1024 * 1024, perRequestBytes: 500 * 1024 * 1024 })).toBe('png');
    expect(chooseUpscaleOutputFormat({ width: 2048, height: 2048 }, 2, undefined)).toBe('png');
  });
});
