import {
  PermissionFlagsBits,
  channelMention,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  type ModalSubmitInteraction,
} from 'discord.js';
import type { Config } from '../config.js';
import { UserError } from '../errors.js';
import { errorContext } from '../logger.js';
import type { EffectiveSettings } from '../limits/guildSettings.js';
import type { GenerationAction } from '../models/operations.js';
import type { ParseResult } from '../models/parse.js';
import { findModel, modelsWithIds, type GenerationInput, type ImageModel } from '../models/registry.js';
import type { Generation, ImageRef } from '../store/generations.js';
import type { CommandContext } from './command.js';
import { tokenExpiry } from './interactionToken.js';
import { missingChannelPermissions } from './permissions.js';
import { refusalMessage } from './views/refusals.js';

/**
 * The steps every request for images from an interaction shares (a slash command, a button, a form): the
 * server's rules, who may act on whose images, the bot's own permissions in the channel, and then admission,
 * acknowledgement and the start of the job. Commands decide what to make; this decides whether and starts it.
 */

/**
 * Admits the job against every limit (one transaction), acknowledges, and hands it to the service.
 * A refused request is answered ephemerally, is not saved, and costs nothing.
 */
export async function startGeneration(
  interaction: StartingInteraction,
  context: CommandContext,
  settings: EffectiveSettings,
  model: ImageModel,
  input: GenerationInput,
  parentId: number | null,
  what: { readonly action: GenerationAction; readonly imageRefs: readonly ImageRef[] } = {
    action: 'imagine',
    imageRefs: [],
  },
): Promise<void> {
  const inThread = context.inThread(interaction.id);
  requireChannelAccess(interaction, inThread);
  const admitted = await context.generations.admit(
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
      action: what.action,
      imageRefs: what.imageRefs,
    },
    settings.limits,
  );
  if (!admitted.ok) throw new UserError(refusalMessage(admitted.refusal));
  const { generation } = admitted;
  try {
    await interaction.deferReply();
  } catch (error) {
    // Too late to answer (e.g. the interaction expired): the job must not run or count against anyone.
    await context.generations.abandon(generation.id).catch((abandonError: unknown) => {
      context.logger.error('could not drop a job Discord did not let the bot acknowledge', {
        generation: generation.id,
        ...errorContext(abandonError),
      });
    });
    throw error;
  }
  void context.generations.start(generation);
}

/** The server's rules: /imagine only in allowed channels, only for allowed roles (admins are always allowed). */
export function requireAccess(interaction: StartingInteraction, settings: EffectiveSettings): void {
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

export function requireRerollAllowed(
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

/**
 * The checks before acting on a generation (a reroll, an edit, an action on one of its images): the server's
 * rules for /imagine, and its setting for who may act on another member's images. Returns the server's settings.
 */
export async function allowedToActOn(
  interaction: StartingInteraction,
  generation: Generation,
  context: CommandContext,
): Promise<EffectiveSettings> {
  const settings = await context.guildSettings.effective(interaction.guildId);
  requireAccess(interaction, settings);
  requireRerollAllowed(interaction, generation, settings);
  return settings;
}

/** Role ids from the interaction payload (no member cache is kept: the bot has no gateway intents). */
function memberRoleIds(interaction: StartingInteraction): string[] {
  const member = interaction.member;
  if (!member) return [];
  return Array.isArray(member.roles) ? member.roles : [...member.roles.cache.keys()];
}

/** A field of the Edit modal; an empty string when Discord sent none (it always should). */
export function textField(interaction: ModalSubmitInteraction, customId: string): string {
  try {
    return interaction.fields.getTextInputValue(customId);
  } catch {
    return '';
  }
}

export type StartingInteraction = ChatInputCommandInteraction | ButtonInteraction | ModalSubmitInteraction;

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
export function offeredModel(config: Config, id: string): ImageModel | undefined {
  return config.models.includes(id as Config['models'][number]) ? findModel(id) : undefined;
}

export function requireOffered(config: Config, id: string): ImageModel {
  const model = offeredModel(config, id);
  if (!model) {
    const offered = modelsWithIds(config.models)
      .map((m) => m.label)
      .join(', ');
    throw new UserError(`${modelLabel(id)} is not available on this bot. Pick one of: ${offered}.`);
  }
  return model;
}

export function modelLabel(id: string): string {
  return findModel(id)?.label ?? 'That model';
}

export function explained(parsed: ParseResult): GenerationInput {
  if (!parsed.ok) throw new UserError(parsed.problems.join('\n'));
  return parsed.input;
}
