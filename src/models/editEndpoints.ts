import type { z } from 'zod';
import type { OutputImage } from './fields.js';
import {
  EDIT_MAX_IMAGES,
  NanoBanana2EditInput,
  NanoBanana2EditRequest,
  NanoBananaEditOutput,
  NanoBananaProEditInput,
  NanoBananaProEditRequest,
} from './nanoBanana.js';
import { MODELS, type ModelId, type ModelPrice } from './registry.js';

/**
 * A model's /edit endpoint: where Vary, Edit image and /imagine with reference images run. It takes the model's
 * member input plus `image_urls`, and answers like the model; it is billed per image as the model is (fal's
 * page for nano-banana-2/edit: $0.08 at 1K, with the same resolution multipliers; Nano Banana Pro's edit price
 * is taken to be its generate price, TO BE CHECKED on fal's page).
 */
export interface EditEndpoint {
  /** The model this edits with (an id of MODELS). */
  readonly modelId: ModelId;
  /** fal endpoint id (https://fal.ai/models/<endpointId>). */
  readonly endpointId: string;
  readonly input: z.ZodObject<z.ZodRawShape, z.core.$strict>;
  readonly request: z.ZodObject<z.ZodRawShape, z.core.$strict>;
  readonly output: z.ZodType<{ images: z.output<typeof OutputImage>[] }>;
  /** The most images one request carries. */
  readonly maxImages: number;
  readonly price: ModelPrice;
}

function priceOf(id: ModelId): ModelPrice {
  const model = MODELS.find((m) => m.id === id);
  if (!model) throw new Error(`EDIT_ENDPOINTS: no model ${id}`);
  return model.price;
}

/**
 * The models that edit images, by model id. Imagen 4 has no /edit endpoint: a model missing here takes no
 * images, and the bot says so ({@link editEndpointOf} answers undefined).
 */
export const EDIT_ENDPOINTS = {
  'nano-banana-2': {
    modelId: 'nano-banana-2',
    endpointId: 'fal-ai/nano-banana-2/edit',
    input: NanoBanana2EditInput,
    request: NanoBanana2EditRequest,
    output: NanoBananaEditOutput,
    maxImages: EDIT_MAX_IMAGES,
    price: priceOf('nano-banana-2'),
  },
  'nano-banana-pro': {
    modelId: 'nano-banana-pro',
    endpointId: 'fal-ai/nano-banana-pro/edit',
    input: NanoBananaProEditInput,
    request: NanoBananaProEditRequest,
    output: NanoBananaEditOutput,
    maxImages: EDIT_MAX_IMAGES,
    price: priceOf('nano-banana-pro'),
  },
} as const satisfies Partial<Record<ModelId, EditEndpoint>>;

export type EditableModelId = keyof typeof EDIT_ENDPOINTS;

/** The /edit endpoint of a model, or undefined when the model takes no images (Imagen 4, unknown ids). */
export function editEndpointOf(modelId: string): EditEndpoint | undefined {
  return Object.hasOwn(EDIT_ENDPOINTS, modelId) ? EDIT_ENDPOINTS[modelId as EditableModelId] : undefined;
}

/**
 * Image types the Gemini /edit endpoints read (Gemini's image inputs: PNG, JPEG, WebP, HEIC, HEIF;
 * https://ai.google.dev/gemini-api/docs/image-understanding). A GIF or anything else is refused before fal is called.
 */
export const REFERENCE_IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/heic', 'image/heif'] as const;

/**
 * The largest reference image the bot hands to fal. TO BE CHECKED: neither fal's types nor its pages give a
 * limit; Gemini takes about 20 MB of inline image data per request, and a member's upload can be far larger
 * (Nitro: 500 MB), so a file over this is refused in plain words instead of failing at fal.
 */
export const REFERENCE_IMAGE_MAX_BYTES = 20 * 1024 * 1024;

export type ReferenceImageProblem = 'not_an_image' | 'too_large';

/**
 * Why a file a member attached cannot be a reference image, or undefined when it can. Reads only what Discord
 * reports for the attachment (content type and size), so it runs before anything is downloaded or sent.
 */
export function referenceImageProblem(file: {
  readonly contentType?: string | null;
  readonly size: number;
}): ReferenceImageProblem | undefined {
  const type = file.contentType?.split(';')[0]?.trim().toLowerCase();
  if (type === undefined || !(REFERENCE_IMAGE_TYPES as readonly string[]).includes(type)) return 'not_an_image';
  if (file.size > REFERENCE_IMAGE_MAX_BYTES) return 'too_large';
  return undefined;
}
