import {
  ApplicationCommandOptionType,
  ApplicationIntegrationType,
  InteractionContextType,
  type APIApplicationCommandAttachmentOption,
  type ChatInputCommandInteraction,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
} from 'discord.js';
import type { Config } from '../src/config.js';
import type { Command, CommandContext } from '../src/discord/command.js';
import { optionsFromModels } from '../src/discord/commandOptions.js';
import { explained, requireAccess, requireOffered, startGeneration } from '../src/discord/generationRequests.js';
import { handleResultComponent } from '../src/discord/resultComponents.js';
import { UserError } from '../src/errors.js';
import { REFERENCE_IMAGE_MAX_BYTES, editEndpointOf, referenceImageProblem } from '../src/models/editEndpoints.js';
import { referenceModel } from '../src/models/operations.js';
import { parseGenerationInput } from '../src/models/parse.js';
import { MODELS, modelsWithIds, type ImageModel } from '../src/models/registry.js';
import type { ImageRef } from '../src/store/generations.js';

export const MODEL_OPTION = 'model';
/** Up to three reference images, as Discord attachment options (the /edit endpoints take several). */
const REFERENCE_OPTIONS = ['image', 'image2', 'image3'] as const;

/**
 * The command's definition for a set of models: the options are the union of what those models take (so
 * negative_prompt appears only while a model that takes it is offered), and the model choice lists them.
 */
function definition(models: readonly ImageModel[]) {
  return {
    name: 'imagine',
    description: "Make images from a text prompt with Google's image models",
    options: [
      ...optionsFromModels(models),
      ...referenceImageOptions(models),
      {
        type: ApplicationCommandOptionType.String,
        name: MODEL_OPTION,
        description: 'Which model to use (default: the server’s choice)',
        required: false,
        choices: models.map((model) => ({ name: model.label, value: model.id })),
      },
    ],
    contexts: [InteractionContextType.Guild],
    integration_types: [ApplicationIntegrationType.GuildInstall],
  } satisfies RESTPostAPIChatInputApplicationCommandsJSONBody;
}

/** Attachment options for reference images, while an offered model has an /edit endpoint that takes them. */
function referenceImageOptions(models: readonly ImageModel[]): APIApplicationCommandAttachmentOption[] {
  if (!models.some((model) => editEndpointOf(model.id))) return [];
  return REFERENCE_OPTIONS.map((name, index) => ({
    type: ApplicationCommandOptionType.Attachment,
    name,
    description:
      index === 0 ? 'An image to start from or take as a reference (not Imagen 4)' : 'Another reference image',
    required: false,
  }));
}

/** The whole catalog; what is registered is {@link dataFor}, the models this deployment offers. */
const data = definition(MODELS);

function dataFor(config: Config) {
  return definition(modelsWithIds(config.models));
}

/**
 * `/imagine`: checks the server's rules, validates the options against the chosen model's schema, admits the
 * job against every limit, acknowledges, and starts it.
 */
async function execute(interaction: ChatInputCommandInteraction, context: CommandContext): Promise<void> {
  const settings = await context.guildSettings.effective(interaction.guildId);
  requireAccess(interaction, settings);
  const chosen = interaction.options.get(MODEL_OPTION)?.value;
  const model = requireOffered(
    context.config,
    chosen === undefined || chosen === null ? settings.defaultModel : String(chosen),
  );
  const references = referenceImages(interaction, model, context.config);
  // Object.fromEntries: an option named __proto__ becomes a plain key that the schema then refuses.
  const raw: Record<string, unknown> = Object.fromEntries(
    interaction.options.data
      .filter(
        (option) => option.name !== MODEL_OPTION && !(REFERENCE_OPTIONS as readonly string[]).includes(option.name),
      )
      .map((option) => [option.name, option.value]),
  );
  const offered = { offered: modelsWithIds(context.config.models) };
  if (references.length === 0) {
    await startGeneration(
      interaction,
      context,
      settings,
      model,
      explained(parseGenerationInput(model, raw, offered)),
      null,
    );
    return;
  }
  // With images, the job runs on the model's /edit endpoint (its options: the same, with `auto` as the shape).
  const editing = referenceModel(model) ?? model;
  const input = explained(parseGenerationInput(editing, raw, offered));
  await startGeneration(interaction, context, settings, model, input, null, {
    action: 'reference',
    imageRefs: references,
  });
}

/**
 * The reference images a member attached, checked before anything is saved or sent: the model must take
 * images, and each file must be an image of a size fal reads (Discord reports type and size; nothing is
 * downloaded here).
 */
function referenceImages(interaction: ChatInputCommandInteraction, model: ImageModel, config: Config): ImageRef[] {
  const files = REFERENCE_OPTIONS.flatMap((name) => {
    const file = interaction.options.getAttachment(name);
    return file ? [file] : [];
  });
  if (files.length === 0) return [];
  if (!editEndpointOf(model.id)) {
    const editing = modelsWithIds(config.models).filter((candidate) => editEndpointOf(candidate.id));
    throw new UserError(
      `${model.label} cannot start from images.` +
        (editing.length > 0 ? ` Choose ${editing.map((m) => m.label).join(' or ')} for reference images.` : ''),
    );
  }
  return files.map((file, index) => {
    const problem = referenceImageProblem({ contentType: file.contentType, size: file.size });
    const which = `Reference image ${index + 1}`;
    if (problem === 'not_an_image')
      throw new UserError(`${which} is not an image the model can read: use a PNG, JPEG, WebP or HEIC file.`);
    if (problem === 'too_large') {
      throw new UserError(
        `${which} is too large: the most is ${Math.floor(REFERENCE_IMAGE_MAX_BYTES / (1024 * 1024))} MB.`,
      );
    }
    return { type: 'attachment' as const, url: file.url, filename: file.name };
  });
}

export default { data, dataFor, execute, handleComponent: handleResultComponent } satisfies Command;
