import {
  ActionRowBuilder,
  MessageFlags,
  PermissionFlagsBits,
  type ButtonInteraction,
  type MessageActionRowComponentBuilder,
  type ModalSubmitInteraction,
} from 'discord.js';
import type { Config } from '../config.js';
import { UserError } from '../errors.js';
import type { EffectiveSettings } from '../limits/guildSettings.js';
import { editEndpointOf } from '../models/editEndpoints.js';
import { referenceModel, type GenerationAction } from '../models/operations.js';
import { adaptInput, parseGenerationInput, randomSeed } from '../models/parse.js';
import { findModel, takesOption, type ImageModel } from '../models/registry.js';
import type { Generation, ImageRef } from '../store/generations.js';
import type { CommandContext, ComponentInteraction } from './command.js';
import { encodeCustomId, type CustomId } from './customId.js';
import {
  explained,
  modelLabel,
  offeredModel,
  allowedToActOn,
  startGeneration,
  textField,
} from './generationRequests.js';
import { NO_PINGS } from './views/common.js';
import { EDIT_FIELDS, renderEditImageModal, renderEditModal } from './views/editForm.js';
import { useDefaultModelButton } from './views/jobMessages.js';

/**
 * What the buttons and forms of a result do (`imagine:<action>:<generation>[:<image>]`): rerolls, the Edit form,
 * Delete and Cancel, and the actions on one image (Upscale, Vary, Edit image). Every handler reloads its
 * generation by id, so none of them ever expires; each is thin: it checks who may, builds what to make, and
 * hands it to {@link startGeneration}.
 */

const MESSAGES = {
  gone: 'This image is no longer in the bot’s records, so this button cannot be used. Run /imagine again.',
  deleteDenied: 'Only the member who asked for these images, or someone with Manage Messages, can delete them.',
  cancelDenied: 'Only the member who started this job can cancel it.',
  notRunning: 'This job has already finished, so there is nothing to cancel.',
  cancelling: 'Cancelling…',
} as const;

/** The buttons and the Edit modal. Every handler reloads its generation by id, so none of them ever expires. */
export async function handleResultComponent(
  interaction: ComponentInteraction,
  customId: CustomId,
  context: CommandContext,
): Promise<void> {
  const generation = await context.store.get(customId.id);
  // A custom_id naming another server's generation can only be tampered with: treat it as unknown.
  if (!generation || generation.guildId !== interaction.guildId) throw new UserError(MESSAGES.gone);
  // Discord sends clicks only for buttons a message really has. Away from the result's own channel (where the
  // member may not be able to read it) only a message that carries the button, such as an /imagine-show copy,
  // may act on it: a made-up custom_id must not repost a result from a channel the member cannot see.
  if (generation.channelId !== interaction.channelId && !sourceMessageCarries(interaction, customId)) {
    throw new UserError(MESSAGES.gone);
  }
  // An upscale has no prompt: Edit (and its form) make no sense on it, whatever a client sends.
  if ((customId.action === 'edit' || customId.action === 'edit-submit') && generation.action === 'upscale') {
    throw new UserError(MESSAGES.gone);
  }
  if (customId.action === 'edit-submit') {
    if (!interaction.isModalSubmit()) throw new UserError(MESSAGES.gone);
    await submitEdit(interaction, generation, context);
    return;
  }
  if (customId.action === 'edit-image-submit') {
    if (!interaction.isModalSubmit()) throw new UserError(MESSAGES.gone);
    await submitEditImage(interaction, generation, await requireImage(generation, customId, context), context);
    return;
  }
  if (!interaction.isButton()) throw new UserError(MESSAGES.gone);
  switch (customId.action) {
    case 'same':
    case 'new':
      await reroll(interaction, generation, context, customId.action === 'new');
      return;
    case 'edit': {
      await allowedToActOn(interaction, generation, context);
      const model = findModel(generation.modelId);
      await interaction.showModal(
        renderEditModal(generation, { negativePrompt: model ? takesOption(model, 'negative_prompt') : false }),
      );
      return;
    }
    case 'default':
      await rerollWithDefaultModel(interaction, generation, context);
      return;
    case 'upscale':
      await upscale(interaction, generation, await requireImage(generation, customId, context), context);
      return;
    case 'vary':
      await vary(interaction, generation, await requireImage(generation, customId, context), context);
      return;
    case 'edit-image': {
      const image = await requireImage(generation, customId, context);
      await allowedToActOn(interaction, generation, context);
      requireEditable(context.config, generation);
      await interaction.showModal(renderEditImageModal(generation, image));
      return;
    }
    case 'delete':
      await deleteResult(interaction, generation, context);
      return;
    case 'cancel':
      await cancel(interaction, generation, context);
      return;
    default:
      // Actions of other commands' components (e.g. the history's paging) never reach a result.
      throw new UserError(MESSAGES.gone);
  }
}

/**
 * Whether the message the interaction came from carries the button it names: the button itself for a click,
 * the button that opened the form for a form (Edit -> edit-submit, Edit image -> edit-image-submit).
 */
function sourceMessageCarries(interaction: ComponentInteraction, customId?: CustomId): boolean {
  const opener =
    customId?.action === 'edit-submit'
      ? encodeCustomId({ ...customId, action: 'edit' })
      : customId?.action === 'edit-image-submit'
        ? encodeCustomId({ ...customId, action: 'edit-image' })
        : interaction.customId;
  const rows = interaction.message?.components ?? [];
  return rows.some(
    (row) =>
      'components' in row &&
      row.components.some((component) => 'customId' in component && component.customId === opener),
  );
}

/** The image of a result a per-image button names, if Discord still has it (0-based index). */
async function requireImage(generation: Generation, customId: CustomId, context: CommandContext): Promise<number> {
  const index = customId.image;
  if (index === undefined || generation.action === 'upscale') throw new UserError(MESSAGES.gone);
  if (!(await context.store.resultImages(generation.id)).some((image) => image.index === index)) {
    // Clicked the moment the result appeared: where Discord put its images is being recorded right now.
    if (generation.status === 'delivering') {
      throw new UserError('These images are still being posted. Try the button again in a moment.');
    }
    throw new UserError('That image is no longer available, so this button cannot be used.');
  }
  return index;
}

/** The model of a result, if members may still use it here and it edits images (Vary, Edit image). */
function requireEditable(config: Config, generation: Generation): ImageModel {
  const model = offeredModel(config, generation.modelId);
  if (!model || !editEndpointOf(model.id)) {
    throw new UserError(
      `${modelLabel(generation.modelId)} cannot edit images on this bot. Try Upscale, or /imagine again.`,
    );
  }
  return model;
}

/**
 * Upscale: one image of a result through the upscaler (models/upscaler.ts), as a new message that links back.
 * It counts as one image against the member who clicked, at the upscaler's price.
 */
async function upscale(
  interaction: ButtonInteraction,
  generation: Generation,
  image: number,
  context: CommandContext,
): Promise<void> {
  const settings = await allowedToActOn(interaction, generation, context);
  if (generation.input.resolution === '4K') {
    throw new UserError('This image is already 4K, the largest size: upscaled again it would not fit Discord.');
  }
  const model = findModel(generation.modelId);
  if (!model) throw new UserError(MESSAGES.gone);
  const input = { ...generation.input, num_images: 1 };
  await startGeneration(
    interaction,
    context,
    settings,
    model,
    input,
    generation.id,
    onImage(generation, image, 'upscale'),
  );
}

/** Vary: a new image close to one of a result's, through the model's /edit endpoint with that image and its prompt. */
async function vary(
  interaction: ButtonInteraction,
  generation: Generation,
  image: number,
  context: CommandContext,
): Promise<void> {
  const settings = await allowedToActOn(interaction, generation, context);
  const model = requireEditable(context.config, generation);
  const editing = referenceModel(model) ?? model;
  // One image, like Midjourney's V buttons' single variation at a time: the member pays for what they asked.
  const input = explained(adaptInput(editing, { ...generation.input, num_images: 1, seed: randomSeed() }));
  await startGeneration(
    interaction,
    context,
    settings,
    model,
    input,
    generation.id,
    onImage(generation, image, 'vary'),
  );
}

/**
 * Edit image: the member's words ("make the sky purple") applied to one image of a result through the model's
 * /edit endpoint; the shape stays the image's (`auto`) unless the words ask for another.
 */
async function submitEditImage(
  interaction: ModalSubmitInteraction,
  generation: Generation,
  image: number,
  context: CommandContext,
): Promise<void> {
  const settings = await allowedToActOn(interaction, generation, context);
  const model = requireEditable(context.config, generation);
  const editing = referenceModel(model) ?? model;
  const instruction = textField(interaction, EDIT_FIELDS.instruction);
  const input = explained(
    parseGenerationInput(editing, {
      prompt: instruction,
      num_images: 1,
      ...(generation.input.resolution &&
        takesOption(editing, 'resolution') && { resolution: generation.input.resolution }),
    }),
  );
  await startGeneration(
    interaction,
    context,
    settings,
    model,
    input,
    generation.id,
    onImage(generation, image, 'edit'),
  );
}

async function reroll(
  interaction: ButtonInteraction,
  generation: Generation,
  context: CommandContext,
  freshSeed: boolean,
): Promise<void> {
  const allowed = await sameModel(interaction, generation, context);
  if (!allowed) return;
  const { settings, model } = allowed;
  const options: Record<string, unknown> = { ...generation.input };
  const input = explained(
    parseGenerationInput(schemaFor(model, generation.action), freshSeed ? { ...options, seed: randomSeed() } : options),
  );
  await startGeneration(interaction, context, settings, model, input, generation.id, sameWork(generation));
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
  const settings = await allowedToActOn(interaction, generation, context);
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
  // The same work where the default model can do it (it may not edit images: then the prompt alone).
  const keeps = generation.action === 'imagine' || generation.action === 'upscale' || editEndpointOf(model.id);
  const what = keeps ? sameWork(generation) : { action: 'imagine' as const, imageRefs: [] };
  const input = explained(adaptInput(schemaFor(model, what.action), generation.input));
  await startGeneration(interaction, context, settings, model, input, parentId, what);
}

/**
 * The checks of a reroll or an Edit, and the generation's model if members may still use it here; otherwise the
 * member is offered the server's default model instead, and the answer is undefined.
 */
async function sameModel(
  interaction: ButtonInteraction | ModalSubmitInteraction,
  generation: Generation,
  context: CommandContext,
): Promise<{ settings: EffectiveSettings; model: ImageModel } | undefined> {
  const settings = await allowedToActOn(interaction, generation, context);
  const model = offeredModel(context.config, generation.modelId);
  if (model) return { settings, model };
  await offerDefaultModel(interaction, generation);
  return undefined;
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
  const allowed = await sameModel(interaction, generation, context);
  if (!allowed) return;
  const { settings, model } = allowed;
  const prompt = textField(interaction, EDIT_FIELDS.prompt);
  const negative = takesOption(model, 'negative_prompt') ? textField(interaction, EDIT_FIELDS.negativePrompt) : '';
  const { negative_prompt: _negative, ...rest } = generation.input;
  const input = explained(
    parseGenerationInput(schemaFor(model, generation.action), {
      ...rest,
      prompt,
      ...(negative.trim() && { negative_prompt: negative }),
    }),
  );
  await startGeneration(interaction, context, settings, model, input, generation.id, sameWork(generation));
}

/** An action on one image of a result. */
function onImage(
  generation: Generation,
  image: number,
  action: 'upscale' | 'vary' | 'edit',
): { action: GenerationAction; imageRefs: readonly ImageRef[] } {
  return { action, imageRefs: [{ type: 'result', generationId: generation.id, index: image }] };
}

/** What a reroll repeats: the same action on the same images. */
function sameWork(generation: Generation): { action: GenerationAction; imageRefs: readonly ImageRef[] } {
  return { action: generation.action, imageRefs: generation.imageRefs };
}

/** The schema a model's options are checked against for an action (its /edit input when it starts from images). */
function schemaFor(model: ImageModel, action: GenerationAction): ImageModel {
  return action === 'imagine' || action === 'upscale' ? model : (referenceModel(model) ?? model);
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
  // Delete removes the message it is on: only one that carries this very button (the result's own, or an
  // /imagine-show copy), never another member's result a made-up custom_id was planted on.
  if (!sourceMessageCarries(interaction)) throw new UserError(MESSAGES.gone);
  await interaction.deferUpdate();
  await interaction.deleteReply();
  await context.generations.forgetMessage(generation.id, interaction.message.id);
  context.logger.info('result deleted', { generation: generation.id, by: interaction.user.id });
}

async function cancel(interaction: ButtonInteraction, generation: Generation, context: CommandContext): Promise<void> {
  if (interaction.user.id !== generation.requesterId) throw new UserError(MESSAGES.cancelDenied);
  if (!(await context.generations.cancel(generation.id))) throw new UserError(MESSAGES.notRunning);
  // The job itself edits the message to say it was cancelled.
  await interaction.reply({ content: MESSAGES.cancelling, flags: MessageFlags.Ephemeral });
}
