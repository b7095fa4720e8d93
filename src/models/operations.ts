import { editEndpointOf, type EditEndpoint } from './editEndpoints.js';
import type { OutputFormat, OutputImageFile, SafetyTolerance } from './fields.js';
import { chooseOutputFormat, type UploadBudget } from './outputFormat.js';
import { findModel, type GenerationInput, type ImageModel } from './registry.js';
import { UPSCALER, UPSCALE_FACTOR, chooseUpscaleOutputFormat } from './upscaler.js';

/**
 * What a generation does: `imagine` (a prompt), `reference` (/imagine with the member's reference images, on the
 * model's /edit endpoint), `vary` and `edit` (one image of a result, through /edit with its prompt or the
 * member's words), `upscale` (one image of a result, through the upscaler).
 */
export const GENERATION_ACTIONS = ['imagine', 'reference', 'vary', 'edit', 'upscale'] as const;
export type GenerationAction = (typeof GENERATION_ACTIONS)[number];

/** Actions that start from images and run on the model's /edit endpoint. */
const EDIT_ACTIONS: ReadonlySet<GenerationAction> = new Set(['reference', 'vary', 'edit']);

/** Where fal runs an action, and how to read its answer as a list of images. */
export interface FalEndpoint {
  readonly endpointId: string;
  readonly readImages: (data: unknown) => OutputImageFile[];
}

/**
 * The fal endpoint for a model and an action: the model's own endpoint for /imagine, its /edit endpoint for
 * reference images, Vary and Edit image, the upscaler for Upscale. Undefined when the model has none (Imagen 4
 * edits nothing; a model that left the catalog runs nothing).
 */
export function falEndpoint(modelId: string, action: GenerationAction): FalEndpoint | undefined {
  if (action === 'upscale') {
    return { endpointId: UPSCALER.endpointId, readImages: (data) => [UPSCALER.output.parse(data).image] };
  }
  if (EDIT_ACTIONS.has(action)) {
    const edit = editEndpointOf(modelId);
    return edit && { endpointId: edit.endpointId, readImages: (data) => edit.output.parse(data).images };
  }
  const model = findModel(modelId);
  return model && { endpointId: model.endpointId, readImages: (data) => model.output.parse(data).images };
}

/**
 * Whose price and whose name an action runs under at fal: the upscaler's for an Upscale (whatever model made the
 * image), the model's otherwise (its /edit endpoint is billed as the model). Pricing and metrics both use it.
 */
export function billedAs(modelId: string, action: GenerationAction): string {
  return action === 'upscale' ? UPSCALER.id : modelId;
}

/** What the server adds to every request, and the images it starts from. */
export interface RequestContext {
  readonly safetyTolerance: SafetyTolerance;
  /** URLs fal can fetch now, one per image the generation starts from. */
  readonly imageUrls: readonly string[];
  /** What the destination accepts, for the output format. */
  readonly budget: UploadBudget | undefined;
  /** The size of the image to upscale, when known. */
  readonly source?: { readonly width: number; readonly height: number } | undefined;
}

/** Pixels on the long side per resolution tier, for an image whose size was not recorded. */
const LONG_SIDE: Readonly<Record<string, number>> = { '0.5K': 512, '1K': 1024, '2K': 2048, '4K': 4096 };

/**
 * The exact body fal receives for a generation: the member's stored options re-checked against the endpoint's
 * request schema (so only its own fields go out), plus the output format for this destination, the safety
 * tolerance and the image URLs. Throws a ZodError if the stored options do not fit (a bug, not a member error).
 */
export function requestBody(
  modelId: string,
  action: GenerationAction,
  input: GenerationInput,
  context: RequestContext,
): Record<string, unknown> {
  if (action === 'upscale') {
    const side = LONG_SIDE[input.resolution ?? '1K'] ?? 1024;
    const source = context.source ?? { width: side, height: side };
    const [imageUrl] = context.imageUrls;
    return UPSCALER.request.parse({
      image_url: imageUrl,
      scale: UPSCALE_FACTOR,
      output_format: chooseUpscaleOutputFormat(source, UPSCALE_FACTOR, context.budget),
    });
  }
  const outputFormat: OutputFormat = chooseOutputFormat(input, context.budget);
  const server = { output_format: outputFormat, safety_tolerance: context.safetyTolerance };
  if (EDIT_ACTIONS.has(action)) {
    const edit = editEndpointOf(modelId);
    if (!edit) throw new Error(`${modelId} has no /edit endpoint`);
    return edit.request.parse({ ...input, ...server, image_urls: context.imageUrls });
  }
  const model = findModel(modelId);
  if (!model) throw new Error(`${modelId} is not in the catalog`);
  return model.request.parse({ ...input, ...server });
}

/**
 * The options a member may choose for a model when they give it images (/imagine with reference images): the
 * model's /edit input without `image_urls` (the bot fills those in). Its default aspect ratio is `auto`, so the
 * result keeps the shape of the image unless the member asks for another.
 */
export function referenceModel(model: ImageModel): ImageModel | undefined {
  const edit: EditEndpoint | undefined = editEndpointOf(model.id);
  if (!edit) return undefined;
  return { ...model, input: edit.input.omit({ image_urls: true }) };
}
