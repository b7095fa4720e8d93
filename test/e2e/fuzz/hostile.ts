/**
 * The fuzz test's raw material: a seeded PRNG (so a failing run reproduces from its seed) and hostile text
 * (mentions, markdown, unicode tricks) laced into prompts Imagen would otherwise accept.
 */

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

export class Rng {
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

export const MENTIONS = [
  '@everyone',
  '@here',
  '<@&222222222222222222>',
  '<@333333333333333333>',
  '<@!333333333333333333>',
  '<#444444444444444444>',
  '@\u200beveryone',
];
export const MARKDOWN = [
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
export const HOSTILE = [...MENTIONS, ...MARKDOWN, ...UNICODE];
export const WORDS = ['a fox', 'lighthouse', 'at dusk', 'neon', 'cat', 'in the rain', 'portrait', 'watercolor'];

/** A prompt Imagen would accept (visible words, at most `max` characters) laced with hostile fragments. */
export function hostileText(rng: Rng, atoms: readonly string[] = HOSTILE, max = 400): string {
  const parts = [rng.pick(WORDS)];
  const count = rng.int(1, 5);
  for (let i = 0; i < count; i += 1) parts.push(rng.pick(atoms), rng.pick(WORDS));
  return parts.join(rng.pick([' ', '', '\n'])).slice(0, max);
}

/** Exactly `length` characters of hostile text (may end in half a surrogate pair, on purpose). */
export function longText(rng: Rng, length: number): string {
  let text = '';
  while (text.length < length) text += `${rng.pick(HOSTILE)} ${rng.pick(WORDS)} `;
  return text.slice(0, length);
}
