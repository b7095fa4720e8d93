/** Reading what the bot sent to the fake Discord, for the fuzz test's invariants. */
import type { InteractionPayload, RecordedRequest } from '../../fakes/discord.js';
import { isCallback, type World } from '../world.js';
import { isObject, type FuzzCase, type Json } from './cases.js';

export const CALLBACK_ROUTE = 'POST /interactions/{interaction_id}/{token}/callback';
const MESSAGE_ROUTES = new Set([
  'POST /webhooks/{application_id}/{token}',
  'PATCH /webhooks/{application_id}/{token}/messages/{message_id}',
  'POST /channels/{channel_id}/messages',
  'PATCH /channels/{channel_id}/messages/{message_id}',
]);

/** Every message body the bot sent: callback data (types 4 and 7), webhook edits and followups, channel posts. */
export function sentMessages(requests: readonly RecordedRequest[]): Array<{ request: RecordedRequest; message: Json }> {
  const out: Array<{ request: RecordedRequest; message: Json }> = [];
  for (const request of requests) {
    const body = request.body;
    if (
      request.route === CALLBACK_ROUTE &&
      isObject(body) &&
      (body['type'] === 4 || body['type'] === 7) &&
      isObject(body['data'])
    ) {
      out.push({ request, message: body['data'] });
    } else if (request.route && MESSAGE_ROUTES.has(request.route) && isObject(body)) {
      out.push({ request, message: body });
    }
  }
  return out;
}

/** Text Discord would parse for mentions: content and embeds. */
export function mentionableText(message: Json): string {
  return `${typeof message['content'] === 'string' ? message['content'] : ''}\n${JSON.stringify(message['embeds'] ?? [])}`;
}

export const RAW_ERROR =
  /Error:|DiscordAPIError|ZodError|ApiError|ValidationError|node_modules|\bat (?:\S+ \()?(?:file:\/\/|node:|\/)\S*:\d+:\d+/;

/** A value for a failure message, cut short (JSON.stringify(undefined) is undefined). */
export function show(value: unknown, max: number): string {
  return String(JSON.stringify(value)).slice(0, max);
}

export function callbackType(world: World, c: FuzzCase): unknown {
  const callback = world.discord.requests.find((r) => isCallback(c.payload.id)(r) && r.status < 300);
  return isObject(callback?.body) ? callback.body['type'] : undefined;
}

export function describeCase(c: FuzzCase, index: number): string {
  return `#${index} [${c.category}] id=${c.payload.id}`;
}

export function userIdOf(payload: InteractionPayload): string {
  const member = payload['member'];
  const user = isObject(member) ? member['user'] : payload['user'];
  return isObject(user) && typeof user['id'] === 'string' ? user['id'] : '';
}
