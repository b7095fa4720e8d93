/**
 * What a fuzz case is and what it expects, the members in the flood (alice and the attackers), the real
 * messages the cases aim at, and the payload builders that start from the fake's valid envelopes and then
 * break what the case is about.
 */
import { ApplicationCommandOptionType as T } from 'discord.js';
import type { FakeUser, InteractionPayload } from '../../fakes/discord.js';
import type { World } from '../world.js';

// ---------------------------------------------------------------------------------------------------------
// What each case expects

/**
 * Interactions that get no answer, and why that is acceptable. Each was decided by observing discord.js
 * 14.28 and the router, not by guessing.
 */
export const IGNORED = {
  /**
   * discord.js throws while building the interaction object (a TypeError/RangeError in its gateway message
   * handler, which surfaces as an unhandled rejection; src/main.ts logs those and carries on), so the bot never
   * receives it and has nothing to answer with. Discord always sends `data`, `member.user` (guilds) or `user`,
   * `message` on components, `entitlements` and numeric permission strings, so only a broken gateway sends these.
   */
  malformed: 'discord.js cannot build the interaction',
  /** discord.js drops interaction types and command/component sub-types it does not know (a debug line only). */
  unknownType: 'discord.js drops unknown interaction types',
  /**
   * Autocomplete cannot be answered with a message, /imagine declares no autocomplete option (so Discord never
   * sends one), and the router ignores every interaction that is not repliable.
   */
  autocomplete: 'no option offers autocomplete',
} as const;
export type IgnoredClass = keyof typeof IGNORED;

export type Expectation =
  /** One ephemeral CHANNEL_MESSAGE_WITH_SOURCE whose content matches. */
  | { kind: 'reply'; content: RegExp }
  /** One MODAL callback. */
  | { kind: 'modal' }
  /** A real job: one deferred callback, then a final edit with an image. */
  | { kind: 'job' }
  /** A refusal: an ephemeral answer, or a deferred reply then an edit of @original, that matches. */
  | { kind: 'refusal'; content: RegExp }
  | { kind: 'ignored'; why: IgnoredClass }
  /** The id is not a snowflake: Discord refuses every answer, and the bot must just survive it. */
  | { kind: 'unanswerable' };

export interface FuzzCase {
  category: string;
  payload: InteractionPayload;
  expect: Expectation;
}

export const PLAIN = {
  tooLong: /is too long: the most is \d+ characters/,
  tooSmall: /must be at least \d+/,
  tooBig: /must be at most \d+/,
  notAChoice: /does not take that [a-z ]+: it takes /,
  noModel: /^That model is not available on this bot\. Pick one of: /,
  unsupported: /does not take an? [^:]+\. (Choose|Leave) /,
  /** Any of the plain-words sentences parseGenerationInput() writes for a value of the wrong type. */
  wrongType: /has the wrong type|is missing|is not valid|does not take that|must be at (least|most)/,
  empty: /The prompt is (empty|missing)/,
  gone: /no longer/,
  deleteDenied: /Only the member who asked for these images, or someone with Manage Messages/,
  cancelDenied: /Only the member who started this job can cancel it/,
  noChannel: /only works in a server channel/,
  noPermission: /I can't post images in this channel: I'm missing the/,
} as const;
export const exact = (text: string): RegExp => new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
export const reply = (content: RegExp): Expectation => ({ kind: 'reply', content });
export const ignored = (why: IgnoredClass): Expectation => ({ kind: 'ignored', why });

// ---------------------------------------------------------------------------------------------------------
// The members in the flood and the real messages it aims at

export const alice: FakeUser = { id: '200000000000000001', username: 'alice' };
export const attackers: FakeUser[] = Array.from({ length: 8 }, (_, i) => ({
  id: `66600000000000000${i}`,
  username: `mallory${i}`,
  global_name: i % 2 === 0 ? '@everyone' : '**<@&222222222222222222>**',
}));
/** A message id the fake never saw: clicks on it are not checked, which models tampered custom_ids. */
const FABRICATED_MESSAGE = '300000000000000001';

export interface RealMessage {
  generationId: number;
  messageId: string;
  token: string;
}

export interface Targets {
  /** alice's finished results (Same seed, New seed, Edit, Delete). */
  results: RealMessage[];
  /** alice's jobs held in fal's queue (Cancel). */
  held: RealMessage[];
}

export type Json = Record<string, unknown>;
export const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

// ---------------------------------------------------------------------------------------------------------
// Payload builders: start from the fake's builders (valid envelopes), then break what the case is about

export type Option = { name: string; type: number; value?: unknown; options?: unknown };

export function command(
  world: World,
  user: FakeUser,
  name: string,
  options: readonly Option[] | undefined,
): InteractionPayload {
  const payload = world.discord.chatInput({
    name: 'imagine',
    options: [{ name: 'prompt', type: T.String, value: 'x' }],
    user,
  });
  const data: Json = { ...(payload['data'] as Json), name };
  delete data['options'];
  if (options) data['options'] = options;
  return { ...payload, data };
}

export const imagine = (world: World, user: FakeUser, options: readonly Option[]) =>
  command(world, user, 'imagine', options);

export function click(
  world: World,
  user: FakeUser,
  customId: string,
  messageId = FABRICATED_MESSAGE,
): InteractionPayload {
  return world.discord.button({ customId, message: { id: messageId }, user });
}

/**
 * A modal submission with action-row text inputs, built by hand so that missing and oversize fields get
 * through; `{ raw }` puts anything at all in `data.components`.
 */
export function modal(
  world: World,
  user: FakeUser,
  customId: string,
  fields: Record<string, string> | { raw: unknown },
): InteractionPayload {
  const payload = world.discord.modalSubmit({ customId: 'fuzz:never-shown', fields: {}, user });
  const components =
    'raw' in fields
      ? fields.raw
      : Object.entries(fields).map(([id, value], i) => ({
          type: 1,
          id: 2 * i + 1,
          components: [{ type: 4, id: 2 * i + 2, custom_id: id, value }],
        }));
  return { ...payload, data: { custom_id: customId, components } };
}

export function without(payload: InteractionPayload, ...keys: string[]): InteractionPayload {
  const copy: InteractionPayload = { ...payload };
  for (const key of keys) delete copy[key];
  return copy;
}
