import {
  ApplicationIntegrationType,
  InteractionContextType,
  MessageFlags,
  PermissionFlagsBits,
  TimestampStyles,
  time,
  type ChatInputCommandInteraction,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
} from 'discord.js';
import type { Command, CommandContext } from '../src/discord/command.js';
import { NO_PINGS } from '../src/discord/views/common.js';
import { utcDayStart } from '../src/limits/admission.js';

const DAY_MS = 24 * 60 * 60 * 1000;

const data = {
  name: 'imagine-usage',
  description: 'How many images you have left today, and your jobs in progress',
  contexts: [InteractionContextType.Guild],
  integration_types: [ApplicationIntegrationType.GuildInstall],
} satisfies RESTPostAPIChatInputApplicationCommandsJSONBody;

const STATUS_WORDS: Record<string, string> = {
  pending: 'being sent to fal',
  queued: "in fal's queue",
  running: 'generating',
  delivering: 'being posted',
};

/**
 * `/imagine-usage`: a member sees their remaining images today and their jobs in progress; members with
 * Manage Server also see the server's totals and spend for today and the last 30 days. Ephemeral.
 */
async function execute(interaction: ChatInputCommandInteraction, context: CommandContext): Promise<void> {
  const now = Date.now();
  const dayStart = utcDayStart(now);
  const guildId = interaction.guildId;
  const { limits } = await context.guildSettings.effective(guildId);
  const usage = await context.store.usage(guildId, interaction.user.id, dayStart);
  const left = Math.max(0, limits.userDailyImages - usage.memberImagesToday);
  const lines = [
    `**Your images today:** ${usage.memberImagesToday} of ${limits.userDailyImages} (${left} left; resets ${time(Math.ceil((dayStart + DAY_MS) / 1000), TimestampStyles.RelativeTime)})`,
  ];
  const active = await context.store.activeOf(guildId, interaction.user.id);
  if (active.length === 0) {
    lines.push('**Your jobs in progress:** none');
  } else {
    lines.push(`**Your jobs in progress:** ${active.length}`);
    const positions = await context.generations.positionsInLine();
    for (const job of active) {
      const position = positions.get(job.id);
      const where =
        job.status === 'waiting'
          ? `waiting, position ${position ?? '?'} in line`
          : (STATUS_WORDS[job.status] ?? job.status);
      lines.push(`- #${job.id}: ${job.input.num_images} image${job.input.num_images === 1 ? '' : 's'}, ${where}`);
    }
  }
  if (interaction.memberPermissions?.has(PermissionFlagsBits.ManageGuild)) {
    const today = await context.store.guildTotals(guildId, dayStart);
    const month = await context.store.guildTotals(guildId, dayStart - 29 * DAY_MS);
    lines.push(
      '',
      '**This server** (admins only)',
      `Today: ${today.jobs} jobs, ${today.images} images, $${today.costUsd.toFixed(2)} of $${limits.guildDailyBudgetUsd.toFixed(2)}; ${today.quotaImages} of ${limits.guildDailyImages} daily images used`,
      `Last 30 days: ${month.jobs} jobs, ${month.images} images, $${month.costUsd.toFixed(2)}`,
    );
  }
  await interaction.reply({ content: lines.join('\n'), flags: MessageFlags.Ephemeral, allowedMentions: NO_PINGS });
}

export default { data, execute } satisfies Command;
