/**
 * Interaction payloads as Discord sends them on the gateway (INTERACTION_CREATE): chat-input commands,
 * button clicks and modal submissions, each on a full envelope (channel, member or user, permissions,
 * context, install owners) and checked against what Discord would really send
 * (https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-object).
 */
import { resolvedWithAttachments } from '../discordCdn.js';
import { findComponent, numberComponents, walkComponents } from './components.js';
import { messageToApi, newMessage } from './messages.js';
import type { DiscordModel } from './model.js';
import {
  DEFAULT_APP_PERMISSIONS,
  DEFAULT_MEMBER_PERMISSIONS,
  DEFAULT_USER,
  INTERACTION_COMMAND,
  INTERACTION_COMPONENT,
  INTERACTION_MODAL_SUBMIT,
  THREAD_TYPES,
  fullUser,
  guildTextChannel,
  isObject,
  randomToken,
  snowflake,
  threadChannel,
  type Json,
} from './protocol.js';
import type {
  ButtonOptions,
  ChatInputOption,
  ChatInputOptions,
  ContextOptions,
  FakeMessage,
  InteractionContext,
  InteractionPayload,
  ModalSubmitOptions,
} from './types.js';

/** A chat-input command interaction, using the registered command's id when there is one. */
export function chatInput(model: DiscordModel, opts: ChatInputOptions): InteractionPayload {
  const base = interactionBase(model, opts);
  const guildId = typeof base['guild_id'] === 'string' ? base['guild_id'] : undefined;
  const command = findCommand(model, opts.name, guildId);
  if (command) checkCommandOptions(command, opts.options ?? []);
  const data: Json = {
    id: typeof command?.['id'] === 'string' ? command['id'] : snowflake(),
    name: opts.name,
    type: 1,
    ...(typeof command?.['guild_id'] === 'string' ? { guild_id: command['guild_id'] } : {}),
    ...(opts.options && opts.options.length > 0 ? { options: structuredClone(opts.options) } : {}),
  };
  const resolved = resolvedWithAttachments(opts.options ?? [], opts.resolved, opts.attachments ?? []);
  if (resolved) data['resolved'] = structuredClone(resolved);
  return { ...base, type: INTERACTION_COMMAND, data };
}

/**
 * A button click on a message. When the bot posted that message through the fake, the payload carries
 * it as stored and the button must exist on it and be enabled (Discord only sends clicks on real
 * buttons). A message id the fake never saw is registered from `message` (content, components) as a
 * bot message, and clicks on it are not checked, so a test can model stale or tampered custom_ids.
 */
export function button(model: DiscordModel, opts: ButtonOptions): InteractionPayload {
  let message = model.messages.get(opts.message.id);
  const fabricated = !message || model.fabricatedMessages.has(opts.message.id);
  if (!message || (fabricated && (opts.message.content !== undefined || opts.message.components !== undefined))) {
    message = newMessage(model, {
      id: opts.message.id,
      channelId: message?.channel_id ?? opts.channelId ?? model.channelId,
      content: opts.message.content ?? message?.content ?? '',
      components: opts.message.components
        ? numberComponents(structuredClone(opts.message.components))
        : (message?.components ?? []),
    });
    model.messages.set(message.id, message);
    model.fabricatedMessages.add(message.id);
  }
  const button = findComponent(message.components, opts.customId);
  if (!fabricated) {
    if (!button)
      throw new Error(
        `FakeDiscord: message ${message.id} has no component with custom_id ${JSON.stringify(opts.customId)}`,
      );
    if (button['disabled'] === true)
      throw new Error(`FakeDiscord: button ${JSON.stringify(opts.customId)} is disabled; users cannot click it`);
    if (button['type'] !== 2)
      throw new Error(`FakeDiscord: component ${JSON.stringify(opts.customId)} is not a button`);
  }
  const base = interactionBase(model, { ...opts, ...placeOf(model, message, opts.guildId) });
  return {
    ...base,
    type: INTERACTION_COMPONENT,
    data: {
      custom_id: opts.customId,
      component_type: 2,
      ...(typeof button?.['id'] === 'number' ? { id: button['id'] } : {}),
    },
    message: messageToApi(model.cdn, message),
  };
}

/**
 * A modal submission. When the bot showed a modal with this custom_id, the submission mirrors its layout
 * (labels or action rows) and the fields must be its text inputs, within their length limits.
 */
export function modalSubmit(model: DiscordModel, opts: ModalSubmitOptions): InteractionPayload {
  const message = opts.message ? model.messages.get(opts.message.id) : undefined;
  if (opts.message && !message) throw new Error(`FakeDiscord: unknown message ${opts.message.id} for modal submit`);
  const base = interactionBase(model, { ...opts, ...(message ? placeOf(model, message, opts.guildId) : {}) });
  const modal = [...model.interactions.values()].reverse().find((s) => s.modal?.['custom_id'] === opts.customId)?.modal;
  const components = modal ? submittedModalComponents(modal, opts.fields) : legacyModalComponents(opts.fields);
  return {
    ...base,
    type: INTERACTION_MODAL_SUBMIT,
    data: { custom_id: opts.customId, components },
    ...(message ? { message: messageToApi(model.cdn, message) } : {}),
  };
}

/** A component lives where its message is: same channel, and no guild when that channel is a DM. */
function placeOf(
  model: DiscordModel,
  message: FakeMessage,
  guildId: string | null | undefined,
): { channelId: string; guildId: string | null } {
  const channel = model.channels.get(message.channel_id);
  return {
    channelId: message.channel_id,
    guildId: guildId !== undefined ? guildId : channel ? channel.guildId : model.guildId,
  };
}

function interactionBase(model: DiscordModel, opts: ContextOptions): InteractionPayload {
  const user = opts.user ?? DEFAULT_USER;
  const guildId = opts.guildId === undefined ? model.guildId : opts.guildId;
  const context: InteractionContext = opts.context ?? (guildId ? 0 : 1);
  const install = opts.install ?? (context === 0 ? 'guild' : 'user');
  const channelId = opts.channelId ?? (guildId ? model.channelId : snowflake());
  const appPermissions = opts.appPermissions ?? DEFAULT_APP_PERMISSIONS.toString();
  const memberPermissions = opts.memberPermissions ?? DEFAULT_MEMBER_PERMISSIONS.toString();
  const channelType = guildId ? 0 : context === 2 ? 3 : 1;
  if (!model.channels.has(channelId)) {
    // The bot can post in guild channels it was installed in and in its own DM; not in other users' DMs
    // or in guilds where only a user installed it.
    const botIsThere = context !== 2 && install === 'guild';
    model.setChannel(channelId, {
      type: channelType,
      guildId: guildId ?? null,
      botPermissions: botIsThere || context === 1 ? BigInt(appPermissions) : 0n,
    });
  }
  const owners: Json = install === 'guild' ? { '0': guildId ?? '0' } : { '1': user.id };
  const known = model.channels.get(channelId);
  const channel: Json = guildId
    ? {
        ...(known && THREAD_TYPES.has(known.type)
          ? threadChannel(known)
          : guildTextChannel(channelId, guildId, known?.type ?? 0)),
        permissions: memberPermissions,
      }
    : {
        id: channelId,
        type: channelType,
        flags: 0,
        last_message_id: null,
        recipients: [fullUser(user)],
        ...(channelType === 1 ? {} : { name: null, owner_id: user.id, icon: null }),
      };
  const base: InteractionPayload = {
    id: snowflake(),
    token: randomToken('aW50ZXJhY3Rpb246', 120),
    application_id: model.applicationId,
    version: 1,
    channel_id: channelId,
    channel,
    app_permissions: appPermissions,
    locale: 'en-US',
    entitlements: [],
    authorizing_integration_owners: owners,
    context,
    attachment_size_limit: model.fileSizeLimit,
  };
  if (guildId) {
    base['guild_id'] = guildId;
    base['guild'] = { id: guildId, locale: 'en-US', features: [] };
    base['guild_locale'] = 'en-US';
    base['member'] = {
      user: fullUser(user),
      roles: opts.roles ?? [],
      permissions: memberPermissions,
      joined_at: new Date(Date.now() - 86_400_000).toISOString(),
      premium_since: null,
      deaf: false,
      mute: false,
      pending: false,
      flags: 0,
      avatar: null,
      banner: null,
      nick: null,
      communication_disabled_until: null,
      unusual_dm_activity_until: null,
    };
  } else {
    base['user'] = fullUser(user);
  }
  return base;
}

function findCommand(model: DiscordModel, name: string, guildId: string | undefined): Json | undefined {
  const pools = [...(guildId ? [model.commands.guilds.get(guildId) ?? []] : []), model.commands.global];
  for (const pool of pools) {
    const found = pool.find((c) => isObject(c) && c['name'] === name && (c['type'] ?? 1) === 1);
    if (isObject(found)) return found;
  }
  return undefined;
}

/** Discord only sends options the registered command declares, with values of the declared type. */
function checkCommandOptions(command: Json, given: ReadonlyArray<ChatInputOption>): void {
  const declared = Array.isArray(command['options']) ? command['options'].filter(isObject) : [];
  if (declared.some((o) => o['type'] === 1 || o['type'] === 2)) return; // subcommands: not modelled here
  for (const option of given) {
    const spec = declared.find((o) => o['name'] === option.name);
    if (!spec) throw new Error(`FakeDiscord: /${String(command['name'])} has no option ${JSON.stringify(option.name)}`);
    if (spec['type'] !== option.type) {
      throw new Error(
        `FakeDiscord: option ${option.name} of /${String(command['name'])} has type ${String(spec['type'])}, not ${option.type}`,
      );
    }
    const choices = Array.isArray(spec['choices']) ? spec['choices'].filter(isObject) : [];
    if (choices.length > 0 && !choices.some((c) => c['value'] === option.value)) {
      throw new Error(`FakeDiscord: ${JSON.stringify(option.value)} is not a choice of option ${option.name}`);
    }
  }
  for (const spec of declared) {
    if (spec['required'] === true && !given.some((o) => o.name === spec['name'])) {
      throw new Error(`FakeDiscord: required option ${String(spec['name'])} of /${String(command['name'])} is missing`);
    }
  }
}

function legacyModalComponents(fields: Record<string, string>): unknown[] {
  let id = 0;
  return Object.entries(fields).map(([customId, value]) => ({
    type: 1,
    id: ++id,
    components: [{ type: 4, id: ++id, custom_id: customId, value }],
  }));
}

/** What Discord sends back for a shown modal: its layout, each text input carrying the user's value. */
function submittedModalComponents(modal: Json, fields: Record<string, string>): unknown[] {
  const components = numberComponents(structuredClone(Array.isArray(modal['components']) ? modal['components'] : []));
  const inputs = new Map<string, Json>();
  walkComponents(components, (c) => {
    if (c['type'] === 4 && typeof c['custom_id'] === 'string') inputs.set(c['custom_id'], c);
  });
  for (const name of Object.keys(fields)) {
    if (!inputs.has(name))
      throw new Error(`FakeDiscord: the modal ${String(modal['custom_id'])} has no text input ${JSON.stringify(name)}`);
  }
  const strip = (c: Json): Json => {
    if (c['type'] === 4) {
      const value = fields[String(c['custom_id'])] ?? '';
      const required = c['required'] !== false;
      if (required && value === '') throw new Error(`FakeDiscord: text input ${String(c['custom_id'])} is required`);
      const min = typeof c['min_length'] === 'number' ? c['min_length'] : 0;
      const max = typeof c['max_length'] === 'number' ? c['max_length'] : 4000;
      if (value !== '' && (value.length < min || value.length > max)) {
        throw new Error(`FakeDiscord: text input ${String(c['custom_id'])} must be ${min}-${max} characters`);
      }
      return { type: 4, id: c['id'], custom_id: c['custom_id'], value };
    }
    if (Array.isArray(c['components']))
      return { type: c['type'], id: c['id'], components: c['components'].filter(isObject).map(strip) };
    if (isObject(c['component'])) return { type: c['type'], id: c['id'], component: strip(c['component']) };
    return { type: c['type'], id: c['id'] };
  };
  return components.filter(isObject).map(strip);
}
