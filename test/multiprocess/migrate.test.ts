import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ApplicationCommandOptionType as T } from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { BotProcess } from '../e2e/botProcess.js';
import { isFinalEdit, readRow, startFakes, type Fakes } from '../e2e/world.js';

/**
 * `npm run migrate-to-postgres` as an operator runs it: a bot on SQLite makes a result, the script copies the file
 * into PostgreSQL, and a bot on PostgreSQL rerolls that old result from its button. Runs in the `postgres` project.
 */
const SCRIPT = fileURLToPath(new URL('../../dist/src/migrate-to-postgres.js', import.meta.url));

let fakes: Fakes | undefined;
const bots: BotProcess[] = [];
afterEach(async () => {
  for (const bot of bots.splice(0)) if (bot.child.exitCode === null) await bot.kill();
  await fakes?.close();
  fakes = undefined;
});

async function migrate(env: Record<string, string>, cwd: string) {
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [SCRIPT], {
      cwd,
      env: { PATH: process.env.PATH ?? '', ...env },
    });
    return { code: 0, stdout };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string };
    return { code: failed.code ?? -1, stdout: failed.stdout ?? '' };
  }
}

describe('npm run migrate-to-postgres', () => {
  it('copies a SQLite bot’s data into PostgreSQL, where its old buttons keep working; a second copy is refused', async () => {
    fakes = await startFakes();
    const f = fakes;
    const { DATABASE_URL: url, ...sqliteEnv } = f.env;
    if (!url) throw new Error('the postgres project gives each world a database');

    const onSqlite = new BotProcess(sqliteEnv, f.dir);
    bots.push(onSqlite);
    await onSqlite.waitForLog('logged in to Discord');
    const interaction = f.discord.chatInput({
      name: 'imagine',
      options: [{ name: 'prompt', type: T.String, value: 'a lighthouse' }],
    });
    f.discord.dispatchInteraction(interaction);
    await f.discord.waitForRequest(isFinalEdit(interaction.token));
    await onSqlite.waitForLog('generation delivered');
    onSqlite.child.kill('SIGTERM');
    expect(await onSqlite.exited).toEqual({ code: 0, signal: null });

    const copied = await migrate(f.env, f.dir);
    expect(copied.code).toBe(0);
    expect(copied.stdout).toContain('copied the SQLite database into PostgreSQL');
    expect(copied.stdout).toContain('"generations":1');
    expect(await readRow(f, 1)).toMatchObject({ status: 'done', model_id: 'nano-banana-2' });

    const onPostgres = new BotProcess(f.env, f.dir);
    bots.push(onPostgres);
    await onPostgres.waitForLog('logged in to Discord');
    const message = [...f.discord.messages.values()].find((m) => m.interactionToken === interaction.token);
    if (!message) throw new Error('no result message');
    const reroll = f.discord.button({
      customId: 'imagine:new:1',
      message: {
        id: message.id,
        components: [{ type: 1, components: [{ type: 2, style: 1, label: 'New seed', custom_id: 'imagine:new:1' }] }],
      },
    });
    f.discord.dispatchInteraction(reroll);
    const final = await f.discord.waitForRequest(isFinalEdit(reroll.token));
    expect(final.files).toHaveLength(1);
    expect(f.fal.submissions.map((s) => s.input['prompt'])).toEqual(['a lighthouse', 'a lighthouse']);
    // The new job continues the copied ids, and points back at the copied result.
    await onPostgres.waitForLog('generation delivered');
    expect(await readRow(f, 2)).toMatchObject({ status: 'done', parent_id: 1 });

    const again = await migrate(f.env, f.dir);
    expect(again.code).toBe(1);
    expect(again.stdout).toContain('nothing was copied: PostgreSQL already holds 2 generations');
  }, 90_000);
});
