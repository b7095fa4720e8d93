import { existsSync } from 'node:fs';
import { startCommandLine } from './cli.js';
import { errorContext } from './logger.js';
import { CopyRefused, copyToPostgres } from './store/copyToPostgres.js';
import { openDatabase, openSqlite } from './store/database.js';

/**
 * `npm run migrate-to-postgres`: copies the SQLite database at DATABASE_PATH into the PostgreSQL database at
 * DATABASE_URL (created empty beforehand), once, with the bot stopped. Afterwards the bot runs on PostgreSQL
 * because DATABASE_URL is set; the SQLite file is left as it was.
 */
async function migrate(): Promise<void> {
  const started = startCommandLine();
  if (!started) return;
  const { config, logger } = started;
  if (!config.databaseUrl) {
    logger.error('set DATABASE_URL to the PostgreSQL database to copy into (see README, PostgreSQL)');
    process.exitCode = 1;
    return;
  }
  if (!existsSync(config.databasePath)) {
    logger.error(`there is no SQLite database at DATABASE_PATH (${config.databasePath}) to copy`);
    process.exitCode = 1;
    return;
  }
  const from = openSqlite(config.databasePath);
  let to;
  try {
    to = await openDatabase({ url: config.databaseUrl, path: config.databasePath });
  } catch (error) {
    logger.error('could not open the PostgreSQL database: check that it runs and that DATABASE_URL names it', {
      ...errorContext(error),
    });
    await from.close();
    process.exitCode = 1;
    return;
  }
  try {
    const counts = await copyToPostgres(from, to);
    logger.info('copied the SQLite database into PostgreSQL; the bot uses PostgreSQL now that DATABASE_URL is set', {
      ...counts,
    });
  } catch (error) {
    if (error instanceof CopyRefused) logger.error(`nothing was copied: ${error.message}`);
    else logger.error('nothing was copied (the copy is one transaction)', errorContext(error));
    process.exitCode = 1;
  } finally {
    await from.close();
    await to.close();
  }
}

await migrate();
