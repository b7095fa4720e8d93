import { describe, expect, it } from 'vitest';
import { quoteUserText, truncate } from '../../src/discord/text.js';

describe('truncate', () => {
  it('leaves short text alone and marks a cut with an ellipsis', () => {
    expect(truncate('hello', 5)).toBe('hello');
    expect(truncate('hello world', 8)).toBe('hello w…');
  });

  it('never splits a surrogate pair', () => {
    const text = 'ab😀cd';
    const cut = truncate(text, 4);
    expect(cut).toBe('ab…');
    expect(cut.length).toBeLessThanOrEqual(4);
  });
});

describe('quoteUserText', () => {
  it('escapes markdown so a prompt cannot restyle the message', () => {
    expect(quoteUserText('**bold** _it_ `code` ||spoiler||', 200)).toBe(
      '\\*\\*bold\\*\\* \\_it\\_ \\`code\\` \\|\\|spoiler\\|\\|',
    );
  });

  it('folds line breaks (no fake headings or extra lines)', () => {
    expect(quoteUserText('line one\n# heading\n\n> quote', 200)).not.toContain('\n');
  });

  it('fits the budget even when escaping doubles the length', () => {
    const quoted = quoteUserText('*'.repeat(5000), 900);
    expect(quoted.length).toBeLessThanOrEqual(900);
    expect(quoted.endsWith('…')).toBe(true);
  });
});
