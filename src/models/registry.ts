import type { z } from 'zod';
import type { OutputImage } from './fields.js';
import { Imagen4FastInput, Imagen4FastRequest, Imagen4Input, Imagen4Output, Imagen4Request } from './imagen4.js';
import {
  NanoBanana2Input,
  NanoBanana2Request,
  NanoBananaOutput,
  NanoBananaProInput,
  NanoBananaProRequest,
} from './nanoBanana.js';

/** How one image is priced: a base price at 1K, and multipliers for other resolutions (fal bills per image). */
export interface ModelPrice {
  readonly perImageUsd: number;
  readonly byResolution?: Readonly<Record<string, number>>;
}

/**
 * One image model the bot can run: where fal serves it, what a member may choose (`input`), the exact body fal
 * receives (`request`: `input` plus what the server sets), what fal returns, and what one image costs.
 * Adding a model is adding its schemas and one entry here.
 */
export interface ImageModel {
  /** Stable id, stored with every generation and used in IMAGEN_MODEL, IMAGEN_MODELS and IMAGEN_PRICES. Never rename one. */
  readonly id: string;
  /** What members see in the model choice and in results. */
  readonly label: string;
  /** fal endpoint id (https://fal.ai/models/<endpointId>). */
  readonly endpointId: string;
  readonly input: z.ZodObject<z.ZodRawShape, z.core.$strict>;
  readonly request: z.ZodObject<z.ZodRawShape, z.core.$strict>;
  readonly output: z.ZodType<{ images: z.output<typeof OutputImage>[] }>;
  readonly price: ModelPrice;
  /** Set when Google or fal retired the model: said in the start-up log when it is the default. */
  readonly retired?: string;
}

const IMAGEN4_RETIRED = 'Google shut Imagen 4 down in 2026; fal may no longer serve it';

/** Every model the bot knows, the Gemini successors first (the order of the model choice). */
export const MODELS = [
  {
    id: 'nano-banana-2',
    label: 'Nano Banana 2',
    endpointId: 'fal-ai/nano-banana-2',
    input: NanoBanana2Input,
    request: NanoBanana2Request,
    output: NanoBananaOutput,
    // fal's model page: $0.08 an image; 0.5K at 0.75x, 2K at 1.5x, 4K at 2x.
    price: { perImageUsd: 0.08, byResolution: { '0.5K': 0.75, '1K': 1, '2K': 1.5, '4K': 2 } },
  },
  {
    id: 'nano-banana-pro',
    label: 'Nano Banana Pro',
    endpointId: 'fal-ai/nano-banana-pro',
    input: NanoBananaProInput,
    request: NanoBananaProRequest,
    output: NanoBananaOutput,
    // fal's model page: $0.15 an image; 4K is billed at twice the rate.
    price: { perImageUsd: 0.15, byResolution: { '1K': 1, '2K': 1, '4K': 2 } },
  },
  {
    id: 'imagen4',
    label: 'Imagen 4',
    endpointId: 'fal-ai/imagen4/preview',
    input: Imagen4Input,
    request: Imagen4Request,
    output: Imagen4Output,
    price: { perImageUsd: 0.04 },
    retired: IMAGEN4_RETIRED,
  },
  {
    id: 'imagen4-fast',
    label: 'Imagen 4 Fast',
    endpointId: 'fal-ai/imagen4/preview/fast',
    input: Imagen4FastInput,
    request: Imagen4FastRequest,
    output: Imagen4Output,
    price: { perImageUsd: 0.02 },
    retired: IMAGEN4_RETIRED,
  },
  {
    id: 'imagen4-ultra',
    label: 'Imagen 4 Ultra',
    endpointId: 'fal-ai/imagen4/preview/ultra',
    input: Imagen4Input,
    request: Imagen4Request,
    output: Imagen4Output,
    price: { perImageUsd: 0.06 },
    retired: IMAGEN4_RETIRED,
  },
] as const satisfies readonly ImageModel[];

export type ModelId = (typeof MODELS)[number]['id'];
export const MODEL_IDS = MODELS.map((model) => model.id) as [ModelId, ...ModelId[]];
/** The default model of a new install. */
export const DEFAULT_MODEL_ID: ModelId = 'nano-banana-2';
/** The models offered when the operator does not choose (IMAGEN_MODELS): the ones Google still serves. */
export const DEFAULT_OFFERED_MODEL_IDS: readonly ModelId[] = ['nano-banana-2', 'nano-banana-pro'];

type MemberInput = z.output<(typeof MODELS)[number]['input']>;
type FieldOf<U, K extends PropertyKey> = U extends unknown ? (K extends keyof U ? U[K] : never) : never;

/** Every aspect ratio some model takes. */
export type AspectRatio = FieldOf<MemberInput, 'aspect_ratio'>;
/** Every resolution some model takes. */
export type Resolution = NonNullable<FieldOf<MemberInput, 'resolution'>>;

/**
 * The parameters of one generation as the member chose them, valid for its model, with the seed always set so a
 * result can be reproduced. Rows from before the Gemini models keep their Imagen 4 shape. What the server adds
 * (output format, safety tolerance) is never part of it.
 */
export interface GenerationInput {
  readonly prompt: string;
  readonly negative_prompt?: string;
  readonly aspect_ratio: AspectRatio;
  readonly num_images: number;
  readonly seed: number;
  readonly resolution?: Resolution;
}

export function findModel(id: string): ImageModel | undefined {
  return MODELS.find((model) => model.id === id);
}

/** The models with these ids, in catalog order. */
export function modelsWithIds(ids: readonly string[]): ImageModel[] {
  return MODELS.filter((model) => ids.includes(model.id));
}

/** Whether a model takes an option at all (e.g. negative_prompt is Imagen 4's only). */
export function takesOption(model: ImageModel, option: string): boolean {
  return Object.hasOwn(model.input.shape, option);
}

export { SAFETY_TOLERANCES, type SafetyTolerance } from './fields.js';
