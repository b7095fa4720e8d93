// The schema of both engines, step by step. `schema.ts` is the TypeScript view of the result.

/**
 * SQLite's schema migrations, applied in order; `PRAGMA user_version` records how many ran.
 * Append new steps; never edit a released one.
 */
export const SQLITE_MIGRATIONS: readonly string[] = [
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
  // Community servers: the bot's own fair queue ('waiting' rows), usage accounting and per-guild settings.
  `
  ALTER TABLE generations ADD COLUMN dispatched_at INTEGER;
  ALTER TABLE generations ADD COLUMN quota_images INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE generations ADD COLUMN cost_usd REAL NOT NULL DEFAULT 0;
  DROP INDEX generations_unfinished;
  CREATE INDEX generations_unfinished ON generations(status)
    WHERE status IN ('waiting', 'pending', 'queued', 'running', 'delivering');
  CREATE INDEX generations_by_guild ON generations(guild_id, created_at);
  CREATE INDEX generations_by_requester ON generations(requester_id, created_at);
  CREATE INDEX generations_by_day ON generations(created_at);
  CREATE TABLE guild_settings (
    guild_id      TEXT PRIMARY KEY,
    settings_json TEXT NOT NULL,
    updated_at    INTEGER NOT NULL
  );
  `,
  // Each message of a result split across messages, once Discord has it: a retried delivery (or a resume from
  // 'delivering') posts only the parts that are missing.
  `
  CREATE TABLE delivered_parts (
    generation_id INTEGER NOT NULL REFERENCES generations(id),
    part          INTEGER NOT NULL,
    message_id    TEXT    NOT NULL,
    delivered_at  INTEGER NOT NULL,
    PRIMARY KEY (generation_id, part)
  ) WITHOUT ROWID;
  `,
  // What the server adds (the safety filter level) kept apart from what the member chose: lifted out of the
  // input of existing rows.
  `
  ALTER TABLE generations ADD COLUMN safety_tolerance TEXT;
  UPDATE generations SET safety_tolerance = json_extract(input_json, '$.safety_tolerance'),
    input_json = json_remove(input_json, '$.safety_tolerance')
  WHERE json_valid(input_json) AND json_type(input_json, '$.safety_tolerance') = 'text';
  `,
  // Actions on a result's images: what a generation does (imagine, vary, edit, upscale, or /imagine with
  // reference images) and which images it starts from; and where each delivered image lives on Discord, so an
  // action on an old result can hand fal a fresh URL of exactly that image.
  `
  ALTER TABLE generations ADD COLUMN action TEXT NOT NULL DEFAULT 'imagine';
  ALTER TABLE generations ADD COLUMN image_refs_json TEXT;
  CREATE TABLE result_images (
    generation_id INTEGER NOT NULL REFERENCES generations(id),
    image_index   INTEGER NOT NULL,
    message_id    TEXT    NOT NULL,
    url           TEXT    NOT NULL,
    width         INTEGER,
    height        INTEGER,
    PRIMARY KEY (generation_id, image_index)
  ) WITHOUT ROWID;
  `,
  // /imagine-history pages a member's generations in a server by id; /imagine-show finds a generation by the
  // id of any message of its result. Without these both would scan the whole table.
  `
  CREATE INDEX generations_history ON generations(requester_id, guild_id, id);
  CREATE INDEX generations_by_message ON generations(message_id) WHERE message_id IS NOT NULL;
  CREATE INDEX delivered_parts_by_message ON delivered_parts(message_id);
  `,
  // Several bot processes on one database (PostgreSQL; SQLite has one process, but keeps the same columns so
  // every query is the same): who looks after an unfinished job and until when, and a cancel asked of it.
  `
  ALTER TABLE generations ADD COLUMN owner TEXT;
  ALTER TABLE generations ADD COLUMN lease_expires_at INTEGER;
  ALTER TABLE generations ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;
  `,
  // The fair order reads who was served in the last day at every free slot: without this it scans every job ever.
  `
  CREATE INDEX generations_by_dispatch ON generations(dispatched_at) WHERE dispatched_at IS NOT NULL;
  `,
];

/**
 * PostgreSQL's schema migrations, applied in order under an advisory lock (several processes may start at once);
 * `imagen_schema.version` records how many ran. The first is the whole schema SQLite reached in its eight steps:
 * the same tables and columns, so every query runs unchanged on both. Ids are BIGINT: whatever id a member
 * types (any safe integer) compares without an out-of-range error. Append new steps; never edit a released one.
 */
export const POSTGRES_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE generations (
    id                    BIGINT  GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    status                TEXT    NOT NULL,
    model_id              TEXT    NOT NULL,
    input_json            TEXT    NOT NULL,
    safety_tolerance      TEXT,
    action                TEXT    NOT NULL DEFAULT 'imagine',
    image_refs_json       TEXT,
    requester_id          TEXT    NOT NULL,
    guild_id              TEXT,
    channel_id            TEXT    NOT NULL,
    application_id        TEXT    NOT NULL,
    interaction_token     TEXT,
    token_expires_at      BIGINT,
    parent_id             BIGINT  REFERENCES generations(id),
    fal_request_id        TEXT,
    message_id            TEXT,
    image_count           INTEGER NOT NULL DEFAULT 0,
    failure_kind          TEXT,
    created_at            BIGINT  NOT NULL,
    submitted_at          BIGINT,
    finished_at           BIGINT,
    app_permissions       TEXT,
    attachment_size_limit INTEGER,
    in_thread             INTEGER NOT NULL DEFAULT 0,
    dispatched_at         BIGINT,
    quota_images          INTEGER NOT NULL DEFAULT 0,
    cost_usd              DOUBLE PRECISION NOT NULL DEFAULT 0,
    owner                 TEXT,
    lease_expires_at      BIGINT,
    cancel_requested      INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX generations_unfinished ON generations(status)
    WHERE status IN ('waiting', 'pending', 'queued', 'running', 'delivering');
  CREATE INDEX generations_by_guild ON generations(guild_id, created_at);
  CREATE INDEX generations_by_requester ON generations(requester_id, created_at);
  CREATE INDEX generations_by_day ON generations(created_at);
  CREATE INDEX generations_history ON generations(requester_id, guild_id, id);
  CREATE INDEX generations_by_message ON generations(message_id) WHERE message_id IS NOT NULL;
  CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  CREATE TABLE guild_settings (
    guild_id      TEXT PRIMARY KEY,
    settings_json TEXT   NOT NULL,
    updated_at    BIGINT NOT NULL
  );
  CREATE TABLE delivered_parts (
    generation_id BIGINT  NOT NULL REFERENCES generations(id),
    part          INTEGER NOT NULL,
    message_id    TEXT    NOT NULL,
    delivered_at  BIGINT  NOT NULL,
    PRIMARY KEY (generation_id, part)
  );
  CREATE INDEX delivered_parts_by_message ON delivered_parts(message_id);
  CREATE TABLE result_images (
    generation_id BIGINT  NOT NULL REFERENCES generations(id),
    image_index   INTEGER NOT NULL,
    message_id    TEXT    NOT NULL,
    url           TEXT    NOT NULL,
    width         INTEGER,
    height        INTEGER,
    PRIMARY KEY (generation_id, image_index)
  );
  `,
  // The fair order reads who was served in the last day at every free slot: without this it scans every job ever.
  `
  CREATE INDEX generations_by_dispatch ON generations(dispatched_at) WHERE dispatched_at IS NOT NULL;
  `,
];
