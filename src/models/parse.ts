import { randomInt } from 'node:crypto';
import { z } from 'zod';
import { SEED_MAX } from './fields.js';
import { takesOption, type GenerationInput, type ImageModel } from './registry.js';

export type ParseResult = { ok: true; input: GenerationInput } | { ok: false; problems: string[] };

/** A fresh seed in the range every model accepts. */
export function randomSeed(): number {
  return randomInt(0, SEED_MAX);
}

export interface ParseOptions {
  /** The models members may pick here, for naming alternatives ("Choose Imagen 4, or leave it out"). */
  readonly offered?: readonly ImageModel[];
  readonly pickSeed?: () => number;
}

/**
 * Validates raw option values against one model's schema and fills in the seed, so every generation is
 * reproducible. Problems come back as plain sentences for members that name what this model accepts (no zod
 * jargon, never the input echoed).
 */
export function parseGenerationInput(
  model: ImageModel,
  raw: Readonly<Record<string, unknown>>,
  options: ParseOptions = {},
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
    return {
      ok: false,
      problems: firstPerField.map((issue) => describeIssue(model, issue, present, options.offered ?? [])),
    };
  }
  const data = parsed.data as Record<string, unknown> & { seed?: number; negative_prompt?: string };
  const { negative_prompt: negative, ...rest } = data;
  const input = {
    ...rest,
    ...(negative && { negative_prompt: negative }),
    seed: data.seed ?? (options.pickSeed ?? randomSeed)(),
  } as unknown as GenerationInput;
  return { ok: true, input };
}

/**
 * The stored options of a generation, adapted to another model (a reroll of a result whose model is gone): what
 * that model takes is kept, a value it does not take falls back to its default, an option it lacks is dropped.
 */
export function adaptInput(
  model: ImageModel,
  input: GenerationInput,
  pickSeed: () => number = randomSeed,
): ParseResult {
  const adapted: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    const field = takesOption(model, key) ? model.input.shape[key] : undefined;
    if (field && z.safeParse(field, value).success) adapted[key] = value;
  }
  return parseGenerationInput(model, adapted, { pickSeed });
}

function describeIssue(
  model: ImageModel,
  issue: z.core.$ZodIssue,
  given: Readonly<Record<string, unknown>>,
  offered: readonly ImageModel[],
): string {
  const field = String(issue.path[0] ?? '');
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => unsupportedOption(model, key, offered)).join(' ');
    case 'too_big':
      return field === 'prompt' || field === 'negative_prompt'
        ? `The ${label(field)} is too long: the most is ${String(issue.maximum)} characters.`
        : `The ${label(field)} must be at most ${String(issue.maximum)}.`;
    case 'too_small':
      return field === 'prompt'
        ? 'The prompt is empty: describe what you want to see.'
        : `The ${label(field)} must be at least ${String(issue.minimum)}.`;
    case 'invalid_value':
      // The member's value is not repeated: it may be anything a modified client sends.
      return `${model.label} does not take that ${label(field)}: it takes ${issue.values.map(String).join(', ')}.`;
    case 'invalid_type':
      return field in given ? `The ${label(field)} has the wrong type.` : `The ${label(field)} is missing.`;
    default:
      return `The ${label(field)} is not valid.`;
  }
}

function unsupportedOption(model: ImageModel, key: string, offered: readonly ImageModel[]): string {
  const others = offered.filter((other) => other !== model && takesOption(other, key)).map((other) => other.label);
  const alternatives =
    others.length > 0 ? ` Choose ${others.join(' or ')}, or leave ${label(key)} out.` : ` Leave ${label(key)} out.`;
  return `${model.label} does not take a ${label(key)}.${alternatives}`;
}

function label(field: string): string {
  return field.replaceAll('_', ' ');
}
