import { billedAs, type GenerationAction } from '../models/operations.js';
import { MODELS, findModel } from '../models/registry.js';
import { UPSCALER } from '../models/upscaler.js';

/** Dollars per image, keyed `model` or `model:resolution` (the more specific key wins). */
export type PriceTable = Readonly<Record<string, number>>;

/**
 * Parses `IMAGEN_PRICES`, e.g. `nano-banana-2=0.08,nano-banana-pro:4K=0.3,esrgan=0.003` (`esrgan`: the upscaler).
 * Unknown models are refused so a typo
 * cannot silently leave a price at its default.
 */
export function parsePriceOverrides(text: string): { ok: true; prices: PriceTable } | { ok: false; problem: string } {
  const prices: Record<string, number> = {};
  for (const entry of text
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)) {
    const match = /^([a-z0-9-]+)(?::(0\.5K|1K|2K|4K))?=(\d+(?:\.\d+)?)$/.exec(entry);
    if (!match?.[1] || !match[3])
      return { ok: false, problem: 'has an entry that is not model=dollars or model:resolution=dollars' };
    if (match[1] === UPSCALER.id && match[2]) {
      return {
        ok: false,
        problem: `prices the upscaler (${UPSCALER.id}) per resolution; give one price, e.g. ${UPSCALER.id}=0.003`,
      };
    }
    if (!findModel(match[1]) && match[1] !== UPSCALER.id) {
      const known = [...MODELS.map((m) => m.id), UPSCALER.id].join(', ');
      return { ok: false, problem: `names an unknown model (known: ${known})` };
    }
    prices[match[2] ? `${match[1]}:${match[2]}` : match[1]] = Number(match[3]);
  }
  return { ok: true, prices };
}

/**
 * The price of one image: the operator's override for this model and resolution, else their override for the
 * model (scaled by the model's resolution multiplier, as fal bills), else fal's published price.
 */
export function pricePerImage(prices: PriceTable, modelId: string, resolution: string | undefined): number {
  if (modelId === UPSCALER.id) return prices[UPSCALER.id] ?? UPSCALER.price.perImageUsd;
  const exact = resolution === undefined ? undefined : prices[`${modelId}:${resolution}`];
  if (exact !== undefined) return exact;
  const model = findModel(modelId);
  const multiplier = (resolution === undefined ? undefined : model?.price.byResolution?.[resolution]) ?? 1;
  const base = prices[modelId] ?? model?.price.perImageUsd ?? 0;
  return base * multiplier;
}

/**
 * What one generation is expected to cost at fal, in US dollars: per image of its model and resolution, or of
 * the upscaler for an Upscale (the /edit endpoints are billed as their model).
 */
export function estimateCost(
  prices: PriceTable,
  modelId: string,
  resolution: string | undefined,
  images: number,
  action: GenerationAction = 'imagine',
): number {
  return Math.round(pricePerImage(prices, billedAs(modelId, action), resolution) * images * 10_000) / 10_000;
}
