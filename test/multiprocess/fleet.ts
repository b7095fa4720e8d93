import { ApplicationCommandOptionType as T } from 'discord.js';
import { BotProcess } from '../e2e/botProcess.js';
import { isFinalEdit, type Fakes } from '../e2e/world.js';
import { guildOnShard, type FakeUser } from '../fakes/discord.js';

/**
 * Bot processes on one database, each running one shard of `count`, as several machines would (SHARDS and
 * SHARD_COUNT, the variables discord.js's ShardingManager gives its children).
 */
export class Fleet {
  readonly bots: BotProcess[] = [];

  constructor(
    readonly fakes: Fakes,
    readonly count: number,
  ) {}

  async start(env: Record<string, string> = {}): Promise<BotProcess[]> {
    for (let shard = 0; shard < this.count; shard += 1) await this.startShard(shard, env);
    return this.bots;
  }

  async startShard(shard: number, env: Record<string, string> = {}): Promise<BotProcess> {
    const bot = new BotProcess(
      { ...this.fakes.env, SHARDS: String(shard), SHARD_COUNT: String(this.count), ...env },
      this.fakes.dir,
    );
    this.bots.push(bot);
    await bot.waitForLog('logged in to Discord', 30_000);
    return bot;
  }

  /** An /imagine from `user` in a guild on `shard`. */
  imagine(prompt: string, shard: number, user?: FakeUser, guildIndex = 0) {
    const guildId = guildOnShard(shard, this.count, guildIndex);
    const interaction = this.fakes.discord.chatInput({
      name: 'imagine',
      options: [{ name: 'prompt', type: T.String, value: prompt }],
      guildId,
      ...(user && { user }),
    });
    this.fakes.discord.dispatchInteraction(interaction);
    return interaction;
  }

  /** How many times Discord was sent the final version (result or failure) of an interaction's reply. */
  finalEdits(token: string): number {
    return this.fakes.discord.requests.filter((r) => isFinalEdit(token)(r) && r.status === 200).length;
  }

  async stop(): Promise<void> {
    for (const bot of this.bots.splice(0)) if (bot.child.exitCode === null) await bot.kill();
  }
}
