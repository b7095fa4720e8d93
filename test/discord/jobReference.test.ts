import { describe, expect, it } from 'vitest';
import { parseJobReference } from '../../src/discord/jobReference.js';

const GUILD = '300000000000000001';
const CHANNEL = '300000000000000002';
const MESSAGE = '1234567890123456789';

describe('parseJobReference', () => {
  it.each([
    ['42', 42],
    ['#42', 42],
    ['  #7 ', 7],
    ['# 9', 9],
    ['9007199254740991', Number.MAX_SAFE_INTEGER],
  ])('reads %j as job %d', (raw, id) => {
    expect(parseJobReference(raw)).toEqual({ kind: 'id', id });
  });

  it.each([
    `https://discord.com/channels/${GUILD}/${CHANNEL}/${MESSAGE}`,
    `https://canary.discord.com/channels/${GUILD}/${CHANNEL}/${MESSAGE}`,
    `https://ptb.discord.com/channels/${GUILD}/${CHANNEL}/${MESSAGE}`,
    `https://discordapp.com/channels/${GUILD}/${CHANNEL}/${MESSAGE}`,
    `<https://discord.com/channels/${GUILD}/${CHANNEL}/${MESSAGE}>`,
    ` https://discord.com/channels/${GUILD}/${CHANNEL}/${MESSAGE}/ `,
  ])('reads the message link %j', (raw) => {
    expect(parseJobReference(raw)).toEqual({ kind: 'message', guildId: GUILD, channelId: CHANNEL, messageId: MESSAGE });
  });

  it('reads a DM link with @me as its guild', () => {
    expect(parseJobReference(`https://discord.com/channels/@me/${CHANNEL}/${MESSAGE}`)).toMatchObject({
      guildId: '@me',
      messageId: MESSAGE,
    });
  });

  it.each([
    '',
    '#',
    '0',
    '#0',
    '042',
    '-3',
    '4.2',
    '1e3',
    '99999999999999999',
    '42 and more',
    'a fox',
    `http://discord.com/channels/${GUILD}/${CHANNEL}/${MESSAGE}`,
    `https://evil.com/channels/${GUILD}/${CHANNEL}/${MESSAGE}`,
    `https://discord.com.evil.com/channels/${GUILD}/${CHANNEL}/${MESSAGE}`,
    `https://www.discord.com/channels/${GUILD}/${CHANNEL}/${MESSAGE}`,
    `https://discord.com/channels/${GUILD}/${CHANNEL}`,
    `https://discord.com/channels/${GUILD}/${CHANNEL}/${MESSAGE}/extra`,
    `https://discord.com/channels/${GUILD}/${CHANNEL}/12345`,
    `https://discord.com/channels/${GUILD}/${CHANNEL}/${MESSAGE}?x=1`,
  ])('refuses %j', (raw) => {
    expect(parseJobReference(raw)).toBeUndefined();
  });
});
