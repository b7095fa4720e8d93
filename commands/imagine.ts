import {
  ActionRowBuilder,
  ApplicationCommandOptionType,
  ApplicationIntegrationType,
  channelMention,
  InteractionContextType,
  MessageFlags,
  PermissionFlagsBits,
  type ButtonInteraction,
  type MessageActionRowComponentBuilder,
  type ChatInputCommandInteraction,
  type ModalSubmitInteraction,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
} from 'discord.js';
import type { Config } from '../src/config.js';
import type { Command, CommandContext, ComponentInteraction } from '../src/discord/command.js';
import { optionsFromModels } from '../src/discord/commandOptions.js';
import { missingChannelPermissions } from '../src/discord/permissions.js';
import type { CustomId } from '../src/discord/customId.js';
import { tokenExpiry } from '../src/discord/interactionToken.js';
import { NO_PINGS } from '../src/discord/views/common.js';
import { EDIT_FIELDS, renderEditModal } from '../src/discord/views/editForm.js';
import { useDefaultModelButton } from '../src/discord/views/jobMessages.js';
import { refusalMessage } from '../src/discord/views/refusals.js';
import { UserError } from '../src/errors.js';
import type { EffectiveSettings } from '../src/limits/guildSettings.js';
import { adaptInput, parseGenerationInput, randomSeed, type ParseResult } from '../src/models/parse.js';
import {
  MODELS,
  findModel,
  modelsWithIds,
  takesOption,
  type GenerationInput,
  type ImageModel,
} from '../src/models/registry.js';
import type { Generation } from '../src/store/generations.js';

export const MODEL_OPTION = 'model';

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

/** The whole catalog; what is registered is {@link dataFor}, the models this deployment offers. */
const data = definition(MODELS);

function dataFor(config: Config) {
  return definition(modelsWithIds(config.models));
}

const MESSAGES = {
  gone: 'This image is no longer in the bot’s records, so this button cannot be used. Run /imagine again.',
  deleteDenied: 'Only the member who asked for these images, or someone with Manage Messages, can delete them.',
  cancelDenied: 'Only the member who started this job can cancel it.',
  notRunning: 'This job has already finished, so there is nothing to cancel.',
  cancelling: 'Cancelling…',
} as const;

/**
 * `/imagine`: checks the server's rules, validates the options against the chosen model's schema, admits the
 * job against every limit, acknowledges, and starts it.
 */
async function execute(interaction: ChatInputCommandInteraction, context: CommandContext): Promise<void> {
  const settings = context.guildSettings.effective(interaction.guildId);
  requireAccess(interaction, settings);
  const chosen = interaction.options.get(MODEL_OPTION)?.value;
  const model = requireOffered(
    context.config,
    chosen === undefined || chosen === null ? settings.defaultModel : String(chosen),
  );
  // Object.fromEntries: an option named __proto__ becomes a plain key that the schema then refuses.
  const raw: Record<string, unknown> = Object.fromEntries(
    interaction.options.data
      .filter((option) => option.name !== MODEL_OPTION)
      .map((option) => [option.name, option.value]),
  );
  const parsed = parseGenerationInput(model, raw, { offered: modelsWithIds(context.config.models) });
  await startGeneration(interaction, context, settings, model, explained(parsed), null);
}

/** The buttons and the Edit modal. Every handler reloads its generation by id, so none of them ever expires. */
async function handleComponent(
  interaction: ComponentInteraction,
  customId: CustomId,
  context: CommandContext,
): Promise<void> {
  const generation = context.store.get(customId.id);
  // A custom_id naming another server's generation can only be tampered with: treat it as unknown.
  if (!generation || generation.guildId !== interaction.guildId) throw new UserError(MESSAGES.gone);
  if (customId.action === 'edit-submit') {
    if (!interaction.isModalSubmit()) throw new UserError(MESSAGES.gone);
    await submitEdit(interaction, generation, context);
    return;
  }
  if (!interaction.isButton()) throw new UserError(MESSAGES.gone);
  switch (customId.action) {
    case 'same':
    case 'new':
      await reroll(interaction, generation, context, customId.action === 'new');
      return;
    case 'edit': {
      const settings = context.guildSettings.effective(interaction.guildId);
      requireAccess(interaction, settings);
      requireRerollAllowed(interaction, generation, settings);
      const model = findModel(generation.modelId);
      await interaction.showModal(
        renderEditModal(generation, { negativePrompt: model ? takesOption(model, 'negative_prompt') : false }),
      );
      return;
    }
    case 'default':
      await rerollWithDefaultModel(interaction, generation, context);
      return;
    case 'delete':
      await deleteResult(interaction, generation, context);
      return;
    case 'cancel':
      await cancel(interaction, generation, context);
      return;
  }
}

async function reroll(
  interaction: ButtonInteraction,
  generation: Generation,
  context: CommandContext,
  freshSeed: boolean,
): Promise<void> {
  const settings = context.guildSettings.effective(interaction.guildId);
  requireAccess(interaction, settings);
  requireRerollAllowed(interaction, generation, settings);
  const model = offeredModel(context.config, generation.modelId);
  if (!model) {
    await offerDefaultModel(interaction, generation);
    return;
  }
  const options: Record<string, unknown> = { ...generation.input };
  const input = explained(parseGenerationInput(model, freshSeed ? { ...options, seed: randomSeed() } : options));
  await startGeneration(interaction, context, settings, model, input, generation.id);
}

/**
 * "Use the default model" on a result whose model is gone (fal no longer serves it, or the operator stopped
 * offering it): the same prompt and options, adapted to the server's default model, as a new job.
 */
async function rerollWithDefaultModel(
  interaction: ButtonInteraction,
  generation: Generation,
  context: CommandContext,
): Promise<void> {
  const settings = context.guildSettings.effective(interaction.guildId);
  requireAccess(interaction, settings);
  requireRerollAllowed(interaction, generation, settings);
  const candidates = [settings.defaultModel, context.config.defaultModel].filter((id) => id !== generation.modelId);
  const model = candidates.map((id) => offeredModel(context.config, id)).find((found) => found !== undefined);
  if (!model) {
    throw new UserError(
      `${modelLabel(generation.modelId)} is this server's default model, and it is no longer available. ` +
        'A server admin can pick another with /imagine-settings model.',
    );
  }
  // From a failure message (no images of its own), the new result links back to what was rerolled.
  const parentId = generation.messageId === null && generation.parentId !== null ? generation.parentId : generation.id;
  await startGeneration(
    interaction,
    context,
    settings,
    model,
    explained(adaptInput(model, generation.input)),
    parentId,
  );
}

/** A reroll of a result whose model is not offered any more: say so, and offer the server's default model. */
async function offerDefaultModel(
  interaction: ButtonInteraction | ModalSubmitInteraction,
  generation: Generation,
): Promise<void> {
  await interaction.reply({
    content:
      `${modelLabel(generation.modelId)} is no longer available on this bot, so this image cannot be made again with it. ` +
      'You can run the same prompt with the server’s default model instead; a server admin can change that model with /imagine-settings.',
    components: [
      new ActionRowBuilder<MessageActionRowComponentBuilder>().addComponents(useDefaultModelButton(generation.id)),
    ],
    flags: MessageFlags.Ephemeral,
    allowedMentions: NO_PINGS,
  });
}

async function submitEdit(
  interaction: ModalSubmitInteraction,
  generation: Generation,
  context: CommandContext,
): Promise<void> {
  const settings = context.guildSettings.effective(interaction.guildId);
  requireAccess(interaction, settings);
  requireRerollAllowed(interaction, generation, settings);
  const model = offeredModel(context.config, generation.modelId);
  if (!model) {
    await offerDefaultModel(interaction, generation);
    return;
  }
  const prompt = textField(interaction, EDIT_FIELDS.prompt);
  const negative = takesOption(model, 'negative_prompt') ? textField(interaction, EDIT_FIELDS.negativePrompt) : '';
  const { negative_prompt: _negative, ...rest } = generation.input;
  const input = explained(
    parseGenerationInput(model, {
      ...rest,
      prompt,
      ...(negative.trim() && { negative_prompt: negative }),
    }),
  );
  await startGeneration(interaction, context, settings, model, input, generation.id);
}

async function deleteResult(
  interaction: ButtonInteraction,
  generation: Generation,
  context: CommandContext,
): Promise<void> {
  const allowed =
    interaction.user.id === generation.requesterId ||
    (interaction.memberPermissions?.has(PermissionFlagsBits.ManageMessages) ?? false);
  if (!allowed) throw new UserError(MESSAGES.deleteDenied);
  await interaction.deferUpdate();
  await interaction.deleteReply();
  context.generations.forgetMessage(generation.id, interaction.message.id);
  context.logger.info('result deleted', { generation: generation.id, by: interaction.user.id });
}

async function cancel(interaction: ButtonInteraction, generation: Generation, context: CommandContext): Promise<void> {
  if (interaction.user.id !== generation.requesterId) throw new UserError(MESSAGES.cancelDenied);
  if (!context.generations.cancel(generation.id)) throw new UserError(MESSAGES.notRunning);
  // The job itself edits the message to say it was cancelled.
  await interaction.reply({ content: MESSAGES.cancelling, flags: MessageFlags.Ephemeral });
}

/**
 * Admits the job against every limit (one transaction), acknowledges, and hands it to the service.
 * A refused request is answered ephemerally, is not saved, and costs nothing.
 */
async function startGeneration(
  interaction: StartingInteraction,
  context: CommandContext,
  settings: EffectiveSettings,
  model: ImageModel,
  input: GenerationInput,
  parentId: number | null,
): Promise<void> {
  const inThread = context.inThread(interaction.id);
  requireChannelAccess(interaction, inThread);
  const admitted = context.generations.admit(
    {
      modelId: model.id as Generation['modelId'],
      input,
      server: { safetyTolerance: settings.safetyTolerance },
      requesterId: interaction.user.id,
      guildId: interaction.guildId,
      channelId: requireChannel(interaction.channelId),
      applicationId: interaction.applicationId,
      interactionToken: interaction.token,
      tokenExpiresAt: tokenExpiry(interaction.createdTimestamp),
      parentId,
      appPermissions: interaction.appPermissions.bitfield.toString(),
      attachmentSizeLimit: interaction.attachmentSizeLimit,
      inThread,
    },
    settings.limits,
  );
  if (!admitted.ok) throw new UserError(refusalMessage(admitted.refusal));
  const { generation } = admitted;
  try {
    await interaction.deferReply();
  } catch (error) {
    // Too late to answer (e.g. the interaction expired): the job must not run or count against anyone.
    context.generations.abandon(generation.id);
    throw error;
  }
  void context.generations.start(generation);
}

/** The server's rules: /imagine only in allowed channels, only for allowed roles (admins are always allowed). */
function requireAccess(interaction: StartingInteraction, settings: EffectiveSettings): void {
  if (interaction.memberPermissions?.has(PermissionFlagsBits.ManageGuild)) return;
  if (settings.channelIds.length > 0 && !settings.channelIds.includes(interaction.channelId ?? '')) {
    const channels = settings.channelIds.map((id) => channelMention(id)).join(', ');
    throw new UserError(`/imagine is not available in this channel on this server. Try ${channels}.`);
  }
  if (settings.roleIds.length > 0 && !memberRoleIds(interaction).some((role) => settings.roleIds.includes(role))) {
    throw new UserError(
      'On this server, /imagine is only available to members with certain roles. Ask a server admin.',
    );
  }
}

function requireRerollAllowed(
  interaction: StartingInteraction,
  generation: Generation,
  settings: EffectiveSettings,
): void {
  if (settings.rerolls === 'everyone' || interaction.user.id === generation.requesterId) return;
  if (interaction.memberPermissions?.has(PermissionFlagsBits.ManageMessages)) return;
  throw new UserError(
    'On this server, only the member who made these images can reroll or edit them. Use /imagine for your own.',
  );
}

/** Role ids from the interaction payload (no member cache is kept: the bot has no gateway intents). */
function memberRoleIds(interaction: StartingInteraction): string[] {
  const member = interaction.member;
  if (!member) return [];
  return Array.isArray(member.roles) ? member.roles : [...member.roles.cache.keys()];
}

/** A field of the Edit modal; an empty string when Discord sent none (it always should). */
function textField(interaction: ModalSubmitInteraction, customId: string): string {
  try {
    return interaction.fields.getTextInputValue(customId);
  } catch {
    return '';
  }
}

type StartingInteraction = ChatInputCommandInteraction | ButtonInteraction | ModalSubmitInteraction;

/**
 * Refuses up front, naming the permission, when the bot could not post results in this channel by itself
 * (Discord would answer 50013 Missing Permissions only after the member paid for the images).
 */
function requireChannelAccess(interaction: StartingInteraction, inThread: boolean): void {
  const missing = missingChannelPermissions(interaction.appPermissions, inThread);
  if (missing.length > 0) {
    throw new UserError(
      `I can't post images in this channel: I'm missing the ${missing.join(', ')} permission${missing.length > 1 ? 's' : ''}. ` +
        'Ask a server admin to grant it to the bot here, or use /imagine in another channel.',
    );
  }
}

function requireChannel(channelId: string | null): string {
  if (!channelId) throw new UserError('/imagine only works in a server channel.');
  return channelId;
}

/** A model members may use on this bot (in the catalog and offered by the operator). */
function offeredModel(config: Config, id: string): ImageModel | undefined {
  return config.models.includes(id as Config['models'][number]) ? findModel(id) : undefined;
}

function requireOffered(config: Config, id: string): ImageModel {
  const model = offeredModel(config, id);
  if (!model) {
    const offered = modelsWithIds(config.models)
      .map((m) => m.label)
      .join(', ');
    throw new UserError(`${modelLabel(id)} is not available on this bot. Pick one of: ${offered}.`);
  }
  return model;
}

function modelLabel(id: string): string {
  return findModel(id)?.label ?? 'That model';
}

function explained(parsed: ParseResult): GenerationInput {
  if (!parsed.ok) throw new UserError(parsed.problems.join('\n'));
  return parsed.input;
}

export default { data, dataFor, execute, handleComponent } satisfies Command;
