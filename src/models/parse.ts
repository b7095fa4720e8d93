import { randomInt } from 'node:crypto';
import type { z } from 'zod';
import { SEED_MAX } from './imagen4.js';
import { MODELS, type GenerationInput, type ImageModel } from './registry.js';

export type ParseResult = { ok: true; input: GenerationInput } | { ok: false; problems: string[] };

/** A fresh seed in the range every model accepts. */
export function randomSeed(): number {
  return randomInt(0, SEED_MAX);
}

/**
 * Validates raw option values against one model's schema and fills in the seed, so every generation is
 * reproducible. Problems come back as plain sentences for members (no zod jargon, never the input echoed).
 */
export function parseGenerationInput(
  model: ImageModel,
  raw: Readonly<Record<string, unknown>>,
  pickSeed: () => number = randomSeed,
): ParseResult {
  const present: Record<string, unknown> = Object.fromEntries(
    Object.entries(raw).filter(([, value]) => value !== undefined && value !== null),
  );
  const parsed = model.input.safeParse(present);
  if (!parsed.success) {
    // One sentence per field: the first thing wrong with it is enough to fix it.
    const seen = new Set<string>();
    const firstPerField = parsed.error.issues.filter((issue) => {
      const field = issue.code === 'unrecognized_keys' ? `keys:${issue.keys.join(',')}` : String(issue.path[0] ?? '');
      if (seen.has(field)) return false;
      seen.add(field);
      return true;
    });
    return { ok: false, problems: firstPerField.map((issue) => describeIssue(model, issue, present)) };
  }
  const input = { ...parsed.data, seed: parsed.data.seed ?? pickSeed() } as GenerationInput;
  if (input.negative_prompt === '') delete input.negative_prompt;
  return { ok: true, input };
}

function describeIssue(model: ImageModel, issue: z.core.$ZodIssue, given: Readonly<Record<string, unknown>>): string {
  const field = String(issue.path[0] ?? '');
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => unsupportedOption(model, key)).join(' ');
    case 'too_big':
      return field === 'prompt' || field === 'negative_prompt'
        ? `The ${label(field)} is too long: the most is ${String(issue.maximum)} characters.`
        : `The ${label(field)} must be at most ${String(issue.maximum)}.`;
    case 'too_small':
      return field === 'prompt'
        ? 'The prompt is empty: describe what you want to see.'
        : `The ${label(field)} must be at least ${String(issue.minimum)}.`;
    case 'invalid_value':
      return `The ${label(field)} must be one of: ${issue.values.map(String).join(', ')}.`;
    case 'invalid_type':
      return field in given ? `The ${label(field)} has the wrong type.` : `The ${label(field)} is missing.`;
    default:
      return `The ${label(field)} is not valid.`;
  }
}

function unsupportedOption(model: ImageModel, key: string): string {
  const others = MODELS.filter((other) => key in other.input.shape).map((other) => other.label);
  const alternatives = others.length > 0 ? ` Choose ${others.join(' or ')}, or leave ${label(key)} out.` : '';
  return `${model.label} does not support ${label(key)}.${alternatives}`;
}

function label(field: string): string {
  return field.replaceAll('_', ' ');
}
