import { escapeMarkdown } from 'discord.js';

/**
 * Cuts text to at most `max` characters without splitting a surrogate pair, marking the cut with an ellipsis.
 */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  if (max <= 1) return '…'.slice(0, max);
  let cut = max - 1;
  const code = text.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut -= 1;
  return `${text.slice(0, cut).trimEnd()}…`;
}

/**
 * Member-written text made safe to show inside a message: line breaks folded, markdown escaped (so a prompt
 * cannot restyle or spoof the message), masked links disarmed (`[text](url)` would post a disguised link under
 * the bot's name; discord.js's `maskedLink` option only catches the first one on a line), and cut to `max`
 * characters after escaping.
 */
export function quoteUserText(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  let budget = max;
  for (;;) {
    const escaped = escapeMarkdown(truncate(flat, budget)).replaceAll('[', '\\[');
    if (escaped.length <= max) return escaped;
    budget -= Math.max(1, escaped.length - max);
  }
}
