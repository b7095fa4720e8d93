import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

/** README's module references, written as `discord/router`, `src/discord/upload.ts` or `commands/imagine.execute`. */
function moduleReferences(text: string): string[] {
  const references = [
    ...text.matchAll(
      /`((?:src\/)?(?:commands|discord|generation|fal|limits|models|store|shared)\/[A-Za-z-]+(?:\/[A-Za-z-]+)*)(?:\.ts|\.[a-z]+)?`/g,
    ),
  ];
  return references.map((match) => match[1] ?? '');
}

describe('README and sources', () => {
  it('names only modules that exist', () => {
    const references = moduleReferences(readFileSync(join(root, 'README.md'), 'utf8'));
    expect(references.length).toBeGreaterThan(3);
    const missing = references.filter((reference) => {
      const path = reference.startsWith('src/') || reference.startsWith('commands/') ? reference : `src/${reference}`;
      return !existsSync(join(root, `${path}.ts`));
    });
    expect(missing).toEqual([]);
  });

  it('points at no machine-local path in the test fakes', () => {
    const dir = join(root, 'test', 'fakes');
    const local = readdirSync(dir)
      .filter((file) => file.endsWith('.ts'))
      .filter((file) => /\/work\/|\/home\/|'shared', 'reference'/.test(readFileSync(join(dir, file), 'utf8')));
    expect(local).toEqual([]);
  });
});
