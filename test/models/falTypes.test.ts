import type { EndpointTypeMap } from '@fal-ai/client/endpoints';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { Imagen4FastRequest, Imagen4Request } from '../../src/models/imagen4.js';
import { NanoBanana2Request, NanoBananaProRequest } from '../../src/models/nanoBanana.js';
import { MODELS } from '../../src/models/registry.js';

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

/** The request schema each endpoint is checked with above, so a catalog entry using another one is caught. */
const schemaOf = {
  'fal-ai/nano-banana-2': NanoBanana2Request,
  'fal-ai/nano-banana-pro': NanoBananaProRequest,
  'fal-ai/imagen4/preview': Imagen4Request,
  'fal-ai/imagen4/preview/fast': Imagen4FastRequest,
  'fal-ai/imagen4/preview/ultra': Imagen4Request,
} as const;

describe("request schemas against fal's generated endpoint types", () => {
  it('covers every endpoint of the catalog, each with the schema it was type-checked with', () => {
    for (const model of MODELS) {
      expect(checked[model.endpointId], model.endpointId).toBe(true);
      expect(model.request, model.endpointId).toBe(schemaOf[model.endpointId]);
    }
    expect(Object.keys(checked).sort()).toEqual([...new Set(MODELS.map((model) => model.endpointId))].sort());
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
