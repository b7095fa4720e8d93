import { PermissionFlagsBits, PermissionsBitField } from 'discord.js';

/**
 * What the bot needs in a channel to deliver images there on its own (when a job outlives its 15-minute
 * interaction token, results are posted with the bot token): see the channel, post, and attach files.
 */
export function requiredChannelPermissions(inThread: boolean): Array<[name: string, flag: bigint]> {
  return [
    ['View Channel', PermissionFlagsBits.ViewChannel],
    inThread
      ? ['Send Messages in Threads', PermissionFlagsBits.SendMessagesInThreads]
      : ['Send Messages', PermissionFlagsBits.SendMessages],
    ['Attach Files', PermissionFlagsBits.AttachFiles],
  ];
}

/** Names of the required permissions missing from `permissions` (a bitfield or its decimal string). */
export function missingChannelPermissions(
  permissions: PermissionsBitField | string | null,
  inThread: boolean,
): string[] {
  if (permissions === null) return requiredChannelPermissions(inThread).map(([name]) => name);
  const field = typeof permissions === 'string' ? new PermissionsBitField(BigInt(permissions)) : permissions;
  return requiredChannelPermissions(inThread)
    .filter(([, flag]) => !field.has(flag, true))
    .map(([name]) => name);
}
