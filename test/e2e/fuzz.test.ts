/**
 * Fuzz: more than a thousand malformed or hostile interactions against the real bot (real discord.js Client,
 * real @fal-ai/client, real SQLite) on the loopback fakes. The issue's contract:
 *
 * - the process never exits, and a normal /imagine still works afterwards;
 * - every interaction with a token gets exactly one clear answer, or belongs to a class that is ignored on
 *   purpose (see {@link IGNORED});
 * - nothing unsafe is echoed: no message can ping @everyone, @here, a role or a stranger, no member-written
 *   text can restyle or spoof a message, and no raw error text reaches Discord;
 * - Discord accepts every request the bot makes, and no secret reaches the log.
 *
 * The generator is seeded (mulberry32, seed in the describe name), so a failure reproduces exactly: the
 * failure lists name the category and index of each offending case.
 */
import { ApplicationCommandOptionType as T } from 'discord.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STALE_COMPONENT, UNKNOWN_COMMAND, UNSUPPORTED } from '../../src/discord/router.js';
import type { FakeUser, InteractionPayload, RecordedRequest } from '../fakes/discord.js';
import { MODEL_IDS } from '../../src/models/registry.js';
import { contentOf, customIds, isCallback, isFinalEdit, isOriginalEdit, startWorld, type World } from './world.js';

const SEED = 0x1ce_b00d;
/** Interactions in the flood (the real jobs made before and after it come on top). */
const FLOOD_SIZE = 1100;
/** Interactions dispatched before awaiting their answers: a busy server, not a denial of service. */
const BATCH_SIZE = 50;

// ---------------------------------------------------------------------------------------------------------
// A tiny deterministic PRNG

/** mulberry32 (public domain): 32-bit state, good enough to pick fuzz cases, and reproducible from one seed. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

class Rng {
  readonly #next: () => number;
  constructor(seed: number) {
    this.#next = mulberry32(seed);
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.#next() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.#next() < p;
  }
  pick<V>(values: readonly V[]): V {
    if (values.length === 0) throw new Error('Rng.pick: empty list');
    return values[this.int(0, values.length - 1)] as V;
  }
  shuffle<V>(values: V[]): V[] {
    for (let i = values.length - 1; i > 0; i -= 1) {
      const j = this.int(0, i);
      [values[i], values[j]] = [values[j] as V, values[i] as V];
    }
    return values;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Hostile material

const MENTIONS = [
  '@everyone',
  '@here',
  '<@&222222222222222222>',
  '<@333333333333333333>',
  '<@!333333333333333333>',
  '<#444444444444444444>',
  '@\u200beveryone',
];
const MARKDOWN = [
  '**__~~||',
  '||spoiler||',
  '`',
  '```js\nalert(1)\n```',
  '> quote',
  '# heading',
  '-# subtext',
  '[Claim your prize](https://example.invalid/phish) or [verify](<https://example.invalid/v>)',
  '\\',
  '*_*_*_',
  '~~strike~~',
];
const UNICODE = [
  '\u200b\u200c\u200d\u2060\ufeff',
  '\u202eevil\u202c',
  '\u2066isolate\u2069',
  '\n',
  '\r\n',
  '\t',
  '\u2028',
  '🎨',
  '👩🏽‍🚀',
  '🏳️‍🌈',
  '\ud800',
  '\udfff',
  'Z̴̡̛a̷l̶g̸o',
  'ﷺ',
  '\u0000',
];
const HOSTILE = [...MENTIONS, ...MARKDOWN, ...UNICODE];
const WORDS = ['a fox', 'lighthouse', 'at dusk', 'neon', 'cat', 'in the rain', 'portrait', 'watercolor'];

/** A prompt Imagen would accept (visible words, at most `max` characters) laced with hostile fragments. */
function hostileText(rng: Rng, atoms: readonly string[] = HOSTILE, max = 400): string {
  const parts = [rng.pick(WORDS)];
  const count = rng.int(1, 5);
  for (let i = 0; i < count; i += 1) parts.push(rng.pick(atoms), rng.pick(WORDS));
  return parts.join(rng.pick([' ', '', '\n'])).slice(0, max);
}

/** Exactly `length` characters of hostile text (may end in half a surrogate pair, on purpose). */
function longText(rng: Rng, length: number): string {
  let text = '';
  while (text.length < length) text += `${rng.pick(HOSTILE)} ${rng.pick(WORDS)} `;
  return text.slice(0, length);
}

// ---------------------------------------------------------------------------------------------------------
// What each case expects

/**
 * Interactions that get no answer, and why that is acceptable. Each was decided by observing discord.js
 * 14.28 and the router, not by guessing.
 */
const IGNORED = {
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
type IgnoredClass = keyof typeof IGNORED;

type Expectation =
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

interface FuzzCase {
  category: string;
  payload: InteractionPayload;
  expect: Expectation;
}

const PLAIN = {
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
const exact = (text: string): RegExp => new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
const reply = (content: RegExp): Expectation => ({ kind: 'reply', content });
const ignored = (why: IgnoredClass): Expectation => ({ kind: 'ignored', why });

// ---------------------------------------------------------------------------------------------------------
// The world the flood runs in

const alice: FakeUser = { id: '200000000000000001', username: 'alice' };
const attackers: FakeUser[] = Array.from({ length: 8 }, (_, i) => ({
  id: `66600000000000000${i}`,
  username: `mallory${i}`,
  global_name: i % 2 === 0 ? '@everyone' : '**<@&222222222222222222>**',
}));
/** A message id the fake never saw: clicks on it are not checked, which models tampered custom_ids. */
const FABRICATED_MESSAGE = '300000000000000001';

interface RealMessage {
  generationId: number;
  messageId: string;
  token: string;
}

interface Targets {
  /** alice's finished results (Same seed, New seed, Edit, Delete). */
  results: RealMessage[];
  /** alice's jobs held in fal's queue (Cancel). */
  held: RealMessage[];
}

interface FloodRecord {
  cases: FuzzCase[];
  /** Rejections and exceptions nobody handled while the bot ran, as src/main.ts would log them. */
  unhandled: Array<{ event: string; error: unknown }>;
  floodMs: number;
  sanity: { files: number; content: string };
  heldFinals: string[];
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

function generationIdOf(body: unknown, action: string): number {
  const id = customIds(body).find((c) => c.includes(`:${action}:`));
  if (!id) throw new Error(`no ${action} button`);
  return Number(id.split(':')[2]);
}

function messageOf(world: World, token: string) {
  const message = [...world.discord.messages.values()].find((m) => m.interactionToken === token);
  if (!message) throw new Error('no message for that interaction');
  return message;
}

async function finishedResult(world: World, prompt: string): Promise<RealMessage> {
  const interaction = world.discord.chatInput({ name: 'imagine', options: [{ name: 'prompt', type: T.String, value: prompt }], user: alice });
  world.discord.dispatchInteraction(interaction);
  const final = await world.discord.waitForRequest(isFinalEdit(interaction.token));
  return { generationId: generationIdOf(final.body, 'delete'), messageId: messageOf(world, interaction.token).id, token: interaction.token };
}

async function heldJob(world: World, prompt: string): Promise<RealMessage> {
  world.fal.enqueuePlan({ queuePositions: [1], hold: true });
  const interaction = world.discord.chatInput({ name: 'imagine', options: [{ name: 'prompt', type: T.String, value: prompt }], user: alice });
  world.discord.dispatchInteraction(interaction);
  const progress = await world.discord.waitForRequest(
    (r) => isOriginalEdit(interaction.token)(r) && customIds(r.body).some((id) => id.includes(':cancel:')),
  );
  return { generationId: generationIdOf(progress.body, 'cancel'), messageId: messageOf(world, interaction.token).id, token: interaction.token };
}

// ---------------------------------------------------------------------------------------------------------
// Payload builders: start from the fake's builders (valid envelopes), then break what the case is about

type Option = { name: string; type: number; value?: unknown; options?: unknown };

function command(world: World, user: FakeUser, name: string, options: readonly Option[] | undefined): InteractionPayload {
  const payload = world.discord.chatInput({ name: 'imagine', options: [{ name: 'prompt', type: T.String, value: 'x' }], user });
  const data: Json = { ...(payload['data'] as Json), name };
  delete data['options'];
  if (options) data['options'] = options;
  return { ...payload, data };
}

const imagine = (world: World, user: FakeUser, options: readonly Option[]) => command(world, user, 'imagine', options);

function click(world: World, user: FakeUser, customId: string, messageId = FABRICATED_MESSAGE): InteractionPayload {
  return world.discord.button({ customId, message: { id: messageId }, user });
}

/**
 * A modal submission with action-row text inputs, built by hand so that missing and oversize fields get
 * through; `{ raw }` puts anything at all in `data.components`.
 */
function modal(
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

function without(payload: InteractionPayload, ...keys: string[]): InteractionPayload {
  const copy: InteractionPayload = { ...payload };
  for (const key of keys) delete copy[key];
  return copy;
}

// ---------------------------------------------------------------------------------------------------------
// The generator

interface Generator {
  category: string;
  weight: number;
  make(rng: Rng, world: World, targets: Targets): Omit<FuzzCase, 'category'>;
}

const aspect = (rng: Rng) => rng.pick(['1:1', '16:9', '9:16', '3:4', '4:3']);
const prompt = (rng: Rng): Option => ({ name: 'prompt', type: T.String, value: hostileText(rng) });

const GENERATORS: Generator[] = [
  {
    category: 'imagine: oversize prompt or negative prompt (up to 6,000 chars)',
    weight: 8,
    make(rng, world) {
      const length = rng.chance(0.4) ? 6000 : rng.int(2001, 6000);
      const options: Option[] = rng.chance(0.7)
        ? [{ name: 'prompt', type: T.String, value: `${rng.pick(WORDS)} ${longText(rng, length)}` }]
        : [prompt(rng), { name: 'negative_prompt', type: T.String, value: `x ${longText(rng, rng.int(1001, 6000))}` }];
      return { payload: imagine(world, rng.pick(attackers), options), expect: reply(PLAIN.tooLong) };
    },
  },
  {
    category: 'imagine: out-of-range numbers and unknown choices',
    weight: 14,
    make(rng, world) {
      const bad: Array<[Option[], RegExp]> = [
        [[{ name: 'num_images', type: T.Integer, value: 0 }], PLAIN.tooSmall],
        [[{ name: 'num_images', type: T.Integer, value: -5 }], PLAIN.tooSmall],
        [[{ name: 'num_images', type: T.Integer, value: 99 }], PLAIN.tooBig],
        [[{ name: 'seed', type: T.Integer, value: -1 }], PLAIN.tooSmall],
        [[{ name: 'seed', type: T.Integer, value: 2_147_483_648 }], PLAIN.tooBig],
        [[{ name: 'aspect_ratio', type: T.String, value: '21:9' }], PLAIN.notAChoice],
        [[{ name: 'aspect_ratio', type: T.String, value: '1:1 ' }], PLAIN.notAChoice],
        [[{ name: 'aspect_ratio', type: T.String, value: '@everyone' }], PLAIN.notAChoice],
        [[{ name: 'resolution', type: T.String, value: '8K' }], PLAIN.notAChoice],
        [[{ name: 'resolution', type: T.String, value: '<@&222222222222222222>' }], PLAIN.notAChoice],
        [[{ name: 'model', type: T.String, value: 'dall-e' }], PLAIN.noModel],
        [[{ name: 'model', type: T.String, value: '@everyone' }], PLAIN.noModel],
        [[{ name: 'model', type: T.String, value: '' }], PLAIN.noModel],
        [[{ name: 'model', type: T.String, value: 'imagen4-fast' }, { name: 'resolution', type: T.String, value: '2K' }], PLAIN.unsupported],
      ];
      const [options, content] = rng.pick(bad);
      return { payload: imagine(world, rng.pick(attackers), rng.shuffle([prompt(rng), ...options])), expect: reply(content) };
    },
  },
  {
    category: 'imagine: wrong option types',
    weight: 10,
    make(rng, world) {
      const bad: Option[][] = [
        [prompt(rng), { name: 'num_images', type: T.String, value: '4' }],
        [prompt(rng), { name: 'num_images', type: T.Integer, value: 2.5 }],
        [prompt(rng), { name: 'num_images', type: T.Number, value: 1.5 }],
        [prompt(rng), { name: 'num_images', type: T.Boolean, value: true }],
        [prompt(rng), { name: 'seed', type: T.String, value: '42' }],
        [prompt(rng), { name: 'seed', type: T.Integer, value: 1e300 }],
        [prompt(rng), { name: 'aspect_ratio', type: T.Integer, value: 1 }],
        [{ name: 'prompt', type: T.Integer, value: 5 }],
        [{ name: 'prompt', type: T.Boolean, value: true }],
        [{ name: 'prompt', type: T.String, value: ['@everyone'] }],
        [{ name: 'prompt', type: T.String, value: { toString: '@everyone' } }],
      ];
      return { payload: imagine(world, rng.pick(attackers), rng.pick(bad)), expect: reply(PLAIN.wrongType) };
    },
  },
  {
    // Discord itself never sends a mistyped option; the bot treats it as an unknown model and says so.
    category: 'imagine: non-string model option',
    weight: 2,
    make(rng, world) {
      const model = rng.pick<Option>([
        { name: 'model', type: T.Integer, value: 5 },
        { name: 'model', type: T.Boolean, value: false },
      ]);
      return { payload: imagine(world, rng.pick(attackers), [prompt(rng), model]), expect: reply(PLAIN.noModel) };
    },
  },
  {
    category: 'imagine: unknown or hostile option names',
    weight: 5,
    make(rng, world) {
      const name = rng.pick(['steps', 'guidance_scale', 'sync_mode', '@everyone', '<@&222222222222222222>', '**bold**', 'constructor', 'x'.repeat(100)]);
      return { payload: imagine(world, rng.pick(attackers), [prompt(rng), { name, type: T.String, value: 'y' }]), expect: reply(PLAIN.unsupported) };
    },
  },
  {
    category: 'imagine: empty or missing prompt',
    weight: 5,
    make(rng, world) {
      const options = rng.pick<Option[] | undefined>([
        [{ name: 'prompt', type: T.String, value: '' }],
        [{ name: 'prompt', type: T.String, value: '   ' }],
        [{ name: 'prompt', type: T.String, value: '\n\t\r\n' }],
        [{ name: 'prompt', type: T.String, value: '\u00a0\u3000' }],
        [{ name: 'prompt', type: T.String, value: null }],
        [{ name: 'prompt', type: T.String }],
        [{ name: 'aspect_ratio', type: T.String, value: '1:1' }],
        [],
        undefined,
      ]);
      return { payload: imagine(world, rng.pick(attackers), options ?? []), expect: reply(PLAIN.empty) };
    },
  },
  {
    category: 'unknown command names',
    weight: 10,
    make(rng, world) {
      const name = rng.pick([
        'imagine2',
        'Imagine',
        'IMAGINE',
        'imagine ',
        'imagine\u200b',
        '',
        '@everyone',
        '<@&222222222222222222>',
        '../../admin',
        'a'.repeat(200),
        '🎨',
        'DROP TABLE generations',
        '\ud800',
        'dall-e',
      ]);
      const options = rng.chance(0.5) ? [prompt(rng)] : undefined;
      return { payload: command(world, rng.pick(attackers), name, options), expect: reply(exact(UNKNOWN_COMMAND)) };
    },
  },
  {
    category: 'buttons with unknown or tampered custom_ids',
    weight: 18,
    make(rng, world, targets) {
      const real = rng.pick(targets.results).generationId;
      const customId = rng.pick([
        'imagine:same:999999',
        'imagine:new:999999',
        'imagine:edit:999999',
        'imagine:delete:999999',
        'imagine:delete:1;DROP TABLE generations',
        'imagine:same:-1',
        'imagine:cancel:0',
        'imagine:same:1e3',
        'imagine:SAME:1',
        'imagine:same:01',
        'imagine:same:99999999999999999',
        `imagine:edit-submit:${real}`,
        'imagine::',
        ':::',
        '',
        'imagine:same:1:extra',
        'other:same:1',
        '🎨:same:1',
        'imagine:same:１',
        'x'.repeat(200),
        `imagine:same:${'9'.repeat(200)}`,
        'imagine:explode:1',
        'imagine:same:1 OR 1=1',
        'imagine:same:\u0000',
        'imagine:same:\ud800',
        '@everyone',
        '<@&222222222222222222>',
        `imagine:delete:${hostileText(rng, MENTIONS, 60)}`,
      ]);
      return { payload: click(world, rng.pick(attackers), customId), expect: reply(PLAIN.gone) };
    },
  },
  {
    // custom_id must be a string; discord.js passes a number or nothing through, decodeCustomId() throws on it
    // and the router answers generically (Discord never sends such a custom_id).
    category: 'buttons whose custom_id is not a string',
    weight: 2,
    make(rng, world) {
      const payload = click(world, rng.pick(attackers), 'x');
      const data = rng.chance(0.5) ? { custom_id: 12345, component_type: 2 } : { component_type: 2 };
      return { payload: { ...payload, data }, expect: reply(exact(STALE_COMPONENT)) };
    },
  },
  {
    category: "other members click Delete on a real result",
    weight: 6,
    make(rng, world, targets) {
      const target = rng.pick(targets.results);
      return { payload: click(world, rng.pick(attackers), `imagine:delete:${target.generationId}`, target.messageId), expect: reply(PLAIN.deleteDenied) };
    },
  },
  {
    category: "other members click Cancel on a running job",
    weight: 6,
    make(rng, world, targets) {
      const target = rng.pick(targets.held);
      return { payload: click(world, rng.pick(attackers), `imagine:cancel:${target.generationId}`, target.messageId), expect: reply(PLAIN.cancelDenied) };
    },
  },
  {
    category: 'tampered Delete/Cancel custom_ids that name real generations',
    weight: 5,
    make(rng, world, targets) {
      const choice = rng.int(0, 2);
      if (choice === 0) {
        return { payload: click(world, rng.pick(attackers), `imagine:delete:${rng.pick(targets.results).generationId}`), expect: reply(PLAIN.deleteDenied) };
      }
      const target = choice === 1 ? rng.pick(targets.results) : rng.pick(targets.held);
      return { payload: click(world, rng.pick(attackers), `imagine:cancel:${target.generationId}`), expect: reply(PLAIN.cancelDenied) };
    },
  },
  {
    category: 'other members click Edit on a real result',
    weight: 2,
    make(rng, world, targets) {
      const target = rng.pick(targets.results);
      return { payload: click(world, rng.pick(attackers), `imagine:edit:${target.generationId}`, target.messageId), expect: { kind: 'modal' } };
    },
  },
  {
    category: 'modal submits with missing, oversize or empty fields',
    weight: 8,
    make(rng, world, targets) {
      const id = rng.pick(targets.results).generationId;
      const user = rng.pick(attackers);
      const cases: Array<[string, Record<string, string>, RegExp]> = [
        [`imagine:edit-submit:${id}`, { prompt: `a ${longText(rng, 6000)}`, negative_prompt: '' }, PLAIN.tooLong],
        [`imagine:edit-submit:${id}`, { prompt: hostileText(rng), negative_prompt: longText(rng, rng.int(1001, 4000)) }, PLAIN.tooLong],
        [`imagine:edit-submit:${id}`, { prompt: '', negative_prompt: '' }, PLAIN.empty],
        [`imagine:edit-submit:${id}`, { prompt: ' \n ', negative_prompt: hostileText(rng) }, PLAIN.empty],
        ['imagine:edit-submit:999999', { prompt: hostileText(rng), negative_prompt: '' }, PLAIN.gone],
        [`imagine:same:${id}`, { prompt: hostileText(rng), negative_prompt: '' }, PLAIN.gone],
        [`imagine:edit-submit:${id};--`, { prompt: hostileText(rng), negative_prompt: '' }, PLAIN.gone],
        [hostileText(rng, MENTIONS, 90), { prompt: 'x', negative_prompt: '' }, PLAIN.gone],
      ];
      const [customId, fields, content] = rng.pick(cases);
      return { payload: modal(world, user, customId, fields), expect: reply(content) };
    },
  },
  {
    // A submission without the text inputs the modal had (Discord always returns every text input of the modal it
    // showed): a missing field reads as empty, so the member is told the prompt is empty.
    category: 'modal submits without the modal’s text inputs',
    weight: 2,
    make(rng, world, targets) {
      const id = rng.pick(targets.results).generationId;
      const fields = rng.pick<Record<string, string> | { raw: unknown }>([
        {},
        { negative_prompt: 'snow' },
        { raw: [] },
        { raw: [{ type: 1, components: [] }] },
      ]);
      return { payload: modal(world, rng.pick(attackers), `imagine:edit-submit:${id}`, fields), expect: reply(/^The prompt is empty/) };
    },
  },
  {
    category: 'missing member and user',
    weight: 4,
    make(rng, world) {
      const base = rng.pick([
        () => imagine(world, alice, [prompt(rng)]),
        () => click(world, alice, 'imagine:same:999999'),
        () => modal(world, alice, 'imagine:edit-submit:999999', { prompt: 'x', negative_prompt: '' }),
      ])();
      const payload = rng.pick([
        () => without(base, 'member', 'user'),
        () => ({ ...without(base, 'user'), member: null }),
        () => ({ ...without(base, 'user'), member: { roles: [], permissions: '0' } }),
      ])();
      return { payload, expect: ignored('malformed') };
    },
  },
  {
    category: 'missing or non-object data',
    weight: 4,
    make(rng, world) {
      const choice = rng.int(0, 4);
      if (choice === 0) return { payload: without(imagine(world, alice, [prompt(rng)]), 'data'), expect: ignored('malformed') };
      if (choice === 1) return { payload: without(click(world, alice, 'imagine:same:999999'), 'data'), expect: ignored('malformed') };
      if (choice === 2) return { payload: without(modal(world, alice, 'imagine:edit-submit:1', {}), 'data'), expect: ignored('malformed') };
      // A command whose data has no `type`: discord.js drops it as an unknown command type.
      const data = rng.pick<unknown>([[], 'imagine', 42, {}]);
      return { payload: { ...imagine(world, alice, [prompt(rng)]), data }, expect: ignored('unknownType') };
    },
  },
  {
    category: 'other malformed envelopes',
    weight: 4,
    make(rng, world) {
      const payload = rng.pick([
        () => without(click(world, alice, 'imagine:same:999999'), 'message'),
        () => without(imagine(world, alice, [prompt(rng)]), 'entitlements'),
        () => ({ ...imagine(world, alice, [prompt(rng)]), app_permissions: 'lots' }),
        () => {
          const p = click(world, alice, 'imagine:delete:999999');
          return { ...p, member: { ...(p['member'] as Json), permissions: 'zzz' } };
        },
        () => {
          const p = imagine(world, alice, []);
          return { ...p, data: { ...(p['data'] as Json), options: 'prompt=x' } };
        },
        () => {
          const p = imagine(world, alice, []);
          return { ...p, data: { ...(p['data'] as Json), options: [null] } };
        },
        () => modal(world, alice, 'imagine:edit-submit:1', { raw: rng.pick(['not components', 42, { type: 1 }]) }),
        () => modal(world, alice, 'imagine:edit-submit:1', { raw: [null] }),
      ])();
      return { payload, expect: ignored('malformed') };
    },
  },
  {
    category: 'unknown interaction types and sub-types',
    weight: 4,
    make(rng, world) {
      const choice = rng.int(0, 2);
      if (choice === 0) {
        const type = rng.pick<unknown>([0, 1, 6, 7, 99, -1, 2.5, '2', null]);
        return { payload: { ...imagine(world, alice, [prompt(rng)]), type }, expect: ignored('unknownType') };
      }
      if (choice === 1) {
        const p = imagine(world, alice, [prompt(rng)]);
        return { payload: { ...p, data: { ...(p['data'] as Json), type: rng.pick([0, 5, 99]) } }, expect: ignored('unknownType') };
      }
      const p = click(world, alice, 'imagine:same:999999');
      return { payload: { ...p, data: { custom_id: 'imagine:same:999999', component_type: rng.pick([0, 1, 4, 99]) } }, expect: ignored('unknownType') };
    },
  },
  {
    category: 'autocomplete (type 4)',
    weight: 2,
    make(rng, world) {
      const p = imagine(world, alice, [{ ...prompt(rng), focused: true } as Option]);
      return { payload: { ...p, type: 4 }, expect: ignored('autocomplete') };
    },
  },
  {
    category: 'context menus and select menus the bot does not offer',
    weight: 3,
    make(rng, world) {
      const choice = rng.int(0, 2);
      if (choice === 0) {
        const p = imagine(world, alice, []);
        return { payload: { ...p, data: { ...(p['data'] as Json), type: 2, target_id: alice.id, resolved: { users: {} } } }, expect: reply(exact(UNSUPPORTED)) };
      }
      if (choice === 1) {
        const p = imagine(world, alice, []);
        return { payload: { ...p, data: { ...(p['data'] as Json), type: 3, target_id: '1', resolved: { messages: {} } } }, expect: reply(exact(UNSUPPORTED)) };
      }
      const p = click(world, alice, 'imagine:same:999999');
      return { payload: { ...p, data: { custom_id: 'imagine:same:999999', component_type: 3, values: ['@everyone'] } }, expect: reply(exact(UNSUPPORTED)) };
    },
  },
  {
    category: 'guild interactions with a user but no member',
    weight: 2,
    make(rng, world) {
      const p = imagine(world, rng.pick(attackers), [prompt(rng), { name: 'num_images', type: T.Integer, value: 0 }]);
      const member = p['member'] as Json;
      return { payload: { ...without(p, 'member'), user: member['user'] }, expect: reply(PLAIN.tooSmall) };
    },
  },
  {
    category: 'missing channel or app permissions',
    weight: 3,
    make(rng, world) {
      const p = imagine(world, rng.pick(attackers), [prompt(rng)]);
      const choice = rng.int(0, 2);
      if (choice === 0) return { payload: without(p, 'channel', 'channel_id'), expect: { kind: 'refusal', content: PLAIN.noChannel } };
      if (choice === 1) return { payload: { ...p, app_permissions: '0' }, expect: reply(PLAIN.noPermission) };
      return { payload: without(p, 'app_permissions'), expect: reply(PLAIN.noPermission) };
    },
  },
  {
    category: 'interaction ids that are not snowflakes',
    weight: 1,
    make(rng, world) {
      const p = imagine(world, rng.pick(attackers), [prompt(rng), { name: 'num_images', type: T.Integer, value: 0 }]);
      return { payload: { ...p, id: `${rng.pick(['abc', '-1', '1e9', '💥', '0x10'])}-${rng.int(0, 1e9)}` }, expect: { kind: 'unanswerable' } };
    },
  },
];

/** The few cases that reach fal: hostile text that is still a valid request, so it must come back escaped. */
function jobCases(rng: Rng, world: World, targets: Targets): FuzzCase[] {
  const cases: FuzzCase[] = [];
  const groups = 10;
  for (let g = 0; g < groups; g += 1) {
    const atoms = HOSTILE.filter((_, i) => i % groups === g);
    const value = `fuzz ${g}: ${rng.pick(WORDS)} ${atoms.join(` ${rng.pick(WORDS)} `)} ${rng.pick(WORDS)}`;
    const model = rng.pick(['nano-banana-2', 'nano-banana-pro', 'imagen4', 'imagen4-fast', 'imagen4-ultra']);
    const options: Option[] = [
      { name: 'prompt', type: T.String, value },
      { name: 'aspect_ratio', type: T.String, value: aspect(rng) },
      { name: 'model', type: T.String, value: model },
    ];
    if (g % 3 === 0 && model.startsWith('imagen4')) {
      options.push({ name: 'negative_prompt', type: T.String, value: hostileText(rng, MENTIONS, 200) });
    }
    if (model !== 'imagen4-fast' && rng.chance(0.5)) options.push({ name: 'resolution', type: T.String, value: '1K' });
    cases.push({ category: 'imagine: hostile but valid prompt (reaches fal)', payload: imagine(world, rng.pick(attackers), options), expect: { kind: 'job' } });
  }
  for (let i = 0; i < 2; i += 1) {
    const target = rng.pick(targets.results);
    cases.push({
      category: 'other members click Same seed on a real result (reaches fal)',
      payload: click(world, rng.pick(attackers), `imagine:same:${target.generationId}`, target.messageId),
      expect: { kind: 'job' },
    });
  }
  cases.push({
    category: 'modal submit with a hostile prompt (reaches fal)',
    payload: modal(world, rng.pick(attackers), `imagine:edit-submit:${rng.pick(targets.results).generationId}`, {
      prompt: hostileText(rng, [...MENTIONS, ...MARKDOWN]),
      negative_prompt: hostileText(rng, MENTIONS, 100),
    }),
    expect: { kind: 'job' },
  });
  return cases;
}

function generate(rng: Rng, world: World, targets: Targets): FuzzCase[] {
  const jobs = jobCases(rng, world, targets);
  const total = GENERATORS.reduce((sum, g) => sum + g.weight, 0);
  const cases: FuzzCase[] = [...jobs];
  while (cases.length < FLOOD_SIZE) {
    let roll = rng.int(1, total);
    const generator = GENERATORS.find((g) => (roll -= g.weight) <= 0) ?? GENERATORS[0];
    if (!generator) throw new Error('no generators');
    cases.push({ category: generator.category, ...generator.make(rng, world, targets) });
  }
  return rng.shuffle(cases);
}

// ---------------------------------------------------------------------------------------------------------
// Reading what the bot sent

const CALLBACK_ROUTE = 'POST /interactions/{interaction_id}/{token}/callback';
const MESSAGE_ROUTES = new Set([
  'POST /webhooks/{application_id}/{token}',
  'PATCH /webhooks/{application_id}/{token}/messages/{message_id}',
  'POST /channels/{channel_id}/messages',
  'PATCH /channels/{channel_id}/messages/{message_id}',
]);

/** Every message body the bot sent: callback data (types 4 and 7), webhook edits and followups, channel posts. */
function sentMessages(requests: readonly RecordedRequest[]): Array<{ request: RecordedRequest; message: Json }> {
  const out: Array<{ request: RecordedRequest; message: Json }> = [];
  for (const request of requests) {
    const body = request.body;
    if (request.route === CALLBACK_ROUTE && isObject(body) && (body['type'] === 4 || body['type'] === 7) && isObject(body['data'])) {
      out.push({ request, message: body['data'] });
    } else if (request.route && MESSAGE_ROUTES.has(request.route) && isObject(body)) {
      out.push({ request, message: body });
    }
  }
  return out;
}

/** Text Discord would parse for mentions: content and embeds. */
function mentionableText(message: Json): string {
  return `${typeof message['content'] === 'string' ? message['content'] : ''}\n${JSON.stringify(message['embeds'] ?? [])}`;
}

const RAW_ERROR = /Error:|DiscordAPIError|ZodError|ApiError|ValidationError|node_modules|\bat (?:\S+ \()?(?:file:\/\/|node:|\/)\S*:\d+:\d+/;

/** A value for a failure message, cut short (JSON.stringify(undefined) is undefined). */
function show(value: unknown, max: number): string {
  return String(JSON.stringify(value)).slice(0, max);
}

function callbackType(world: World, c: FuzzCase): unknown {
  const callback = world.discord.requests.find((r) => isCallback(c.payload.id)(r) && r.status < 300);
  return isObject(callback?.body) ? callback.body['type'] : undefined;
}

function describeCase(c: FuzzCase, index: number): string {
  return `#${index} [${c.category}] id=${c.payload.id}`;
}

// ---------------------------------------------------------------------------------------------------------

describe(`fuzz: ${FLOOD_SIZE} malformed or hostile interactions (seed 0x${SEED.toString(16)})`, () => {
  let world: World;
  let record: FloodRecord;
  const unhandled: FloodRecord['unhandled'] = [];
  // src/main.ts installs these in production (log and carry on). Registering them here also tells vitest the
  // test handles them; the assertions below then accept only the rejections explained by IGNORED.malformed.
  const onRejection = (error: unknown) => unhandled.push({ event: 'unhandledRejection', error });
  const onException = (error: unknown) => unhandled.push({ event: 'uncaughtException', error });

  beforeAll(async () => {
    process.on('unhandledRejection', onRejection);
    process.on('uncaughtException', onException);
    // Imagen 4 as the default and every model offered: its narrower options (five aspect ratios, negative prompt)
    // give the most ways to be wrong, and the valid jobs spread over all five endpoints.
    world = await startWorld({ IMAGEN_MODEL: 'imagen4', IMAGEN_MODELS: MODEL_IDS.join(',') });
    const targets: Targets = {
      results: [
        await finishedResult(world, 'a lighthouse at dusk'),
        await finishedResult(world, 'a fox in the snow'),
        await finishedResult(world, 'a neon city'),
      ],
      held: [await heldJob(world, 'a slow cat'), await heldJob(world, 'a slow dog')],
    };
    const cases = generate(new Rng(SEED), world, targets);

    const started = Date.now();
    for (let i = 0; i < cases.length; i += BATCH_SIZE) {
      const batch = cases.slice(i, i + BATCH_SIZE);
      for (const c of batch) world.discord.dispatchInteraction(c.payload);
      await Promise.allSettled(
        batch
          .filter((c) => c.expect.kind !== 'ignored' && c.expect.kind !== 'unanswerable')
          // Discord waits 3 s for the first answer (the fake enforces it); waiting longer is pointless.
          .map((c) => world.discord.waitForRequest(isCallback(c.payload.id), 3_500)),
      );
    }
    const jobs = cases.filter((c) => c.expect.kind === 'job');
    await Promise.allSettled(jobs.map((c) => world.discord.waitForRequest(isFinalEdit(c.payload.token), 20_000)));
    const deferred = cases.filter((c) => c.expect.kind === 'refusal' && callbackType(world, c) === 5);
    await Promise.allSettled(deferred.map((c) => world.discord.waitForRequest(isOriginalEdit(c.payload.token), 5_000)));
    // Late or stray answers to ignored interactions would arrive now.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const floodMs = Date.now() - started;

    // The bot is still alive: a normal /imagine completes, and alice can still cancel her own jobs.
    const sanity = world.discord.chatInput({ name: 'imagine', options: [{ name: 'prompt', type: T.String, value: 'a calm lake' }], user: alice });
    world.discord.dispatchInteraction(sanity);
    const sanityFinal = await world.discord.waitForRequest(isFinalEdit(sanity.token));
    const heldFinals: string[] = [];
    for (const job of targets.held) {
      world.discord.dispatchInteraction(click(world, alice, `imagine:cancel:${job.generationId}`, job.messageId));
      heldFinals.push(contentOf((await world.discord.waitForRequest(isFinalEdit(job.token))).body));
    }

    record = {
      cases,
      unhandled,
      floodMs,
      sanity: { files: sanityFinal.files.length, content: contentOf(sanityFinal.body) },
      heldFinals,
    };
    const counts = new Map<string, number>();
    for (const c of cases) counts.set(c.category, (counts.get(c.category) ?? 0) + 1);
    console.info(
      `fuzz seed 0x${SEED.toString(16)}: ${cases.length} interactions in ${floodMs} ms\n` +
        [...counts].map(([category, n]) => `  ${String(n).padStart(4)}  ${category}`).join('\n'),
    );
  }, 120_000);

  afterAll(async () => {
    await world?.close();
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  });

  it('sends at least 1,000 interactions, at most 20 of which reach fal', () => {
    expect(record.cases.length).toBeGreaterThanOrEqual(1000);
    expect(new Set(record.cases.map((c) => c.payload.id)).size).toBe(record.cases.length);
    expect(world.fal.submissions.length).toBeLessThanOrEqual(20);
    // Everything that was refused was refused before fal: the only submissions are the planned jobs.
    const planned = record.cases.filter((c) => c.expect.kind === 'job').length + 3 + 2 + 1;
    expect(world.fal.submissions).toHaveLength(planned);
  });

  it('keeps running: no crash, a normal /imagine still completes, and jobs can still be cancelled', () => {
    expect(world.bot.client.isReady()).toBe(true);
    expect(record.sanity.files).toBe(1);
    expect(record.sanity.content).toContain('a calm lake');
    for (const content of record.heldFinals) expect(content).toContain(`Cancelled by <@${alice.id}>`);
    expect(world.logs.filter((line) => /unhandled|uncaught/i.test(line))).toEqual([]);
  });

  it('has no unhandled rejection or exception except discord.js refusing malformed payloads', () => {
    const fromDiscordJs = (error: unknown) =>
      error instanceof Error && /discord\.js[\\/]src[\\/]client[\\/]actions[\\/]InteractionCreate\.js/.test(error.stack ?? '');
    const unexpected = record.unhandled.filter((u) => u.event !== 'unhandledRejection' || !fromDiscordJs(u.error));
    expect(unexpected.map((u) => `${u.event}: ${u.error instanceof Error ? (u.error.stack ?? u.error.message) : String(u.error)}`)).toEqual([]);
    const malformed = record.cases.filter((c) => c.expect.kind === 'ignored' && c.expect.why === 'malformed').length;
    expect(record.unhandled).toHaveLength(malformed);
  });

  it('answers every interaction exactly once, or ignores it on purpose', () => {
    const callbacks = new Map<string, RecordedRequest[]>();
    for (const r of world.discord.requests) {
      if (r.route !== CALLBACK_ROUTE) continue;
      const id = r.path.split('/')[2] ?? '';
      callbacks.set(id, [...(callbacks.get(id) ?? []), r]);
    }
    const finalEdits = new Map<string, RecordedRequest>();
    for (const r of world.discord.requests) {
      const token = r.path.split('/')[3] ?? '';
      if (r.method === 'PATCH' && r.path.endsWith('/messages/@original') && r.status < 300) finalEdits.set(token, r);
    }
    const problems: string[] = [];
    record.cases.forEach((c, index) => {
      const mine = callbacks.get(c.payload.id) ?? [];
      const ok = mine.filter((r) => r.status < 300);
      const where = describeCase(c, index);
      const body = ok[0]?.body as { type?: number; data?: { flags?: number; content?: string } } | undefined;
      switch (c.expect.kind) {
        case 'ignored':
          if (mine.length > 0) problems.push(`${where}: expected to be ignored (${IGNORED[c.expect.why]}), got ${mine.length} callback(s)`);
          return;
        case 'unanswerable':
          if (ok.length > 0) problems.push(`${where}: Discord accepted an answer to a non-snowflake id`);
          return;
        default:
          if (mine.length !== 1 || ok.length !== 1) {
            problems.push(`${where}: expected one callback, got ${mine.length} (${mine.map((r) => r.status).join(', ')})`);
            return;
          }
      }
      switch (c.expect.kind) {
        case 'reply':
          if (body?.type !== 4 || ((body.data?.flags ?? 0) & 64) === 0 || !c.expect.content.test(body.data?.content ?? '')) {
            problems.push(`${where}: expected an ephemeral answer matching ${c.expect.content}, got ${show(body, 300)}`);
          }
          return;
        case 'modal':
          if (body?.type !== 9) problems.push(`${where}: expected a modal, got ${show(body, 200)}`);
          return;
        case 'job': {
          const final = finalEdits.get(c.payload.token);
          if (body?.type !== 5) problems.push(`${where}: expected a deferred reply, got ${show(body, 200)}`);
          else if (!final || final.files.length !== 1) problems.push(`${where}: no final edit with an image (${contentOf(final?.body).slice(0, 200)})`);
          return;
        }
        case 'refusal': {
          const ephemeral = body?.type === 4 && ((body.data?.flags ?? 0) & 64) !== 0 && c.expect.content.test(body.data?.content ?? '');
          const edited = body?.type === 5 && c.expect.content.test(contentOf(finalEdits.get(c.payload.token)?.body));
          if (!ephemeral && !edited) {
            problems.push(`${where}: expected a refusal matching ${c.expect.content}, got ${show(body, 200)} ${show(finalEdits.get(c.payload.token)?.body, 200)}`);
          }
          return;
        }
      }
    });
    expect(problems.slice(0, 25), `${problems.length} problem(s)`).toEqual([]);
    // No interaction was answered twice (Discord: 40060 Interaction has already been acknowledged).
    const twice = world.discord.requests.filter((r) => isObject(r.response) && r.response['code'] === 40060);
    expect(twice.map((r) => r.path)).toEqual([]);
  });

  it('never lets a message ping anyone but, at most, the requester', () => {
    const requesters = new Set([alice.id, ...record.cases.filter((c) => c.expect.kind === 'job').map((c) => userIdOf(c.payload))]);
    const problems: string[] = [];
    for (const { request, message } of sentMessages(world.discord.requests)) {
      const allowed = message['allowed_mentions'];
      const where = `${request.method} ${request.route ?? request.path}`;
      const parse = isObject(allowed) && Array.isArray(allowed['parse']) ? (allowed['parse'] as unknown[]) : [];
      if (parse.some((p) => p === 'everyone' || p === 'roles' || p === 'users')) problems.push(`${where}: allowed_mentions.parse ${JSON.stringify(parse)}`);
      if (!/@everyone|@here|<@/.test(mentionableText(message))) continue;
      if (!isObject(allowed)) {
        problems.push(`${where}: mentions without allowed_mentions: ${contentOf(message).slice(0, 200)}`);
        continue;
      }
      const roles = Array.isArray(allowed['roles']) ? allowed['roles'] : [];
      const users = Array.isArray(allowed['users']) ? allowed['users'] : [];
      if (parse.length > 0 || roles.length > 0 || users.some((u) => typeof u !== 'string' || !requesters.has(u))) {
        problems.push(`${where}: allowed_mentions ${JSON.stringify(allowed)}`);
      }
    }
    expect(problems.slice(0, 25), `${problems.length} problem(s)`).toEqual([]);
  });

  it('shows member-written text escaped: one line, no live formatting, no masked links', () => {
    const problems: string[] = [];
    for (const c of record.cases.filter((x) => x.expect.kind === 'job')) {
      const final = world.discord.requests.find(isFinalEdit(c.payload.token));
      const lines = contentOf(final?.body).split('\n');
      const promptLine = lines[0] ?? '';
      const inner = promptLine.replace(/^\*\*/, '').replace(/\*\*$/, '');
      const next = lines[1] ?? '';
      if (!/^\*\*.*\*\*$/.test(promptLine) || !/^(-# Without: |Seed `)/.test(next)) {
        problems.push(`${c.category}: the prompt broke out of its line: ${JSON.stringify(lines.slice(0, 3))}`);
      }
      if (/(?<!\\)(\*\*|__|~~|\|\||`)/.test(inner)) problems.push(`${c.category}: live formatting in ${JSON.stringify(inner)}`);
      if (/(?<!\\)\[[^\]\n]*\]\(<?https?:\/\//.test(contentOf(final?.body))) {
        problems.push(`${c.category}: a masked link from the prompt is live: ${JSON.stringify(promptLine.slice(0, 200))}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('never shows raw error text', () => {
    const leaks = sentMessages(world.discord.requests)
      .map(({ request, message }) => ({ where: `${request.method} ${request.route ?? ''}`, text: mentionableText(message) }))
      .filter(({ text }) => RAW_ERROR.test(text));
    expect(leaks.slice(0, 10)).toEqual([]);
  });

  it('makes only requests Discord would accept as well-formed, on known routes', () => {
    expect(world.discord.invalidBodies).toEqual([]);
    expect(world.discord.unknownRequests.map((r) => `${r.method} ${r.path}`)).toEqual([]);
    expect(world.discord.internalErrors).toEqual([]);
  });

  it('never logs a token or key', () => {
    const log = world.logs.join('\n');
    const secrets = [world.config.discordToken, world.config.falKey, ...[...world.discord.interactions.values()].map((i) => i.token)];
    const leaked = secrets.filter((secret) => secret.length >= 8 && log.includes(secret));
    expect(leaked.map((s) => `${s.slice(0, 12)}…`)).toEqual([]);
  });
});

function userIdOf(payload: InteractionPayload): string {
  const member = payload['member'];
  const user = isObject(member) ? member['user'] : payload['user'];
  return isObject(user) && typeof user['id'] === 'string' ? user['id'] : '';
}
