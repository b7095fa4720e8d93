import type { Generated } from 'kysely';

/**
 * The tables as both engines hold them (SQLite and PostgreSQL): what Kysely checks every query against. Times are
 * milliseconds since the epoch; booleans are 0/1 integers, so a row reads the same from either engine and is
 * parsed once (generationRow.ts).
 */
export interface Schema {
  generations: GenerationsTable;
  settings: SettingsTable;
  guild_settings: GuildSettingsTable;
  delivered_parts: DeliveredPartsTable;
  result_images: ResultImagesTable;
}

export interface GenerationsTable {
  id: Generated<number>;
  status: string;
  model_id: string;
  input_json: string;
  safety_tolerance: string | null;
  action: Generated<string>;
  image_refs_json: string | null;
  requester_id: string;
  guild_id: string | null;
  channel_id: string;
  application_id: string;
  interaction_token: string | null;
  token_expires_at: number | null;
  parent_id: number | null;
  fal_request_id: string | null;
  message_id: string | null;
  image_count: Generated<number>;
  failure_kind: string | null;
  created_at: number;
  submitted_at: number | null;
  finished_at: number | null;
  app_permissions: string | null;
  attachment_size_limit: number | null;
  in_thread: Generated<number>;
  dispatched_at: number | null;
  quota_images: Generated<number>;
  cost_usd: Generated<number>;
  /** The bot process looking after an unfinished job, and until when: a process that dies stops renewing it. */
  owner: string | null;
  lease_expires_at: number | null;
  /** 1 once the requester cancelled a job another process holds: that process stops it. */
  cancel_requested: Generated<number>;
}

export interface SettingsTable {
  key: string;
  value: string;
}

export interface GuildSettingsTable {
  guild_id: string;
  settings_json: string;
  updated_at: number;
}

export interface DeliveredPartsTable {
  generation_id: number;
  part: number;
  message_id: string;
  delivered_at: number;
}

export interface ResultImagesTable {
  generation_id: number;
  image_index: number;
  message_id: string;
  url: string;
  width: number | null;
  height: number | null;
}
