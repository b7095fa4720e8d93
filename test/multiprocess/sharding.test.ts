import { ApplicationCommandOptionType as T } from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { BotProcess } from '../e2e/botProcess.js';
import { assertNoSecrets, isCallback, isFinalEdit, startFakes, type Fakes } from '../e2e/world.js';
import { guildOnShard, type InteractionPayload } from '../fakes/discord.js';

/**
 * `npm start` with SHARD_COUNT: one manager process (discord.js's ShardingManager) starting a bot process per
 * shard, against the loopback fakes, which route each guild's interactions to its shard's session as Discord does.
 * Runs in the `postgres` project only (vitest.config.ts): shards share the database.
 */
let fakes: Fakes | undefined;
const processes: BotProcess[] = [];
afterEach(async () => {
  for (const bot of processes) {
    assertNoSecrets(bot.lines, [fakes?.env.DISCORD_TOKEN ?? '', fakes?.env.FAL_KEY ?? '']);
    // Neither the manager nor a shard may fail unexpectedly, also while one of them stops.
    expect([...logged(bot, 'uncaught exception'), ...logged(bot, 'unhandled promise rejection')]).toEqual([]);
  }
  for (const bot of processes.splice(0)) {
    if (bot.child.exitCode === null && bot.child.signalCode === null) await bot.kill('SIGKILL');
    for (const pid of shardPids(bot)) if (alive(pid)) process.kill(pid, 'SIGKILL');
  }
  await fakes?.close();
  fakes = undefined;
});

/** The fakes (recommending `shards` shards) and a manager process with `env`, once every shard has logged in. */
async function startManager(env: Record<string, string>, shards = 1): Promise<{ f: Fakes; manager: BotProcess }> {
  fakes = await startFakes(
    { SHARD_SPAWN_DELAY_MS: '50', SHUTDOWN_GRACE_SECONDS: '1', ...env },
    { discord: { shards } },
  );
  const manager = start(fakes.env);
  await manager.waitForLog('every shard is ready', 60_000);
  return { f: fakes, manager };
}

function start(env: Record<string, string>): BotProcess {
  if (!fakes) throw new Error('no fakes');
  const bot = new BotProcess(env, fakes.dir);
  processes.push(bot);
  return bot;
}

/** The JSON log lines (of the process and of the shard processes, which share its stdout) with this message. */
function logged(bot: BotProcess, message: string): Array<Record<string, unknown>> {
  return bot.lines
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((entry) => entry['message'] === message);
}

async function waitForLogged(bot: BotProcess, message: string, count: number, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (logged(bot, message).length < count) {
    if (Date.now() > deadline || bot.child.exitCode !== null) {
      throw new Error(`expected ${count} × ${JSON.stringify(message)}; got:\n${bot.lines.slice(-20).join('\n')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return logged(bot, message);
}

function shardPids(bot: BotProcess): number[] {
  return logged(bot, 'shard process started').map((entry) => Number(entry['pid']));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function gone(pids: readonly number[]): Promise<void> {
  await expect.poll(() => pids.filter(alive), { timeout: 15_000 }).toEqual([]);
}

/** An /imagine in a guild on shard `shard` of `count`. */
function imagine(f: Fakes, prompt: string, shard: number, count: number): InteractionPayload {
  const interaction = f.discord.chatInput({
    name: 'imagine',
    options: [{ name: 'prompt', type: T.String, value: prompt }],
    guildId: guildOnShard(shard, count),
  });
  expect(f.discord.dispatchInteraction(interaction)).toEqual([shard, count]);
  return interaction;
}

/** Waits until each interaction's result is delivered, then checks it was answered, submitted and delivered once. */
async function deliveredOnce(f: Fakes, interactions: InteractionPayload[], prompts: string[]) {
  for (const interaction of interactions) await f.discord.waitForRequest(isFinalEdit(interaction.token), 20_000);
  await new Promise((resolve) => setTimeout(resolve, 300));
  const count = (match: (r: Fakes['discord']['requests'][number]) => boolean) =>
    f.discord.requests.filter((r) => match(r) && r.status < 300).length;
  expect(interactions.map((i) => count(isCallback(i.id)))).toEqual(interactions.map(() => 1));
  expect(interactions.map((i) => count(isFinalEdit(i.token)))).toEqual(interactions.map(() => 1));
  expect(f.fal.submissions.map((s) => s.input['prompt']).sort()).toEqual([...prompts].sort());
}

describe('npm start with SHARD_COUNT: a sharding manager and a process per shard', () => {
  it('starts two shard processes, each answers the guilds of its shard once, and SIGTERM stops all with 0', async () => {
    const { f, manager } = await startManager({ SHARD_COUNT: '2' }, 2);
    await waitForLogged(manager, 'logged in to Discord', 2);
    expect(f.discord.liveShards().sort()).toEqual([
      [0, 2],
      [1, 2],
    ]);
    const started = logged(manager, 'shard process started');
    expect(started.map((entry) => entry['shard'])).toEqual([0, 1]);
    const pids = shardPids(manager);
    expect(new Set([...pids, manager.child.pid]).size).toBe(3);
    expect(logged(manager, 'starting shard processes')).toEqual([
      expect.objectContaining({ totalShards: 2, shards: '0,1', spawnDelayMs: 50 }),
    ]);

    const onShard1 = imagine(f, 'a lighthouse on shard 1', 1, 2);
    const onShard0 = imagine(f, 'a lighthouse on shard 0', 0, 2);
    await deliveredOnce(f, [onShard1, onShard0], ['a lighthouse on shard 1', 'a lighthouse on shard 0']);
    expect(logged(manager, 'generation delivered')).toHaveLength(2);

    manager.child.kill('SIGTERM');
    expect(await manager.exited).toEqual({ code: 0, signal: null });
    await gone(pids);
    expect(logged(manager, 'shutting down')).toHaveLength(2);
    expect(logged(manager, 'shard process exited').map((entry) => entry['shard'])).toEqual(
      expect.arrayContaining([0, 1]),
    );
    expect(logged(manager, 'shard process exited; starting it again')).toEqual([]);
    expect(f.discord.liveShards()).toEqual([]);
  }, 90_000);

  it('starts a shard process again when it dies, and the new one answers its shard', async () => {
    const { f, manager } = await startManager({ SHARD_COUNT: '2' });
    await waitForLogged(manager, 'logged in to Discord', 2);
    const [, shard1] = shardPids(manager);
    if (shard1 === undefined) throw new Error('no pid for shard 1');
    process.kill(shard1, 'SIGKILL');

    const [death] = await waitForLogged(manager, 'shard process exited; starting it again', 1);
    expect(death).toMatchObject({ level: 'warn', shard: 1, pid: shard1, signal: 'SIGKILL' });
    await waitForLogged(manager, 'logged in to Discord', 3);
    const restarted = logged(manager, 'shard process started').at(-1);
    expect(restarted).toMatchObject({ shard: 1 });
    expect(restarted?.['pid']).not.toBe(shard1);
    await f.discord.waitForReady([1, 2]);

    const interaction = imagine(f, 'after the restart', 1, 2);
    await deliveredOnce(f, [interaction], ['after the restart']);
  }, 90_000);

  it('with SHARD_COUNT=auto, runs as many shards as Discord recommends (GET /gateway/bot through DISCORD_API_URL)', async () => {
    const { f, manager } = await startManager({ SHARD_COUNT: 'auto' }, 3);
    await waitForLogged(manager, 'logged in to Discord', 3);
    expect(f.discord.liveShards().sort()).toEqual([
      [0, 3],
      [1, 3],
      [2, 3],
    ]);
    expect(logged(manager, 'starting shard processes')).toEqual([
      expect.objectContaining({ totalShards: 3, shards: '0,1,2' }),
    ]);
    const interaction = imagine(f, 'on the third shard', 2, 3);
    await deliveredOnce(f, [interaction], ['on the third shard']);

    manager.child.kill('SIGTERM');
    expect(await manager.exited).toEqual({ code: 0, signal: null });
  }, 90_000);

  it('splits shards across machines: a manager with SHARD_LIST, and a process started by hand as SHARDS=1', async () => {
    const { f, manager } = await startManager({ SHARD_COUNT: '3', SHARD_LIST: '0,2' }, 3);
    await waitForLogged(manager, 'logged in to Discord', 2);
    expect(f.discord.liveShards().sort()).toEqual([
      [0, 3],
      [2, 3],
    ]);
    expect(() => imagine(f, 'nobody runs shard 1 yet', 1, 3)).toThrow(/no gateway client is connected/);

    // The other machine: no manager, no IPC, just SHARDS and SHARD_COUNT (what discord.js's Client reads).
    const byHand = start({ ...f.env, SHARDS: '1', SHARD_COUNT: '3' });
    await byHand.waitForLog('logged in to Discord', 30_000);
    expect(logged(byHand, 'starting shard processes')).toEqual([]);
    const prompts = ['shard 0', 'shard 1', 'shard 2'];
    const interactions = prompts.map((prompt, shard) => imagine(f, prompt, shard, 3));
    await deliveredOnce(f, interactions, prompts);
    expect(logged(byHand, 'generation delivered')).toHaveLength(1);

    manager.child.kill('SIGTERM');
    byHand.child.kill('SIGTERM');
    expect(await manager.exited).toEqual({ code: 0, signal: null });
    expect(await byHand.exited).toEqual({ code: 0, signal: null });
  }, 90_000);

  it('stops its shard processes when the manager is killed, so a restarted manager never runs a shard twice', async () => {
    const { manager } = await startManager({ SHARD_COUNT: '2' });
    await waitForLogged(manager, 'logged in to Discord', 2);
    const pids = shardPids(manager);
    expect((await manager.kill('SIGKILL')).signal).toBe('SIGKILL');
    await gone(pids);
    expect(logged(manager, 'shutting down')).toEqual([
      expect.objectContaining({ signal: 'sharding manager gone' }),
      expect.objectContaining({ signal: 'sharding manager gone' }),
    ]);
  }, 60_000);

  it('exits 1 when a shard cannot start, stopping the others', async () => {
    fakes = await startFakes({ SHARD_SPAWN_DELAY_MS: '50', SHARD_COUNT: '2' });
    const database = new URL(fakes.env.DATABASE_URL ?? '');
    database.pathname = '/imagen_no_such_database';
    const manager = start({ ...fakes.env, DATABASE_URL: database.toString() });
    expect(await manager.exited).toEqual({ code: 1, signal: null });
    expect(logged(manager, 'a shard did not become ready; stopping every shard')).toHaveLength(1);
    await gone(shardPids(manager));
  }, 60_000);

  it('refuses SHARD_COUNT without DATABASE_URL, in plain words, before starting anything', async () => {
    fakes = await startFakes({ SHARD_COUNT: '2' });
    const manager = start({ ...fakes.env, DATABASE_URL: '' });
    expect(await manager.exited).toEqual({ code: 1, signal: null });
    expect(manager.stderr).toMatch(/^- SHARD_COUNT needs DATABASE_URL: .*PostgreSQL/m);
    expect(manager.lines).toEqual([]);
  });
});
