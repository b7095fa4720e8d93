import {
  ApplicationCommandOptionType,
  ApplicationIntegrationType,
  ChannelType,
  InteractionContextType,
  MessageFlags,
  PermissionFlagsBits,
  channelMention,
  roleMention,
  type APIApplicationCommandBasicOption,
  type ChatInputCommandInteraction,
  type RESTPostAPIChatInputApplicationCommandsJSONBody,
} from 'discord.js';
import { z } from 'zod';
import type { Config } from '../src/config.js';
import type { Command, CommandContext } from '../src/discord/command.js';
import { NO_PINGS } from '../src/discord/views/common.js';
import { UserError } from '../src/errors.js';
import {
  GuildSettingsSchema,
  REROLL_POLICIES,
  SettingsError,
  type EffectiveSettings,
  type GuildSettingsPatch,
} from '../src/limits/guildSettings.js';
import { MODELS, findModel, modelsWithIds, type ImageModel } from '../src/models/registry.js';

/** Option bounds come from the settings schema, so the command and the validation cannot drift apart. */
const bounds = (
  z.toJSONSchema(GuildSettingsSchema, { io: 'input' }) as {
    properties: Record<string, { minimum?: number; maximum?: number }>;
  }
).properties;

function numberOption(
  type: ApplicationCommandOptionType.Integer | ApplicationCommandOptionType.Number,
  name: string,
  field: keyof typeof GuildSettingsSchema.shape,
  description: string,
): APIApplicationCommandBasicOption {
  const { minimum, maximum } = bounds[field] ?? {};
  return {
    type,
    name,
    description,
    required: false,
    ...(minimum !== undefined && { min_value: minimum }),
    ...(maximum !== undefined && { max_value: maximum }),
  } as APIApplicationCommandBasicOption;
}

const LIST_ACTIONS = [
  { name: 'allow', value: 'allow' },
  { name: 'remove', value: 'remove' },
  { name: 'clear (allow everywhere / everyone)', value: 'clear' },
];

/** The definition for a set of offered models (the `model` subcommand's choices). */
function definition(models: readonly ImageModel[]) {
  return {
    name: 'imagine-settings',
    description: 'View or change how /imagine works on this server',
    default_member_permissions: String(PermissionFlagsBits.ManageGuild),
    contexts: [InteractionContextType.Guild],
    integration_types: [ApplicationIntegrationType.GuildInstall],
    options: [
      { type: ApplicationCommandOptionType.Subcommand, name: 'view', description: 'Show the current settings' },
      {
        type: ApplicationCommandOptionType.Subcommand,
        name: 'limits',
        description: 'Change limits; options you leave out keep their value',
        options: [
          numberOption(
            ApplicationCommandOptionType.Integer,
            'jobs_at_once',
            'userMaxActiveJobs',
            'Jobs one member may have at once',
          ),
          numberOption(
            ApplicationCommandOptionType.Integer,
            'cooldown_seconds',
            'userCooldownSeconds',
            'Seconds a member waits between requests',
          ),
          numberOption(
            ApplicationCommandOptionType.Integer,
            'member_daily_images',
            'userDailyImages',
            'Images one member may make per day (UTC)',
          ),
          numberOption(
            ApplicationCommandOptionType.Integer,
            'server_daily_images',
            'guildDailyImages',
            'Images the whole server may make per day (UTC)',
          ),
          numberOption(
            ApplicationCommandOptionType.Number,
            'server_daily_budget',
            'guildDailyBudgetUsd',
            'US dollars the server may spend per day (UTC)',
          ),
        ],
      },
      {
        type: ApplicationCommandOptionType.Subcommand,
        name: 'model',
        description: 'Default model when a member does not choose one',
        options: [
          {
            type: ApplicationCommandOptionType.String,
            name: 'model',
            description: 'The default model',
            required: true,
            choices: models.map((model) => ({ name: model.label, value: model.id })),
          },
        ],
      },
      {
        type: ApplicationCommandOptionType.Subcommand,
        name: 'channels',
        description: 'Channels where /imagine may be used (none listed = everywhere)',
        options: [
          {
            type: ApplicationCommandOptionType.String,
            name: 'action',
            description: 'What to do',
            required: true,
            choices: LIST_ACTIONS,
          },
          {
            type: ApplicationCommandOptionType.Channel,
            name: 'channel',
            description: 'The channel (not needed to clear)',
            required: false,
            channel_types: [
              ChannelType.GuildText,
              ChannelType.PublicThread,
              ChannelType.PrivateThread,
              ChannelType.GuildForum,
            ],
          },
        ],
      },
      {
        type: ApplicationCommandOptionType.Subcommand,
        name: 'roles',
        description: 'Roles that may use /imagine (none listed = everyone)',
        options: [
          {
            type: ApplicationCommandOptionType.String,
            name: 'action',
            description: 'What to do',
            required: true,
            choices: LIST_ACTIONS,
          },
          {
            type: ApplicationCommandOptionType.Role,
            name: 'role',
            description: 'The role (not needed to clear)',
            required: false,
          },
        ],
      },
      {
        type: ApplicationCommandOptionType.Subcommand,
        name: 'rerolls',
        description: "Who may reroll or edit other members' images",
        options: [
          {
            type: ApplicationCommandOptionType.String,
            name: 'who',
            description: 'Everyone, or only the member who made them (and moderators)',
            required: true,
            choices: REROLL_POLICIES.map((policy) => ({
              name: policy === 'everyone' ? 'everyone' : 'only the requester (and Manage Messages)',
              value: policy,
            })),
          },
        ],
      },
      {
        type: ApplicationCommandOptionType.Subcommand,
        name: 'safety',
        description: "How strict the models' safety filter is (1 strictest)",
        options: [
          {
            type: ApplicationCommandOptionType.Integer,
            name: 'tolerance',
            description: '1 (strictest) to 6 (most permissive), within the bot operator’s bounds',
            required: true,
            min_value: 1,
            max_value: 6,
          },
        ],
      },
    ],
  } satisfies RESTPostAPIChatInputApplicationCommandsJSONBody;
}

const data = definition(MODELS);

function dataFor(config: Config) {
  return definition(modelsWithIds(config.models));
}

/** `/imagine-settings`: admins (Manage Server) view and change the server's limits and rules; answers are ephemeral. */
async function execute(interaction: ChatInputCommandInteraction, context: CommandContext): Promise<void> {
  const guildId = interaction.guildId;
  if (!guildId) throw new UserError('These settings belong to a server: use this command in one.');
  // Discord hides the command from others (default_member_permissions), but server admins can re-grant it per
  // channel or role, so the permission is checked here too.
  if (!interaction.memberPermissions?.has(PermissionFlagsBits.ManageGuild)) {
    throw new UserError('Only members with the Manage Server permission can change /imagine settings.');
  }
  const patch = patchFor(interaction, await context.guildSettings.get(guildId), context.config);
  if (patch) {
    try {
      await context.guildSettings.update(guildId, patch, Date.now());
    } catch (error) {
      if (error instanceof SettingsError) throw new UserError(error.message);
      throw error;
    }
    context.logger.info('server settings changed', {
      guild: guildId,
      by: interaction.user.id,
      fields: Object.keys(patch).join(','),
    });
  }
  const heading = patch ? '✅ Saved. /imagine on this server now works like this:' : '/imagine on this server:';
  await interaction.reply({
    content: `${heading}\n${describeSettings(await context.guildSettings.effective(guildId), context)}`,
    flags: MessageFlags.Ephemeral,
    allowedMentions: NO_PINGS,
  });
}

function patchFor(
  interaction: ChatInputCommandInteraction,
  current: Awaited<ReturnType<CommandContext['guildSettings']['get']>>,
  config: Config,
): GuildSettingsPatch | undefined {
  const options = interaction.options;
  switch (options.getSubcommand()) {
    case 'limits': {
      const patch: GuildSettingsPatch = {};
      const jobs = options.getInteger('jobs_at_once');
      const cooldown = options.getInteger('cooldown_seconds');
      const memberImages = options.getInteger('member_daily_images');
      const serverImages = options.getInteger('server_daily_images');
      const budget = options.getNumber('server_daily_budget');
      if (jobs !== null) patch.userMaxActiveJobs = jobs;
      if (cooldown !== null) patch.userCooldownSeconds = cooldown;
      if (memberImages !== null) patch.userDailyImages = memberImages;
      if (serverImages !== null) patch.guildDailyImages = serverImages;
      if (budget !== null) patch.guildDailyBudgetUsd = Math.round(budget * 100) / 100;
      if (Object.keys(patch).length === 0)
        throw new UserError('Give at least one limit to change (or use /imagine-settings view).');
      return patch;
    }
    case 'model': {
      const model = findModel(options.getString('model', true));
      if (!model || !config.models.includes(model.id as Config['models'][number])) {
        throw new UserError('That model is not offered on this bot.');
      }
      return { defaultModel: model.id as NonNullable<GuildSettingsPatch['defaultModel']> };
    }
    case 'channels':
      return {
        channelIds: editList(
          current.channelIds,
          options.getString('action', true),
          options.getChannel('channel')?.id,
          'channel',
        ),
      };
    case 'roles':
      return {
        roleIds: editList(current.roleIds, options.getString('action', true), options.getRole('role')?.id, 'role'),
      };
    case 'rerolls':
      return { rerolls: options.getString('who', true) as NonNullable<GuildSettingsPatch['rerolls']> };
    case 'safety':
      return {
        safetyTolerance: String(options.getInteger('tolerance', true)) as NonNullable<
          GuildSettingsPatch['safetyTolerance']
        >,
      };
    default:
      return undefined;
  }
}

function editList(list: readonly string[], action: string, id: string | undefined, what: string): string[] {
  if (action === 'clear') return [];
  if (!id) throw new UserError(`Pick the ${what} to ${action}.`);
  if (action === 'allow') return list.includes(id) ? [...list] : [...list, id];
  if (!list.includes(id)) throw new UserError(`That ${what} is not on the list.`);
  return list.filter((entry) => entry !== id);
}

function describeSettings(settings: EffectiveSettings, context: CommandContext): string {
  const own = settings.stored;
  const mark = (set: unknown) => (set === undefined ? ' *(bot default)*' : '');
  const { limits } = settings;
  const { min, max } = context.config.safetyTolerance;
  return [
    `**Jobs at once per member:** ${limits.userMaxActiveJobs}${mark(own.userMaxActiveJobs)}`,
    `**Cooldown between requests:** ${limits.userCooldownSeconds} s${mark(own.userCooldownSeconds)}`,
    `**Images per member per day:** ${limits.userDailyImages}${mark(own.userDailyImages)}`,
    `**Images for the server per day:** ${limits.guildDailyImages}${mark(own.guildDailyImages)}`,
    `**Server budget per day:** $${limits.guildDailyBudgetUsd.toFixed(2)}${mark(own.guildDailyBudgetUsd)}`,
    `**Default model:** ${findModel(settings.defaultModel)?.label ?? settings.defaultModel}${mark(own.defaultModel)}`,
    `**Channels:** ${settings.channelIds.length ? settings.channelIds.map((id) => channelMention(id)).join(', ') : 'everywhere'}`,
    `**Roles:** ${settings.roleIds.length ? settings.roleIds.map((id) => roleMention(id)).join(', ') : 'everyone'}`,
    `**Rerolls of others' images:** ${settings.rerolls === 'everyone' ? 'everyone' : 'only the requester and moderators'}`,
    `**Safety tolerance:** ${settings.safetyTolerance} (this bot allows ${min}-${max}; 1 is the strictest)${mark(own.safetyTolerance)}`,
    '-# Days are UTC. Limits count against the member who starts a job, rerolls included.',
  ].join('\n');
}

export default { data, dataFor, execute } satisfies Command;
