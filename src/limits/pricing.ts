import { MODELS, findModel } from '../models/registry.js';

/** Dollars per image, keyed `model` or `model:resolution` (the more specific key wins). */
export type PriceTable = Readonly<Record<string, number>>;

/**
 * Parses `IMAGEN_PRICES`, e.g. `imagen4=0.04,imagen4-ultra:2K=0.06`. Unknown models are refused so a typo
 * cannot silently leave a price at its default.
 */
export function parsePriceOverrides(text: string): { ok: true; prices: PriceTable } | { ok: false; problem: string } {
  const prices: Record<string, number> = {};
  for (const entry of text.split(',').map((part) => part.trim()).filter(Boolean)) {
    const match = /^([a-z0-9-]+)(?::(1K|2K))?=(\d+(?:\.\d+)?)$/.exec(entry);
    if (!match?.[1] || !match[3]) return { ok: false, problem: 'has an entry that is not model=dollars' };
    if (!findModel(match[1])) return { ok: false, problem: `names an unknown model (known: ${MODELS.map((m) => m.id).join(', ')})` };
    prices[match[2] ? `${match[1]}:${match[2]}` : match[1]] = Number(match[3]);
  }
  return { ok: true, prices };
}

/** What one generation is expected to cost at fal, in US dollars. */
export function estimateCost(
  prices: PriceTable,
  modelId: string,
  resolution: string | undefined,
  images: number,
): number {
  const perImage =
    (resolution === undefined ? undefined : prices[`${modelId}:${resolution}`]) ??
    prices[modelId] ??
    findModel(modelId)?.pricePerImageUsd ??
    0;
  return Math.round(perImage * images * 10_000) / 10_000;
}
