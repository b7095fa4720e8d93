/**
 * The bot-token channel routes: get a channel, typing, create, get, edit and delete messages, each checked
 * against the bot's permissions in that channel (https://discord.com/developers/docs/resources/message#endpoints).
 */
import { buildMessage, editMessage, messageToApi } from './messages.js';
import type { DiscordModel } from './model.js';
import {
  DEFAULT_USER,
  FLAG_EPHEMERAL,
  P,
  THREAD_TYPES,
  fullUser,
  guildTextChannel,
  isObject,
  threadChannel,
} from './protocol.js';
import {
  apiError,
  formError,
  isErrorReply,
  missingAccess,
  missingPermissions,
  unknownChannel,
  unknownMessage,
  type ApiError,
  type Reply,
} from './replies.js';
import type { AddRoute, RequestContext } from './router.js';
import type { FakeChannel } from './types.js';

export function addChannelRoutes(model: DiscordModel, add: AddRoute): void {
  add('POST', '/attachments/refresh-urls', 'bot', (ctx) => model.cdn.refreshUrls(ctx.record.body));
  add('GET', '/channels/{channel_id}', 'bot', (ctx) => getChannel(model, ctx));
  add('POST', '/channels/{channel_id}/typing', 'bot', (ctx) =>
    withChannel(model, ctx, P.SendMessages, () => ({ status: 204 })),
  );
  add('POST', '/channels/{channel_id}/messages', 'bot', (ctx) => createChannelMessage(model, ctx));
  for (const method of ['GET', 'PATCH', 'DELETE']) {
    add(method, '/channels/{channel_id}/messages/{message_id}', 'bot', (ctx) => channelMessage(model, ctx));
  }
}

function withChannel(
  model: DiscordModel,
  ctx: RequestContext,
  needs: bigint,
  run: (channel: FakeChannel) => Reply | ApiError,
): Reply | ApiError {
  const channel = model.channels.get(ctx.params['channel_id'] ?? '');
  if (!channel) return unknownChannel();
  if ((channel.botPermissions & P.ViewChannel) === 0n) return missingAccess();
  if ((channel.botPermissions & needs) !== needs) return missingPermissions();
  return run(channel);
}

function getChannel(model: DiscordModel, ctx: RequestContext): Reply | ApiError {
  return withChannel(model, ctx, 0n, (channel) => ({
    status: 200,
    body:
      channel.type === 1
        ? { id: channel.id, type: 1, flags: 0, last_message_id: null, recipients: [fullUser(DEFAULT_USER)] }
        : THREAD_TYPES.has(channel.type)
          ? threadChannel(channel)
          : { ...guildTextChannel(channel.id, channel.guildId, channel.type), permission_overwrites: [] },
  }));
}

function createChannelMessage(model: DiscordModel, ctx: RequestContext): Reply | ApiError {
  // In a thread, Send Messages in Threads stands in for Send Messages.
  const inThread = THREAD_TYPES.has(model.channels.get(ctx.params['channel_id'] ?? '')?.type ?? 0);
  const needs =
    (inThread ? P.SendMessagesInThreads : P.SendMessages) | (ctx.record.files.length > 0 ? P.AttachFiles : 0n);
  return withChannel(model, ctx, needs, (channel) => {
    const body = isObject(ctx.record.body) ? ctx.record.body : {};
    if (typeof body['flags'] === 'number' && (body['flags'] & FLAG_EPHEMERAL) !== 0) {
      return formError(['flags'], 'MESSAGE_FLAGS_INVALID', 'Only interaction responses can be ephemeral.');
    }
    const created = buildMessage(model, body, ctx.record.files, {
      channelId: channel.id,
      interaction: undefined,
      messageType: 0,
    });
    if (isErrorReply(created)) return created;
    model.messages.set(created.id, created);
    return { status: 200, body: messageToApi(model.cdn, created) };
  });
}

function channelMessage(model: DiscordModel, ctx: RequestContext): Reply | ApiError {
  return withChannel(model, ctx, ctx.record.method === 'GET' ? P.ReadMessageHistory : 0n, (channel) => {
    const message = model.messages.get(ctx.params['message_id'] ?? '');
    if (!message || message.channel_id !== channel.id || (message.flags & FLAG_EPHEMERAL) !== 0)
      return unknownMessage();
    switch (ctx.record.method) {
      case 'GET':
        return { status: 200, body: messageToApi(model.cdn, message) };
      case 'DELETE':
        if (message.author['id'] !== model.botUserId && (channel.botPermissions & P.ManageMessages) === 0n)
          return missingPermissions();
        model.messages.delete(message.id);
        return { status: 204 };
      default: {
        if (message.author['id'] !== model.botUserId)
          return apiError(403, 50005, 'Cannot edit a message authored by another user');
        const edited = editMessage(model, message, isObject(ctx.record.body) ? ctx.record.body : {}, ctx.record.files);
        if (isErrorReply(edited)) return edited;
        return { status: 200, body: messageToApi(model.cdn, edited) };
      }
    }
  });
}
