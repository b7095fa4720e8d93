import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

export type Db = Database.Database;

/**
 * Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
 * Append new steps; never edit a released one.
 */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE generations (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    status            TEXT    NOT NULL,
    model_id          TEXT    NOT NULL,
    input_json        TEXT    NOT NULL,
    requester_id      TEXT    NOT NULL,
    guild_id          TEXT,
    channel_id        TEXT    NOT NULL,
    application_id    TEXT    NOT NULL,
    interaction_token TEXT,
    token_expires_at  INTEGER,
    parent_id         INTEGER REFERENCES generations(id),
    fal_request_id    TEXT,
    message_id        TEXT,
    image_count       INTEGER NOT NULL DEFAULT 0,
    failure_kind      TEXT,
    created_at        INTEGER NOT NULL,
    submitted_at      INTEGER,
    finished_at       INTEGER
  );
  CREATE INDEX generations_unfinished ON generations(status) WHERE status IN ('pending', 'queued', 'running', 'delivering');
  CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  `,
  // What a job needs to deliver on its own after a restart: the bot's permissions in the channel and the
  // upload limit, both as the interaction reported them.
  `
  ALTER TABLE generations ADD COLUMN app_permissions TEXT;
  ALTER TABLE generations ADD COLUMN attachment_size_limit INTEGER;
  ALTER TABLE generations ADD COLUMN in_thread INTEGER NOT NULL DEFAULT 0;
  `,
];

/** Opens (creating if needed) the bot's SQLite database and brings its schema up to date. */
export function openDatabase(path: string): Db {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return db;
}

function migrate(db: Db): void {
  const applied = db.pragma('user_version', { simple: true }) as number;
  for (let version = applied; version < MIGRATIONS.length; version += 1) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version] ?? '');
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
}
