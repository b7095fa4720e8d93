/**
 * Messages as Discord keeps them: created from a create body (interaction response, followup or channel
 * post), changed by an edit body, with their attachments stored and served, and serialized back as the API
 * message object (https://discord.com/developers/docs/resources/message#message-object).
 */
import type { FakeDiscordCdn } from '../discordCdn.js';
import { numberComponents } from './components.js';
import type { DiscordModel } from './model.js';
import {
  CREATE_FLAGS,
  DEFAULT_USER,
  EDIT_FLAGS,
  FLAG_COMPONENTS_V2,
  FLAG_EPHEMERAL,
  FLAG_LOADING,
  FLAG_SUPPRESS_EMBEDS,
  INTERACTION_COMMAND,
  INTERACTION_COMPONENT,
  fullUser,
  isObject,
  snowflake,
  type Json,
} from './protocol.js';
import { apiError, formError, isErrorReply, type ApiError } from './replies.js';
import type { FakeAttachment, FakeInteractionState, FakeMessage, RecordedFile } from './types.js';
import { validateMessageShape } from './validation.js';

export function newMessage(
  model: DiscordModel,
  init: {
    id?: string;
    channelId: string;
    content?: string;
    components?: unknown[];
    flags?: number;
    type?: number;
    interaction?: FakeInteractionState | undefined;
  },
): FakeMessage {
  const interaction = init.interaction;
  return {
    id: init.id ?? snowflake(),
    channel_id: init.channelId,
    author: model.botUser,
    content: init.content ?? '',
    components: init.components ?? [],
    embeds: [],
    attachments: [],
    flags: init.flags ?? 0,
    type: init.type ?? 0,
    timestamp: new Date().toISOString(),
    edited_timestamp: null,
    application_id: interaction ? model.applicationId : undefined,
    webhook_id: interaction ? model.applicationId : undefined,
    interaction_metadata: interaction ? interactionMetadata(model, interaction) : undefined,
    poll: undefined,
    interactionToken: interaction?.token,
    interactionId: interaction?.id,
  };
}

function interactionMetadata(model: DiscordModel, state: FakeInteractionState): Json {
  const payload = model.payloads.get(state.id) ?? {};
  const member = isObject(payload['member']) ? payload['member'] : {};
  const user = isObject(payload['user'])
    ? payload['user']
    : isObject(member['user'])
      ? member['user']
      : fullUser(DEFAULT_USER);
  return {
    id: state.id,
    type: state.type,
    user,
    authorizing_integration_owners: isObject(payload['authorizing_integration_owners'])
      ? payload['authorizing_integration_owners']
      : {},
    ...(state.type === INTERACTION_COMMAND ? { name: state.name, command_type: 1 } : {}),
    ...(state.type === INTERACTION_COMPONENT && state.messageId ? { interacted_message_id: state.messageId } : {}),
  };
}

/** Creates a message from a create body (not stored yet). */
export function buildMessage(
  model: DiscordModel,
  body: Json,
  files: RecordedFile[],
  init: { channelId: string; interaction: FakeInteractionState | undefined; messageType: number },
): FakeMessage | ApiError {
  const flags = typeof body['flags'] === 'number' ? body['flags'] : 0;
  if ((flags & ~CREATE_FLAGS) !== 0)
    return formError(['flags'], 'MESSAGE_FLAGS_INVALID', `Flags ${flags} cannot be set on a new message.`);
  const message = newMessage(model, {
    channelId: init.channelId,
    type: init.messageType,
    flags,
    interaction: init.interaction,
  });
  const applied = applyContent(model, message, body, files, false);
  return isErrorReply(applied) ? applied : message;
}

/** Applies an edit body to a copy of the message and stores it. */
export function editMessage(
  model: DiscordModel,
  message: FakeMessage,
  body: Json,
  files: RecordedFile[],
): FakeMessage | ApiError {
  const next: FakeMessage = { ...message, attachments: [...message.attachments] };
  if (typeof body['flags'] === 'number') {
    const flags = body['flags'];
    if ((flags & ~EDIT_FLAGS) !== 0)
      return formError(['flags'], 'MESSAGE_FLAGS_INVALID', `Flags ${flags} cannot be set by an edit.`);
    if ((message.flags & FLAG_COMPONENTS_V2) !== 0 && (flags & FLAG_COMPONENTS_V2) === 0) {
      return formError(
        ['flags'],
        'MESSAGE_CANNOT_REMOVE_COMPONENTS_V2_FLAG',
        'The IS_COMPONENTS_V2 flag cannot be removed from a message.',
      );
    }
    next.flags =
      (message.flags & (FLAG_EPHEMERAL | FLAG_LOADING | FLAG_COMPONENTS_V2)) |
      (flags & (FLAG_SUPPRESS_EMBEDS | FLAG_COMPONENTS_V2));
  }
  const applied = applyContent(model, next, body, files, true);
  if (isErrorReply(applied)) return applied;
  const wasLoading = (next.flags & FLAG_LOADING) !== 0;
  next.flags &= ~FLAG_LOADING;
  // The edit that fills in a deferred reply is not shown as an edit.
  next.edited_timestamp = wasLoading ? null : new Date().toISOString();
  model.messages.set(next.id, next);
  return next;
}

/** Validates and applies content/embeds/components/attachments of a create or edit body. */
function applyContent(
  model: DiscordModel,
  message: FakeMessage,
  body: Json,
  files: RecordedFile[],
  isEdit: boolean,
): FakeMessage | ApiError {
  if ('content' in body) {
    const content = body['content'];
    if (typeof content === 'string' && content.length > 2000) {
      return formError(['content'], 'BASE_TYPE_MAX_LENGTH', 'Must be 2000 or fewer in length.');
    }
    message.content = typeof content === 'string' ? content : '';
  }
  if ('embeds' in body) message.embeds = Array.isArray(body['embeds']) ? structuredClone(body['embeds']) : [];
  if ('components' in body)
    message.components = Array.isArray(body['components']) ? structuredClone(body['components']) : [];
  const poll = body['poll'];
  if (isObject(poll)) {
    if (isEdit) return formError(['poll'], 'POLL_CANNOT_BE_EDITED', 'Polls cannot be edited.');
    message.poll = storedPoll(poll);
  }

  const attachments = resolveAttachments(model, message, body, files, isEdit);
  if (isErrorReply(attachments)) return attachments;
  message.attachments = attachments;

  const error = validateMessageShape(message);
  if (error) return error;
  message.components = numberComponents(message.components);
  return message;
}

/**
 * Discord's attachment rules: `attachments` in the body lists every attachment the message keeps
 * (existing ids) or gains (`id` = n of a `files[n]` part, with optional filename/description); without
 * it, an edit keeps the existing attachments and new files are added.
 */
function resolveAttachments(
  model: DiscordModel,
  message: FakeMessage,
  body: Json,
  files: RecordedFile[],
  isEdit: boolean,
): FakeAttachment[] | ApiError {
  const byIndex = new Map<string, RecordedFile>();
  for (const [position, file] of files.entries()) {
    const index = /^files\[(\d+)\]$/.exec(file.field)?.[1] ?? String(position);
    byIndex.set(index, file);
  }
  const listed = Array.isArray(body['attachments']) ? body['attachments'].filter(isObject) : undefined;
  const result: FakeAttachment[] = [];
  const used = new Set<string>();
  if (listed) {
    for (const entry of listed) {
      const id = String(entry['id']);
      const file = byIndex.get(id);
      if (file && !used.has(id)) {
        used.add(id);
        result.push(storeAttachment(model, message, file, entry));
        continue;
      }
      const kept = message.attachments.find((a) => a.id === id);
      if (kept) result.push(kept);
    }
  } else if (isEdit) {
    result.push(...message.attachments);
  }
  for (const [index, file] of byIndex) {
    if (!used.has(index)) result.push(storeAttachment(model, message, file, undefined));
  }
  if (result.length > 10) return apiError(400, 30015, 'Maximum number of attachments in a message reached (10)');
  return result;
}

function storeAttachment(
  model: DiscordModel,
  message: FakeMessage,
  file: RecordedFile,
  entry: Json | undefined,
): FakeAttachment {
  const id = snowflake();
  const filename = typeof entry?.['filename'] === 'string' ? entry['filename'] : file.filename;
  const url = model.cdn.storeAttachment(message.channel_id, id, filename, file.data, file.contentType);
  return {
    id,
    filename,
    size: file.data.length,
    url,
    proxy_url: url,
    content_type: file.contentType,
    description: typeof entry?.['description'] === 'string' ? entry['description'] : undefined,
    data: file.data,
  };
}

export function messageToApi(cdn: FakeDiscordCdn, message: FakeMessage): Json {
  return {
    id: message.id,
    channel_id: message.channel_id,
    author: message.author,
    content: message.content,
    timestamp: message.timestamp,
    edited_timestamp: message.edited_timestamp,
    tts: false,
    mention_everyone: false,
    mentions: [],
    mention_roles: [],
    attachments: message.attachments.map((a) => ({
      id: a.id,
      filename: a.filename,
      size: a.size,
      // Discord signs attachment URLs afresh in every payload it sends.
      url: cdn.resign(a.url) ?? a.url,
      proxy_url: cdn.resign(a.proxy_url) ?? a.proxy_url,
      ...(a.content_type ? { content_type: a.content_type } : {}),
      ...(a.description ? { description: a.description } : {}),
      ...((message.flags & FLAG_EPHEMERAL) !== 0 ? { ephemeral: true } : {}),
    })),
    embeds: structuredClone(message.embeds),
    components: structuredClone(message.components),
    pinned: false,
    type: message.type,
    flags: message.flags,
    ...(message.application_id ? { application_id: message.application_id } : {}),
    ...(message.webhook_id ? { webhook_id: message.webhook_id } : {}),
    ...(message.interaction_metadata ? { interaction_metadata: message.interaction_metadata } : {}),
    ...(message.poll ? { poll: structuredClone(message.poll) } : {}),
  };
}

/** A poll request as Discord stores it (https://discord.com/developers/docs/resources/poll). */
function storedPoll(poll: Json): Json {
  const hours = typeof poll['duration'] === 'number' ? poll['duration'] : 24;
  const answers = Array.isArray(poll['answers']) ? poll['answers'].filter(isObject) : [];
  return {
    question: poll['question'],
    answers: answers.map((answer, i) => ({ answer_id: i + 1, poll_media: answer['poll_media'] })),
    expiry: new Date(Date.now() + hours * 3_600_000).toISOString(),
    allow_multiselect: poll['allow_multiselect'] === true,
    layout_type: typeof poll['layout_type'] === 'number' ? poll['layout_type'] : 1,
    results: { is_finalized: false, answer_counts: [] },
  };
}
