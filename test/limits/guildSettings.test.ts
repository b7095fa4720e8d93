import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { GuildSettingsStore } from '../../src/limits/guildSettings.js';
import type { Database } from '../../src/store/database.js';
import { ENGINES, freshDatabase } from '../support/databases.js';

const config = loadConfig({ DISCORD_TOKEN: 'a.b.c', FAL_KEY: 'id:secret' });
const GUILD = '300000000000000001';

describe.each(ENGINES)('a server’s settings (%s)', (engine) => {
  let database: Database;
  beforeEach(async () => {
    database = await freshDatabase(engine);
  });
  afterEach(async () => {
    await database.close();
  });

  it('keeps both of two changes saved at the same moment (from two processes)', async () => {
    const one = new GuildSettingsStore(database, config);
    const other = new GuildSettingsStore(database, config);
    await Promise.all([
      one.update(GUILD, { rerolls: 'requester' }, 1),
      other.update(GUILD, { userDailyImages: 7 }, 1),
      one.update(GUILD, { channelIds: ['300000000000000009'] }, 1),
    ]);
    expect(await one.get(GUILD)).toMatchObject({
      rerolls: 'requester',
      userDailyImages: 7,
      channelIds: ['300000000000000009'],
    });
  });
});
