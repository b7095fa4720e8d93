import type {
  ButtonInteraction,
  ChatInputCommandInteraction,
  Client,
  ModalSubmitInteraction,
  RESTPostAPIChatInputApplicationCommandsJSONBody,
} from 'discord.js';
import { z } from 'zod';
import type { Config } from '../config.js';
import type { GenerationService } from '../generation/service.js';
import type { GuildSettingsStore } from '../limits/guildSettings.js';
import type { Logger } from '../logger.js';
import type { GenerationStore } from '../store/generations.js';
import type { CustomId } from './customId.js';

/** What command handlers get to work with. Handlers stay thin: read input, call a service, render a view. */
export interface CommandContext {
  readonly config: Config;
  readonly logger: Logger;
  readonly client: Client<true>;
  readonly generations: GenerationService;
  readonly store: GenerationStore;
  readonly guildSettings: GuildSettingsStore;
  /** Whether an interaction came from a thread (from its payload: discord.js's `interaction.channel` is not filled). */
  readonly inThread: (interactionId: string) => boolean;
}

export type ComponentInteraction = ButtonInteraction | ModalSubmitInteraction;

/**
 * One slash command module (`commands/<name>.ts`), in the shape of discord.js's bot template:
 * `export default { data, execute } satisfies Command`. Buttons and modals whose custom_id starts with the
 * command's name are routed to `handleComponent`.
 */
export interface Command {
  readonly data: RESTPostAPIChatInputApplicationCommandsJSONBody;
  /**
   * The definition registered for this deployment, when it depends on the configuration (e.g. /imagine's
   * options are the union over the offered models). Same name as `data`; `data` is used when absent.
   */
  dataFor?(config: Config): RESTPostAPIChatInputApplicationCommandsJSONBody;
  execute(interaction: ChatInputCommandInteraction, context: CommandContext): Promise<void>;
  handleComponent?(interaction: ComponentInteraction, customId: CustomId, context: CommandContext): Promise<void>;
}

const CommandShape = z.object({
  data: z
    .object({ name: z.string().regex(/^[-_\p{L}\p{N}]{1,32}$/u), description: z.string().min(1).max(100) })
    .loose(),
  execute: z.function(),
  handleComponent: z.function().optional(),
  dataFor: z.function().optional(),
});

/** What to register for each command in this deployment. */
export function commandDefinitions(
  commands: ReadonlyMap<string, Command>,
  config: Config,
): RESTPostAPIChatInputApplicationCommandsJSONBody[] {
  return [...commands.values()].map((command) => command.dataFor?.(config) ?? command.data);
}

/** Checks that a loaded module really is a {@link Command}, as the discord.js template's loader does. */
export function isCommand(value: unknown): value is Command {
  return CommandShape.safeParse(value).success;
}
