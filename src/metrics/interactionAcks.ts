import { RESTEvents, SnowflakeUtil, type REST } from 'discord.js';
import type { BotMetrics } from './botMetrics.js';

/** An interaction's first response; the id is the interaction's snowflake (the token that follows is not kept). */
const CALLBACK_PATH = /^\/interactions\/(\d{17,20})\/[^/]+\/callback$/;

/**
 * Measures every interaction acknowledgement where all of them pass: the REST client's responses to
 * `POST /interactions/{id}/{token}/callback` (discord.js sends defers, replies, modals and updates there). The
 * latency runs from the interaction's creation, read from its id as discord.js's `createdTimestamp` is, to
 * Discord's answer. Only the id is read from the path; the token in it goes nowhere.
 *
 * Attaching a response listener makes discord.js clone each response (`RESTEvents.Response`), so this is only
 * wired when metrics are on.
 */
export function watchInteractionAcks(rest: REST, metrics: BotMetrics, now: () => number = Date.now): void {
  rest.on(RESTEvents.Response, (request, response) => {
    if (request.method.toUpperCase() !== 'POST') return;
    const id = CALLBACK_PATH.exec(request.path)?.[1];
    if (!id) return;
    const body = request.data.body;
    const type = typeof body === 'object' && body !== null && 'type' in body ? body.type : undefined;
    metrics.interactionAcknowledged(Number(SnowflakeUtil.timestampFrom(id)), now(), type, response.status);
  });
}
