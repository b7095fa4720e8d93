import {
  ApplicationCommandOptionType,
  type APIApplicationCommandBasicOption,
  type APIApplicationCommandIntegerOption,
  type APIApplicationCommandStringOption,
} from 'discord.js';
import { z } from 'zod';
import type { ImageModel } from '../models/registry.js';

/** Discord's bounds on option definitions (https://discord.com/developers/docs/interactions/application-commands). */
const MAX_CHOICES = 25;
const MAX_STRING_LENGTH = 6000;
const MAX_DESCRIPTION = 100;

interface JsonProperty {
  type?: string;
  enum?: (string | number)[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  description?: string;
}

/**
 * Derives slash-command options from the models' input schemas (through zod's JSON Schema export), so the
 * command can never drift from what the models accept: choices, min/max and max_length all come from the
 * schemas. The options are the union over all models (a field only some models take is offered, and the
 * other models refuse it in plain words at parse time); an option is required when every model requires it.
 */
export function optionsFromModels(models: readonly ImageModel[]): APIApplicationCommandBasicOption[] {
  const merged = new Map<string, JsonProperty>();
  let required: Set<string> | undefined;
  for (const model of models) {
    const schema = z.toJSONSchema(model.input, { io: 'input' }) as {
      properties?: Record<string, JsonProperty>;
      required?: string[];
    };
    for (const [name, property] of Object.entries(schema.properties ?? {})) {
      const known = merged.get(name);
      if (!known) {
        merged.set(name, { ...property });
      } else if (known.enum && property.enum) {
        known.enum = [...new Set([...known.enum, ...property.enum])];
      }
    }
    const names = new Set(schema.required ?? []);
    required = required ? new Set([...required].filter((name) => names.has(name))) : names;
  }
  const options = [...merged].map(([name, property]) => toOption(name, property, required?.has(name) ?? false));
  // Discord requires required options to come first.
  return [...options.filter((o) => o.required), ...options.filter((o) => !o.required)];
}

function toOption(name: string, property: JsonProperty, required: boolean): APIApplicationCommandBasicOption {
  const description = (property.description ?? name).slice(0, MAX_DESCRIPTION);
  if (property.type === 'integer') {
    const option: APIApplicationCommandIntegerOption = {
      type: ApplicationCommandOptionType.Integer,
      name,
      description,
      required,
      ...(property.minimum !== undefined && { min_value: property.minimum }),
      ...(property.maximum !== undefined && { max_value: property.maximum }),
    };
    return option;
  }
  if (property.type === 'string') {
    const option: APIApplicationCommandStringOption = {
      type: ApplicationCommandOptionType.String,
      name,
      description,
      required,
    };
    if (property.enum) {
      return {
        ...option,
        choices: property.enum.slice(0, MAX_CHOICES).map((value) => ({ name: String(value), value: String(value) })),
      };
    }
    return {
      ...option,
      ...(property.minLength !== undefined &&
        property.minLength > 0 && { min_length: Math.min(property.minLength, MAX_STRING_LENGTH) }),
      ...(property.maxLength !== undefined && { max_length: Math.min(property.maxLength, MAX_STRING_LENGTH) }),
    };
  }
  if (property.type === 'boolean') {
    return { type: ApplicationCommandOptionType.Boolean, name, description, required };
  }
  throw new Error(`cannot turn the ${property.type ?? 'untyped'} field ${name} into a slash-command option`);
}
