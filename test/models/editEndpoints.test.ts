import { describe, expect, it } from 'vitest';
import { REFERENCE_IMAGE_MAX_BYTES, editEndpointOf, referenceImageProblem } from '../../src/models/editEndpoints.js';
import {
  EDIT_MAX_IMAGES,
  NanoBanana2EditRequest,
  NanoBanana2Request,
  NanoBananaProEditRequest,
  NanoBananaProRequest,
} from '../../src/models/nanoBanana.js';
import { MODELS } from '../../src/models/registry.js';

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
    expect(
      NanoBananaProEditRequest.parse({ prompt: 'x', image_urls: [URL_A], aspect_ratio: '16:9', ...SERVER })
        .aspect_ratio,
    ).toBe('16:9');
    // Derived, not copied: each edit schema has exactly its generate schema's fields and image_urls.
    expect(Object.keys(NanoBanana2EditRequest.shape).sort()).toEqual(
      [...Object.keys(NanoBanana2Request.shape), 'image_urls'].sort(),
    );
    expect(Object.keys(NanoBananaProEditRequest.shape).sort()).toEqual(
      [...Object.keys(NanoBananaProRequest.shape), 'image_urls'].sort(),
    );
    expect(
      NanoBananaProEditRequest.safeParse({ prompt: 'x', image_urls: [URL_A], resolution: '0.5K', ...SERVER }).success,
    ).toBe(false);
  });

  it('require one to three fetchable images: http(s) URLs or data URIs, nothing else', () => {
    const parse = (image_urls: unknown) =>
      NanoBanana2EditRequest.safeParse({ prompt: 'x', image_urls, ...SERVER }).success;
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
    for (const id of ['imagen4', 'imagen4-fast', 'imagen4-ultra', 'toString', 'unknown'])
      expect(editEndpointOf(id), id).toBeUndefined();
    expect(editEndpointOf('nano-banana-2')?.price).toBe(MODELS[0].price);
  });
});

describe('reference images', () => {
  it('are refused before anything is sent when they are not an image fal reads, or too large', () => {
    expect(referenceImageProblem({ contentType: 'image/png', size: 1000 })).toBeUndefined();
    expect(
      referenceImageProblem({ contentType: 'image/JPEG; charset=binary', size: REFERENCE_IMAGE_MAX_BYTES }),
    ).toBeUndefined();
    expect(referenceImageProblem({ contentType: 'image/png', size: REFERENCE_IMAGE_MAX_BYTES + 1 })).toBe('too_large');
    expect(referenceImageProblem({ contentType: 'image/gif', size: 10 })).toBe('not_an_image');
    expect(referenceImageProblem({ contentType: 'application/pdf', size: 10 })).toBe('not_an_image');
    expect(referenceImageProblem({ contentType: null, size: 10 })).toBe('not_an_image');
    expect(referenceImageProblem({ size: 10 })).toBe('not_an_image');
  });
});
