import type { EndpointTypeMap } from '@fal-ai/client/endpoints';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { Imagen4FastRequest, Imagen4Request } from '../../src/models/imagen4.js';
import { EDIT_ENDPOINTS } from '../../src/models/editEndpoints.js';
import {
  NanoBanana2EditRequest,
  NanoBanana2Request,
  NanoBananaEditOutput,
  NanoBananaProEditRequest,
  NanoBananaProRequest,
} from '../../src/models/nanoBanana.js';
import { MODELS } from '../../src/models/registry.js';
import { EsrganRequest, UPSCALER, UpscaleOutput } from '../../src/models/upscaler.js';

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
  'fal-ai/nano-banana-2/edit': true satisfies Fits<
    Body<typeof NanoBanana2EditRequest>,
    FalInput<'fal-ai/nano-banana-2/edit'>
  >,
  'fal-ai/nano-banana-pro/edit': true satisfies Fits<
    Body<typeof NanoBananaProEditRequest>,
    FalInput<'fal-ai/nano-banana-pro/edit'>
  >,
  'fal-ai/esrgan': true satisfies Fits<Body<typeof EsrganRequest>, FalInput<'fal-ai/esrgan'>>,
} as const;

const outputsChecked = {
  'fal-ai/nano-banana-2/edit': true satisfies Parses<
    FalOutput<'fal-ai/nano-banana-2/edit'>,
    typeof NanoBananaEditOutput
  >,
  'fal-ai/nano-banana-pro/edit': true satisfies Parses<
    FalOutput<'fal-ai/nano-banana-pro/edit'>,
    typeof NanoBananaEditOutput
  >,
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
    const extraField: true = true satisfies Fits<
      { prompt: string; negative_prompt: string },
      FalInput<'fal-ai/nano-banana-2'>
    >;
    // @ts-expect-error -- 0.5K is not a Nano Banana Pro resolution
    const badEnum: true = true satisfies Fits<
      { prompt: string; resolution: '0.5K' },
      FalInput<'fal-ai/nano-banana-pro'>
    >;
    // @ts-expect-error -- an output whose image has no url is not what UpscaleOutput parses
    const badOutput: true = true satisfies Parses<{ image: { width: number } }, typeof UpscaleOutput>;
    expect([extraField, badEnum, badOutput]).toEqual([true, true, true]);
  });
});
