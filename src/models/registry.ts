import type { z } from 'zod';
import { Imagen4FastInput, Imagen4Input } from './imagen4.js';

/** One image model the bot can run: where fal serves it, what it takes and what one image costs. */
export interface ImageModel {
  /** Stable id, stored with every generation and used in `IMAGEN_MODEL`. Never rename one. */
  readonly id: string;
  /** What members see in the model choice and in results. */
  readonly label: string;
  /** fal endpoint id (https://fal.ai/models/<endpointId>). */
  readonly endpointId: string;
  readonly input: typeof Imagen4Input | typeof Imagen4FastInput;
  /** fal's published price for one image, in US dollars. */
  readonly pricePerImageUsd: number;
}

export const MODELS = [
  {
    id: 'imagen4',
    label: 'Imagen 4',
    endpointId: 'fal-ai/imagen4/preview',
    input: Imagen4Input,
    pricePerImageUsd: 0.04,
  },
  {
    id: 'imagen4-fast',
    label: 'Imagen 4 Fast',
    endpointId: 'fal-ai/imagen4/preview/fast',
    input: Imagen4FastInput,
    pricePerImageUsd: 0.02,
  },
  {
    id: 'imagen4-ultra',
    label: 'Imagen 4 Ultra',
    endpointId: 'fal-ai/imagen4/preview/ultra',
    input: Imagen4Input,
    pricePerImageUsd: 0.06,
  },
] as const satisfies readonly ImageModel[];

export type ModelId = (typeof MODELS)[number]['id'];
export const MODEL_IDS = MODELS.map((model) => model.id) as [ModelId, ...ModelId[]];
export const DEFAULT_MODEL_ID: ModelId = 'imagen4';

/**
 * The parameters of one generation, as stored and as sent to fal: the union of every model's inputs,
 * with the seed always set so that a result can be reproduced.
 */
export type GenerationInput = z.output<typeof Imagen4FastInput> & {
  seed: number;
  resolution?: z.output<typeof Imagen4Input>['resolution'];
  /** Imagen's safety filter level ("1" strictest to "6"), from the server's settings; not a member option. */
  safety_tolerance?: SafetyTolerance;
};

export const SAFETY_TOLERANCES = ['1', '2', '3', '4', '5', '6'] as const;
export type SafetyTolerance = (typeof SAFETY_TOLERANCES)[number];

export function findModel(id: string): ImageModel | undefined {
  return MODELS.find((model) => model.id === id);
}
