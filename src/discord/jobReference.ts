/**
 * What a member types to name a result in /imagine-show: the number every result shows (`42` or `#42`), or a
 * link to the result's message (Discord's "Copy Message Link", from discord.com or its canary/ptb builds).
 */
export type JobReference =
  | { readonly kind: 'id'; readonly id: number }
  | { readonly kind: 'message'; readonly guildId: string; readonly channelId: string; readonly messageId: string };

const ID = /^#?\s*([1-9]\d{0,15})$/;
/**
 * A message link (https://discord.com/developers/docs/reference#message-formatting), optionally in `<>` (a link
 * Discord shows without a preview); the guild is `@me` in DMs.
 */
const MESSAGE_LINK =
  /^<?https:\/\/(?:(?:canary|ptb)\.)?discord(?:app)?\.com\/channels\/(\d{17,20}|@me)\/(\d{17,20})\/(\d{17,20})\/?>?$/i;

/** Parses a job reference; anything else (text, a link elsewhere, an id out of range) gives undefined. */
export function parseJobReference(raw: string): JobReference | undefined {
  const text = raw.trim();
  const id = ID.exec(text);
  if (id?.[1] !== undefined) {
    const value = Number(id[1]);
    return Number.isSafeInteger(value) ? { kind: 'id', id: value } : undefined;
  }
  const link = MESSAGE_LINK.exec(text);
  const [, guildId, channelId, messageId] = link ?? [];
  if (guildId === undefined || channelId === undefined || messageId === undefined) return undefined;
  return { kind: 'message', guildId, channelId, messageId };
}
