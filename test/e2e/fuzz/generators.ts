/**
 * The fuzz case generators: weighted categories of malformed or hostile interactions, each with what the bot
 * must answer, plus the few hostile but valid jobs that reach fal. Everything is drawn from one seeded Rng,
 * in a fixed order, so a seed always yields the same cases.
 */
import { ApplicationCommandOptionType as T } from 'discord.js';
import { STALE_COMPONENT, UNKNOWN_COMMAND, UNSUPPORTED } from '../../../src/discord/router.js';
import type { World } from '../world.js';
import {
  PLAIN,
  alice,
  attackers,
  click,
  command,
  exact,
  ignored,
  imagine,
  modal,
  reply,
  without,
  type FuzzCase,
  type Json,
  type Option,
  type Targets,
} from './cases.js';
import { HOSTILE, MARKDOWN, MENTIONS, WORDS, hostileText, longText, type Rng } from './hostile.js';

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
        [
          [
            { name: 'model', type: T.String, value: 'imagen4-fast' },
            { name: 'resolution', type: T.String, value: '2K' },
          ],
          PLAIN.unsupported,
        ],
      ];
      const [options, content] = rng.pick(bad);
      return {
        payload: imagine(world, rng.pick(attackers), rng.shuffle([prompt(rng), ...options])),
        expect: reply(content),
      };
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
      const name = rng.pick([
        'steps',
        'guidance_scale',
        'sync_mode',
        '@everyone',
        '<@&222222222222222222>',
        '**bold**',
        'constructor',
        'x'.repeat(100),
      ]);
      return {
        payload: imagine(world, rng.pick(attackers), [prompt(rng), { name, type: T.String, value: 'y' }]),
        expect: reply(PLAIN.unsupported),
      };
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
    category: 'other members click Delete on a real result',
    weight: 6,
    make(rng, world, targets) {
      const target = rng.pick(targets.results);
      return {
        payload: click(world, rng.pick(attackers), `imagine:delete:${target.generationId}`, target.messageId),
        expect: reply(PLAIN.deleteDenied),
      };
    },
  },
  {
    category: 'other members click Cancel on a running job',
    weight: 6,
    make(rng, world, targets) {
      const target = rng.pick(targets.held);
      return {
        payload: click(world, rng.pick(attackers), `imagine:cancel:${target.generationId}`, target.messageId),
        expect: reply(PLAIN.cancelDenied),
      };
    },
  },
  {
    category: 'tampered Delete/Cancel custom_ids that name real generations',
    weight: 5,
    make(rng, world, targets) {
      const choice = rng.int(0, 2);
      if (choice === 0) {
        return {
          payload: click(world, rng.pick(attackers), `imagine:delete:${rng.pick(targets.results).generationId}`),
          expect: reply(PLAIN.deleteDenied),
        };
      }
      const target = choice === 1 ? rng.pick(targets.results) : rng.pick(targets.held);
      return {
        payload: click(world, rng.pick(attackers), `imagine:cancel:${target.generationId}`),
        expect: reply(PLAIN.cancelDenied),
      };
    },
  },
  {
    category: 'other members click Edit on a real result',
    weight: 2,
    make(rng, world, targets) {
      const target = rng.pick(targets.results);
      return {
        payload: click(world, rng.pick(attackers), `imagine:edit:${target.generationId}`, target.messageId),
        expect: { kind: 'modal' },
      };
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
        [
          `imagine:edit-submit:${id}`,
          { prompt: hostileText(rng), negative_prompt: longText(rng, rng.int(1001, 4000)) },
          PLAIN.tooLong,
        ],
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
      return {
        payload: modal(world, rng.pick(attackers), `imagine:edit-submit:${id}`, fields),
        expect: reply(/^The prompt is empty/),
      };
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
      if (choice === 0)
        return { payload: without(imagine(world, alice, [prompt(rng)]), 'data'), expect: ignored('malformed') };
      if (choice === 1)
        return { payload: without(click(world, alice, 'imagine:same:999999'), 'data'), expect: ignored('malformed') };
      if (choice === 2)
        return {
          payload: without(modal(world, alice, 'imagine:edit-submit:1', {}), 'data'),
          expect: ignored('malformed'),
        };
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
        return {
          payload: { ...p, data: { ...(p['data'] as Json), type: rng.pick([0, 5, 99]) } },
          expect: ignored('unknownType'),
        };
      }
      const p = click(world, alice, 'imagine:same:999999');
      return {
        payload: { ...p, data: { custom_id: 'imagine:same:999999', component_type: rng.pick([0, 1, 4, 99]) } },
        expect: ignored('unknownType'),
      };
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
        return {
          payload: { ...p, data: { ...(p['data'] as Json), type: 2, target_id: alice.id, resolved: { users: {} } } },
          expect: reply(exact(UNSUPPORTED)),
        };
      }
      if (choice === 1) {
        const p = imagine(world, alice, []);
        return {
          payload: { ...p, data: { ...(p['data'] as Json), type: 3, target_id: '1', resolved: { messages: {} } } },
          expect: reply(exact(UNSUPPORTED)),
        };
      }
      const p = click(world, alice, 'imagine:same:999999');
      return {
        payload: { ...p, data: { custom_id: 'imagine:same:999999', component_type: 3, values: ['@everyone'] } },
        expect: reply(exact(UNSUPPORTED)),
      };
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
      if (choice === 0)
        return { payload: without(p, 'channel', 'channel_id'), expect: { kind: 'refusal', content: PLAIN.noChannel } };
      if (choice === 1) return { payload: { ...p, app_permissions: '0' }, expect: reply(PLAIN.noPermission) };
      return { payload: without(p, 'app_permissions'), expect: reply(PLAIN.noPermission) };
    },
  },
  {
    category: 'interaction ids that are not snowflakes',
    weight: 1,
    make(rng, world) {
      const p = imagine(world, rng.pick(attackers), [prompt(rng), { name: 'num_images', type: T.Integer, value: 0 }]);
      return {
        payload: { ...p, id: `${rng.pick(['abc', '-1', '1e9', '💥', '0x10'])}-${rng.int(0, 1e9)}` },
        expect: { kind: 'unanswerable' },
      };
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
    cases.push({
      category: 'imagine: hostile but valid prompt (reaches fal)',
      payload: imagine(world, rng.pick(attackers), options),
      expect: { kind: 'job' },
    });
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

/** `size` cases (the jobs first, then weighted draws), shuffled: the same seed always gives the same list. */
export function generate(rng: Rng, world: World, targets: Targets, size: number): FuzzCase[] {
  const jobs = jobCases(rng, world, targets);
  const total = GENERATORS.reduce((sum, g) => sum + g.weight, 0);
  const cases: FuzzCase[] = [...jobs];
  while (cases.length < size) {
    let roll = rng.int(1, total);
    const generator = GENERATORS.find((g) => (roll -= g.weight) <= 0) ?? GENERATORS[0];
    if (!generator) throw new Error('no generators');
    cases.push({ category: generator.category, ...generator.make(rng, world, targets) });
  }
  return rng.shuffle(cases);
}
