import { afterEach, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config.js';
import { GuildSettingsStore } from '../../src/limits/guildSettings.js';
import { CopyRefused, copyToPostgres } from '../../src/store/copyToPostgres.js';
import type { Database } from '../../src/store/database.js';
import { GenerationStore } from '../../src/store/generations.js';
import { SettingsStore } from '../../src/store/settings.js';
import { TEST_DATABASE_URL, freshDatabase } from '../support/databases.js';
import { newGeneration } from './newGeneration.js';

const A = { owner: 'a', leaseMs: 60_000 };
const open: Database[] = [];
afterEach(async () => {
  for (const database of open.splice(0)) await database.close();
});

async function fresh(engine: 'sqlite' | 'postgres') {
  const database = await freshDatabase(engine);
  open.push(database);
  return database;
}

// `npm run migrate-to-postgres` (src/migrate-to-postgres.ts) runs this copy.
describe.skipIf(!TEST_DATABASE_URL)('copying a SQLite database into PostgreSQL', () => {
  it('copies every table with its ids, and new jobs continue after the highest id', async () => {
    const sqlite = await fresh('sqlite');
    const from = new GenerationStore(sqlite, A);
    const first = await from.create(newGeneration({ createdAt: 1000 }));
    await from.markDone(first.id, '400000000000000001', 1, 0.08, 2000);
    await from.recordPart(first.id, 1, '400000000000000001', 2000);
    await from.recordResultImage(first.id, {
      index: 0,
      messageId: '400000000000000001',
      url: 'https://cdn.discordapp.com/attachments/1/2/a.png',
      width: 1024,
      height: 768,
    });
    const second = await from.create(newGeneration({ parentId: first.id, createdAt: 3000 }));
    await from.markFailed(second.id, 'failed', 'safety', 4000);
    await new SettingsStore(sqlite).set('commands-hash:1:global', 'abc');
    const config = { limits: {}, safetyTolerance: { min: 1, max: 6 }, models: ['nano-banana-2'] } as unknown as Config;
    await new GuildSettingsStore(sqlite, config).update('300000000000000001', { rerolls: 'requester' }, 5000);

    const postgres = await fresh('postgres');
    const counts = await copyToPostgres(sqlite, postgres);
    expect(counts).toEqual({ generations: 2, delivered_parts: 1, result_images: 1, settings: 1, guild_settings: 1 });

    const to = new GenerationStore(postgres, A);
    expect(await to.require(first.id)).toEqual(await from.require(first.id));
    expect(await to.require(second.id)).toEqual(await from.require(second.id));
    expect(await to.resultImages(first.id)).toEqual(await from.resultImages(first.id));
    expect(await to.deliveredParts(first.id)).toEqual(await from.deliveredParts(first.id));
    expect(await to.findByMessageId('400000000000000001')).toMatchObject({ id: first.id });
    expect(await new SettingsStore(postgres).get('commands-hash:1:global')).toBe('abc');
    expect((await new GuildSettingsStore(postgres, config).get('300000000000000001')).rerolls).toBe('requester');
    expect((await to.create(newGeneration())).id).toBe(second.id + 1);
  });

  it('refuses to copy into a database that already holds generations, and copies nothing', async () => {
    const sqlite = await fresh('sqlite');
    await new GenerationStore(sqlite, A).create(newGeneration());
    await new SettingsStore(sqlite).set('k', 'v');
    const postgres = await fresh('postgres');
    await new GenerationStore(postgres, A).create(newGeneration());
    await expect(copyToPostgres(sqlite, postgres)).rejects.toThrow(CopyRefused);
    await expect(copyToPostgres(sqlite, postgres)).rejects.toThrow(/already holds 1 generations/);
    expect(await new SettingsStore(postgres).get('k')).toBeUndefined();
  });

  it('an empty SQLite database copies as nothing, and ids start at 1', async () => {
    const postgres = await fresh('postgres');
    expect(await copyToPostgres(await fresh('sqlite'), postgres)).toEqual({
      generations: 0,
      delivered_parts: 0,
      result_images: 0,
      settings: 0,
      guild_settings: 0,
    });
    expect((await new GenerationStore(postgres, A).create(newGeneration())).id).toBe(1);
  });
});
