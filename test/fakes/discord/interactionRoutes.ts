/**
 * The interaction routes: the callback (the initial response, within 3 s, once), and the interaction
 * webhook (followups, and getting, editing or deleting `@original` and followups while the token lives)
 * (https://discord.com/developers/docs/interactions/receiving-and-responding#endpoints).
 */
import { buildMessage, editMessage, messageToApi, newMessage } from './messages.js';
import type { DiscordModel } from './model.js';
import {
  FLAG_EPHEMERAL,
  FLAG_LOADING,
  INTERACTION_AUTOCOMPLETE,
  INTERACTION_COMMAND,
  INTERACTION_COMPONENT,
  INTERACTION_MODAL_SUBMIT,
  isObject,
} from './protocol.js';
import {
  apiError,
  formError,
  invalidWebhookToken,
  isErrorReply,
  prefixErrors,
  unknownInteraction,
  unknownMessage,
  unknownWebhook,
  type ApiError,
  type Reply,
} from './replies.js';
import type { AddRoute, RequestContext } from './router.js';
import type { FakeInteractionState, FakeMessage } from './types.js';
import { validateModal } from './validation.js';

export function addInteractionRoutes(model: DiscordModel, add: AddRoute): void {
  add('POST', '/interactions/{interaction_id}/{token}/callback', 'none', (ctx) => callback(model, ctx));
  add('POST', '/webhooks/{application_id}/{token}', 'none', (ctx) => followup(model, ctx));
  for (const method of ['GET', 'PATCH', 'DELETE']) {
    add(method, '/webhooks/{application_id}/{token}/messages/{message_id}', 'none', (ctx) =>
      webhookMessage(model, ctx),
    );
  }
}

function callback(model: DiscordModel, ctx: RequestContext): Reply | ApiError {
  const state = model.interactions.get(ctx.params['interaction_id'] ?? '');
  if (!state || state.token !== ctx.params['token'] || model.tokenExpired(state)) return unknownInteraction();
  if (state.acknowledged !== null) return apiError(400, 40060, 'Interaction has already been acknowledged.');
  if (model.responseDeadlineMs !== null && Date.now() - state.createdAt > model.responseDeadlineMs) {
    // Discord stops waiting after 3 s; the interaction is then unknown.
    return unknownInteraction();
  }
  const body = isObject(ctx.record.body) ? ctx.record.body : {};
  const type = body['type'];
  const data = isObject(body['data']) ? body['data'] : undefined;
  const invalidType = (): ApiError =>
    formError(
      ['type'],
      'INTERACTION_RESPONSE_TYPE_INVALID',
      `Interaction response type ${String(type)} is not valid for interaction type ${state.type}.`,
    );
  const fromCommandLike =
    state.type === INTERACTION_COMMAND ||
    state.type === INTERACTION_COMPONENT ||
    state.type === INTERACTION_MODAL_SUBMIT;
  const hasMessage =
    state.type === INTERACTION_COMPONENT || (state.type === INTERACTION_MODAL_SUBMIT && state.messageId !== undefined);
  const files = ctx.record.files;
  let message: FakeMessage | undefined;

  switch (type) {
    case 4: {
      if (!fromCommandLike) return invalidType();
      const created = buildMessage(model, data ?? {}, files, {
        channelId: state.channelId ?? model.channelId,
        interaction: state,
        messageType: state.type === INTERACTION_COMMAND ? 20 : 0,
      });
      if (isErrorReply(created)) return prefixErrors(created, 'data');
      message = created;
      model.messages.set(message.id, message);
      state.originalMessageId = message.id;
      break;
    }
    case 5: {
      if (!fromCommandLike) return invalidType();
      const extra = Object.keys(data ?? {}).filter((k) => k !== 'flags');
      if (extra.length > 0)
        return formError(
          ['data', extra[0] ?? ''],
          'INTERACTION_DEFERRED_DATA_INVALID',
          'A deferred response may only carry flags.',
        );
      if (files.length > 0)
        return formError(['files'], 'INTERACTION_DEFERRED_DATA_INVALID', 'A deferred response cannot carry files.');
      const flags = typeof data?.['flags'] === 'number' ? data['flags'] : 0;
      if ((flags & ~FLAG_EPHEMERAL) !== 0)
        return formError(
          ['data', 'flags'],
          'MESSAGE_FLAGS_INVALID',
          'A deferred response may only set the EPHEMERAL flag.',
        );
      message = newMessage(model, {
        channelId: state.channelId ?? model.channelId,
        flags: flags | FLAG_LOADING,
        type: state.type === INTERACTION_COMMAND ? 20 : 0,
        interaction: state,
      });
      model.messages.set(message.id, message);
      state.originalMessageId = message.id;
      break;
    }
    case 6:
    case 7: {
      if (!hasMessage || !state.messageId) return invalidType();
      const target = model.messages.get(state.messageId);
      if (!target) return unknownMessage();
      if (type === 7) {
        const edited = editMessage(model, target, data ?? {}, files);
        if (isErrorReply(edited)) return prefixErrors(edited, 'data');
        message = edited;
      } else if (data !== undefined || files.length > 0) {
        return formError(['data'], 'INTERACTION_DEFERRED_DATA_INVALID', 'DEFERRED_UPDATE_MESSAGE takes no data.');
      }
      state.originalMessageId = target.id;
      break;
    }
    case 8:
      if (state.type !== INTERACTION_AUTOCOMPLETE) return invalidType();
      break;
    case 9: {
      if (state.type !== INTERACTION_COMMAND && state.type !== INTERACTION_COMPONENT) return invalidType();
      const error = validateModal(data ?? {});
      if (error) return error;
      state.modal = structuredClone(data ?? {});
      break;
    }
    default:
      return invalidType();
  }
  state.acknowledged = type;

  if (ctx.record.query.get('with_response') !== 'true') return { status: 204 };
  const original = state.originalMessageId ? model.messages.get(state.originalMessageId) : undefined;
  return {
    status: 200,
    body: {
      interaction: {
        id: state.id,
        type: state.type,
        ...(original && type !== 6
          ? {
              response_message_id: original.id,
              response_message_loading: (original.flags & FLAG_LOADING) !== 0,
              response_message_ephemeral: (original.flags & FLAG_EPHEMERAL) !== 0,
            }
          : {}),
      },
      resource: { type, ...(message ? { message: messageToApi(model.cdn, message) } : {}) },
    },
  };
}

/** The interaction behind a webhook URL, or Discord's answer when there is none usable. */
function webhookState(model: DiscordModel, params: Record<string, string>): FakeInteractionState | ApiError {
  if (params['application_id'] !== model.applicationId) return unknownWebhook();
  const token = params['token'] ?? '';
  const state = [...model.interactions.values()].find((s) => s.token === token);
  if (!state || model.tokenExpired(state)) return invalidWebhookToken();
  // The interaction webhook only exists once the interaction was answered.
  if (state.acknowledged === null) return unknownWebhook();
  return state;
}

function followup(model: DiscordModel, ctx: RequestContext): Reply | ApiError {
  const state = webhookState(model, ctx.params);
  if ('status' in state) return state;
  const body = isObject(ctx.record.body) ? ctx.record.body : {};
  const wait = ctx.record.query.get('wait') === 'true';
  const original = state.originalMessageId ? model.messages.get(state.originalMessageId) : undefined;
  let message: FakeMessage;
  if (state.acknowledged === 5 && original && (original.flags & FLAG_LOADING) !== 0) {
    // The first followup after a deferred reply replaces the "thinking..." message, keeping its ephemerality.
    const edited = editMessage(model, original, body, ctx.record.files);
    if (isErrorReply(edited)) return edited;
    message = edited;
  } else {
    const created = buildMessage(model, body, ctx.record.files, {
      channelId: state.channelId ?? model.channelId,
      interaction: state,
      messageType: 0,
    });
    if (isErrorReply(created)) return created;
    message = created;
    model.messages.set(message.id, message);
    state.followupIds.push(message.id);
  }
  return wait ? { status: 200, body: messageToApi(model.cdn, message) } : { status: 204 };
}

function webhookMessage(model: DiscordModel, ctx: RequestContext): Reply | ApiError {
  const state = webhookState(model, ctx.params);
  if ('status' in state) return state;
  const requested = ctx.params['message_id'];
  const id = requested === '@original' ? state.originalMessageId : requested;
  const message = id ? model.messages.get(id) : undefined;
  if (!message) return unknownMessage();
  const ownedByApp = message.webhook_id === model.applicationId || message.id === state.messageId;
  const ephemeralOfOther =
    (message.flags & FLAG_EPHEMERAL) !== 0 &&
    message.interactionToken !== state.token &&
    message.id !== state.messageId;
  if (!ownedByApp || ephemeralOfOther) return unknownMessage();
  switch (ctx.record.method) {
    case 'GET':
      return { status: 200, body: messageToApi(model.cdn, message) };
    case 'DELETE':
      model.messages.delete(message.id);
      return { status: 204 };
    default: {
      const edited = editMessage(model, message, isObject(ctx.record.body) ? ctx.record.body : {}, ctx.record.files);
      if (isErrorReply(edited)) return edited;
      return { status: 200, body: messageToApi(model.cdn, edited) };
    }
  }
}
