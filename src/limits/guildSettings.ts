import { z } from 'zod';
import type { Config, DefaultLimits } from '../config.js';
import { MODEL_IDS, SAFETY_TOLERANCES, type ModelId, type SafetyTolerance } from '../models/registry.js';
import type { Kysely } from 'kysely';
import type { Database } from '../store/database.js';
import type { Schema } from '../store/schema.js';

const Snowflake = z.string().regex(/^\d{17,20}$/);

/** Who may use Same seed / New seed / Edit on another member's images. */
export const REROLL_POLICIES = ['everyone', 'requester'] as const;
export type RerollPolicy = (typeof REROLL_POLICIES)[number];

/**
 * A server's own settings, as admins change them with /imagine-settings. Every field is optional: what is not
 * set follows the operator's defaults from the environment. This schema is the single source of truth for
 * what is stored and for validating changes.
 */
export const GuildSettingsSchema = z.object({
  userMaxActiveJobs: z.int().min(1).max(50).optional(),
  userCooldownSeconds: z.int().min(0).max(86_400).optional(),
  userDailyImages: z.int().min(0).max(100_000).optional(),
  guildDailyImages: z.int().min(0).max(1_000_000).optional(),
  guildDailyBudgetUsd: z.number().min(0).max(100_000).optional(),
  defaultModel: z.enum(MODEL_IDS).optional(),
  /** Channels where /imagine may be used; empty means everywhere. */
  channelIds: z.array(Snowflake).max(50).default([]),
  /** Roles that may use /imagine; empty means everyone. */
  roleIds: z.array(Snowflake).max(50).default([]),
  rerolls: z.enum(REROLL_POLICIES).default('everyone'),
  safetyTolerance: z.enum(SAFETY_TOLERANCES).optional(),
});
export type GuildSettings = z.output<typeof GuildSettingsSchema>;
export type GuildSettingsPatch = Partial<GuildSettings>;

/** The settings in force for one server: its own where set, the operator's defaults elsewhere. */
export interface EffectiveSettings {
  readonly limits: DefaultLimits;
  readonly defaultModel: ModelId;
  readonly channelIds: readonly string[];
  readonly roleIds: readonly string[];
  readonly rerolls: RerollPolicy;
  readonly safetyTolerance: SafetyTolerance;
  /** What the server set itself (for /imagine-settings view). */
  readonly stored: GuildSettings;
}

/** A settings change refused, with a sentence for the admin. */
export class SettingsError extends Error {
  override readonly name = 'SettingsError';
}

/** fal's default safety tolerance for Imagen. */
const FAL_DEFAULT_TOLERANCE = 4;

export class GuildSettingsStore {
  readonly #config: Config;
  readonly #database: Database;

  constructor(database: Database, config: Config) {
    this.#config = config;
    this.#database = database;
  }

  /** A server's stored settings (defaults when it never set any, or when the stored row is unreadable). */
  async get(guildId: string | null, db: Kysely<Schema> = this.#database.db): Promise<GuildSettings> {
    const row = guildId
      ? await db.selectFrom('guild_settings').select('settings_json').where('guild_id', '=', guildId).executeTakeFirst()
      : undefined;
    const parsed = GuildSettingsSchema.safeParse(row ? (JSON.parse(row.settings_json) as unknown) : {});
    return parsed.success ? parsed.data : GuildSettingsSchema.parse({});
  }

  async effective(guildId: string | null): Promise<EffectiveSettings> {
    const stored = await this.get(guildId);
    const defaults = this.#config.limits;
    const { min, max } = this.#config.safetyTolerance;
    const tolerance = Math.min(max, Math.max(min, Number(stored.safetyTolerance ?? FAL_DEFAULT_TOLERANCE)));
    return {
      limits: {
        userMaxActiveJobs: stored.userMaxActiveJobs ?? defaults.userMaxActiveJobs,
        userCooldownSeconds: stored.userCooldownSeconds ?? defaults.userCooldownSeconds,
        userDailyImages: stored.userDailyImages ?? defaults.userDailyImages,
        guildDailyImages: Math.min(stored.guildDailyImages ?? defaults.guildDailyImages, defaults.guildDailyImages),
        guildDailyBudgetUsd: Math.min(
          stored.guildDailyBudgetUsd ?? defaults.guildDailyBudgetUsd,
          defaults.guildDailyBudgetUsd,
        ),
      },
      // A model the server picked that the operator no longer offers falls back to the operator's default.
      defaultModel:
        stored.defaultModel && this.#config.models.includes(stored.defaultModel)
          ? stored.defaultModel
          : this.#config.defaultModel,
      channelIds: stored.channelIds,
      roleIds: stored.roleIds,
      rerolls: stored.rerolls,
      safetyTolerance: String(tolerance) as SafetyTolerance,
      stored,
    };
  }

  /**
   * Applies a change after checking it against the schema and the operator's bounds: a server may lower its
   * daily images and budget below the operator's defaults but not raise them (the operator pays), and may set
   * the safety tolerance only within SAFETY_TOLERANCE_MIN..MAX.
   * @throws {SettingsError} with a sentence for the admin.
   */
  async update(guildId: string, patch: GuildSettingsPatch, now: number): Promise<GuildSettings> {
    const defaults = this.#config.limits;
    if (patch.guildDailyImages !== undefined && patch.guildDailyImages > defaults.guildDailyImages) {
      throw new SettingsError(
        `The server's daily images can be at most ${defaults.guildDailyImages} (the bot operator's limit).`,
      );
    }
    if (patch.guildDailyBudgetUsd !== undefined && patch.guildDailyBudgetUsd > defaults.guildDailyBudgetUsd) {
      throw new SettingsError(
        `The server's daily budget can be at most $${defaults.guildDailyBudgetUsd.toFixed(2)} (the bot operator's limit).`,
      );
    }
    const { min, max } = this.#config.safetyTolerance;
    if (
      patch.safetyTolerance !== undefined &&
      (Number(patch.safetyTolerance) < min || Number(patch.safetyTolerance) > max)
    ) {
      throw new SettingsError(
        `The safety tolerance must be between ${min} and ${max} on this bot (1 is the strictest).`,
      );
    }
    if (patch.defaultModel !== undefined && !this.#config.models.includes(patch.defaultModel)) {
      throw new SettingsError('That model is not offered on this bot.');
    }
    // Read, merge and write in one transaction, one change of a server at a time (in PostgreSQL, across
    // processes too): two admins saving different settings at once both keep theirs.
    return this.#database.db.transaction().execute(async (trx) => {
      await this.#database.serialize(trx, 'guildSettings', guildId);
      const merged = GuildSettingsSchema.safeParse({ ...(await this.get(guildId, trx)), ...patch });
      if (!merged.success) {
        const issue = merged.error.issues[0];
        throw new SettingsError(
          `That value for ${String(issue?.path[0] ?? 'the setting')} is not allowed: ${issue?.message ?? ''}`.trim(),
        );
      }
      const row = { settings_json: JSON.stringify(merged.data), updated_at: now };
      await trx
        .insertInto('guild_settings')
        .values({ guild_id: guildId, ...row })
        .onConflict((oc) => oc.column('guild_id').doUpdateSet(row))
        .execute();
      return merged.data;
    });
  }
}
