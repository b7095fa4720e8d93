import { config as loadDotenv } from 'dotenv';
import { z } from 'zod';
import { DEFAULT_MODEL_ID, DEFAULT_OFFERED_MODEL_IDS, MODEL_IDS, type ModelId } from './models/registry.js';
import { parsePriceOverrides, type PriceTable } from './limits/pricing.js';

/**
 * Every environment variable the bot reads, with how to fix it when it is wrong.
 * This module is the only reader of `process.env` (see STYLE.md, rule 1).
 */
const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

/** Numeric settings: bounds and default in one place; the hint in error messages is derived from them. */
const NUMBERS = {
  FAL_POLL_INTERVAL_MS: { min: 10, max: 60_000, fallback: 1000, unit: 'milliseconds' },
  FAL_CONCURRENCY: { min: 1, max: 40, fallback: 4, unit: 'jobs' },
  JOB_TIMEOUT_SECONDS: { min: 1, max: 3600, fallback: 600, unit: 'seconds' },
  IMAGE_DOWNLOAD_TIMEOUT_MS: { min: 1000, max: 600_000, fallback: 30_000, unit: 'milliseconds' },
  IMAGE_MAX_BYTES: { min: 1024, max: 100 * 1024 * 1024, fallback: 25 * 1024 * 1024, unit: 'bytes' },
  SHUTDOWN_GRACE_SECONDS: { min: 0, max: 600, fallback: 20, unit: 'seconds' },
  JOB_LEASE_SECONDS: { min: 2, max: 600, fallback: 30, unit: 'seconds' },
  DATABASE_POOL_SIZE: { min: 1, max: 100, fallback: 5, unit: 'connections' },
  // discord.js's own default: Discord lets a bot IDENTIFY once per 5 seconds (max_concurrency 1).
  SHARD_SPAWN_DELAY_MS: { min: 0, max: 60_000, fallback: 5500, unit: 'milliseconds' },
  USER_MAX_ACTIVE_JOBS: { min: 1, max: 50, fallback: 1, unit: 'jobs' },
  USER_COOLDOWN_SECONDS: { min: 0, max: 86_400, fallback: 0, unit: 'seconds' },
  USER_DAILY_IMAGES: { min: 0, max: 100_000, fallback: 40, unit: 'images' },
  GUILD_DAILY_IMAGES: { min: 0, max: 1_000_000, fallback: 400, unit: 'images' },
  SAFETY_TOLERANCE_MIN: { min: 1, max: 6, fallback: 1, unit: '(1 strictest, 6 most permissive)' },
  SAFETY_TOLERANCE_MAX: { min: 1, max: 6, fallback: 4, unit: '(1 strictest, 6 most permissive)' },
} as const;

const DOLLARS = {
  GUILD_DAILY_BUDGET_USD: { fallback: 10 },
  DAILY_BUDGET_USD: { fallback: 25 },
} as const;

const HINTS: Record<string, string> = {
  DISCORD_TOKEN:
    'copy the bot token from https://discord.com/developers/applications -> your app -> Bot -> Reset Token',
  FAL_KEY: 'create a key at https://fal.ai/dashboard/keys; it looks like "key-id:key-secret"',
  DISCORD_API_URL: 'leave it unset for Discord itself, or give a full URL such as http://127.0.0.1:8080/api',
  FAL_BASE_URL: 'leave it unset for fal itself, or give a full URL such as http://127.0.0.1:8081',
  DATABASE_PATH: 'give a file path such as ./data/imagine.sqlite',
  DATABASE_URL:
    'leave it unset for the SQLite file, or give a PostgreSQL URL such as postgres://imagen:secret@127.0.0.1:5432/imagen',
  SHARD_COUNT: 'leave it unset for one process, or give auto (Discord’s recommendation) or a number of shards',
  SHARDS:
    'leave it unset (the sharding manager sets it in the processes it starts), or give the shard this process runs, e.g. 1, or a list such as [0,1], with SHARD_COUNT the total',
  SHARD_LIST:
    'leave it unset to run every shard here, or give the shard ids this machine runs, separated by commas, e.g. 0,1 (each below SHARD_COUNT)',
  DISCORD_GUILD_ID:
    'leave it unset to register commands globally, or give a server id (right-click the server -> Copy Server ID)',
  IMAGEN_MODEL: `use one of: ${MODEL_IDS.join(', ')}`,
  IMAGEN_MODELS: `list the models to offer, separated by commas, from: ${MODEL_IDS.join(', ')}`,
  LOG_LEVEL: `use one of: ${LOG_LEVELS.join(', ')}`,
  METRICS_PORT: 'leave it unset to serve no metrics, or give a TCP port from 1 to 65535, e.g. 9464',
  METRICS_HOST: 'give the address to listen on, e.g. 127.0.0.1 (this machine only) or 0.0.0.0 (every interface)',
  IMAGEN_PRICES: 'give model=dollars pairs separated by commas, e.g. "nano-banana-2=0.08,nano-banana-pro:4K=0.3"',
  ...Object.fromEntries(
    Object.entries(NUMBERS).map(([name, n]) => [name, `give a whole number from ${n.min} to ${n.max} ${n.unit}`]),
  ),
  ...Object.fromEntries(
    Object.keys(DOLLARS).map((name) => [name, 'give an amount in US dollars, e.g. 12.50 (0 blocks all use)']),
  ),
};

/** Discord's own cap is far lower in practice; this only keeps a typo from spawning a million processes. */
const MAX_SHARDS = 10_000;

/** Shard ids from a comma-separated list, each once, in the order given. */
function shardIds(text: string): number[] {
  return [...new Set(text.split(',').map((id) => Number(id.trim())))];
}

/**
 * False when `ids` names a shard at or above `count`. Zod runs the object's checks even over a field that failed its
 * own (then still a string): that field's problem is already reported, so this one passes it.
 */
function allBelow(ids: readonly number[] | undefined, count: number | 'auto' | undefined): boolean {
  return !Array.isArray(ids) || typeof count !== 'number' || ids.every((id) => id < count);
}

const optionalString = z
  .string()
  .trim()
  .transform((value) => (value === '' ? undefined : value))
  .optional();

const httpUrl = optionalString.pipe(
  z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
    .transform((url) => url.replace(/\/+$/, ''))
    .optional(),
);

const wholeNumber = ({ min, max, fallback }: { min: number; max: number; fallback: number }) =>
  optionalString.pipe(
    z
      .string()
      .regex(/^\d+$/, { error: 'must be a whole number' })
      .transform(Number)
      .pipe(
        z
          .number()
          .min(min, { error: `must be at least ${min}` })
          .max(max, { error: `must be at most ${max}` }),
      )
      .default(fallback),
  );

const dollars = ({ fallback }: { fallback: number }) =>
  optionalString.pipe(
    z
      .string()
      .regex(/^\d+(\.\d{1,4})?$/, { error: 'must be an amount in dollars' })
      .transform(Number)
      .default(fallback),
  );

const numberFields = Object.fromEntries(Object.entries(NUMBERS).map(([name, spec]) => [name, wholeNumber(spec)])) as {
  [K in keyof typeof NUMBERS]: ReturnType<typeof wholeNumber>;
};
const dollarFields = Object.fromEntries(Object.entries(DOLLARS).map(([name, spec]) => [name, dollars(spec)])) as {
  [K in keyof typeof DOLLARS]: ReturnType<typeof dollars>;
};

const EnvSchema = z
  .object({
    DISCORD_TOKEN: z
      .string({ error: 'is missing' })
      .trim()
      .min(1, { error: 'is empty' })
      .regex(/^[\w-]+\.[\w-]+\.[\w-]+$/, { error: 'does not look like a bot token (three parts separated by dots)' }),
    FAL_KEY: z
      .string({ error: 'is missing' })
      .trim()
      .min(1, { error: 'is empty' })
      .regex(/^[^\s:]+:[^\s:]+$/, { error: 'does not look like a fal key ("key-id:key-secret")' }),
    DISCORD_API_URL: httpUrl,
    FAL_BASE_URL: httpUrl,
    DATABASE_PATH: optionalString.pipe(z.string().default('./data/imagine.sqlite')),
    DATABASE_URL: optionalString.pipe(
      z
        .string()
        .regex(/^postgres(ql)?:\/\/\S+$/, { error: 'must be a postgres:// URL' })
        .optional(),
    ),
    SHARD_COUNT: optionalString.pipe(
      z
        .string()
        .regex(/^(auto|\d+)$/, { error: 'must be auto or a whole number' })
        .transform((text) => (text === 'auto' ? 'auto' : Number(text)))
        .refine((count) => count === 'auto' || count >= 1, { error: 'must be at least 1' })
        .refine((count) => count === 'auto' || count <= MAX_SHARDS, { error: `must be at most ${MAX_SHARDS}` })
        .optional(),
    ),
    // Set by discord.js's ShardingManager in the processes it starts (or by hand): this process is a shard.
    // discord.js's Client reads it too, with JSON.parse, hence a number or a JSON list.
    SHARDS: optionalString.pipe(
      z
        .string()
        .regex(/^(\d+|\[\s*\d+(\s*,\s*\d+)*\s*\])$/, { error: 'must be a shard id or a list such as [0,1]' })
        .transform((text) => shardIds(text.replace(/[[\]]/g, '')))
        .optional(),
    ),
    SHARD_LIST: optionalString.pipe(
      z
        .string()
        .regex(/^\d+(\s*,\s*\d+)*$/, { error: 'must be shard ids separated by commas' })
        .transform(shardIds)
        .optional(),
    ),
    DISCORD_GUILD_ID: optionalString.pipe(
      z
        .string()
        .regex(/^\d{17,20}$/, { error: 'must be a server id (17-20 digits)' })
        .optional(),
    ),
    IMAGEN_MODEL: optionalString.pipe(z.enum(MODEL_IDS, { error: 'is not a known model' }).default(DEFAULT_MODEL_ID)),
    IMAGEN_MODELS: optionalString.pipe(
      z
        .string()
        .transform((text) =>
          text
            .split(',')
            .map((id) => id.trim())
            .filter(Boolean),
        )
        .pipe(z.array(z.enum(MODEL_IDS, { error: 'names an unknown model' })).min(1, { error: 'is empty' }))
        .optional(),
    ),
    LOG_LEVEL: optionalString.pipe(z.enum(LOG_LEVELS, { error: 'is not a log level' }).default('info')),
    IMAGEN_PRICES: optionalString.transform((value, context) => {
      const parsed = parsePriceOverrides(value ?? '');
      if (!parsed.ok) {
        context.addIssue({ code: 'custom', message: parsed.problem });
        return z.NEVER;
      }
      return parsed.prices;
    }),
    // Port 0 (a free port, logged at start) is for tests; the documented range is 1-65535.
    METRICS_PORT: optionalString.pipe(
      z
        .string()
        .regex(/^\d+$/, { error: 'must be a whole number' })
        .transform(Number)
        .pipe(z.number().max(65_535, { error: 'must be at most 65535' }))
        .optional(),
    ),
    METRICS_HOST: optionalString.pipe(
      z
        .string()
        .regex(/^[\w.:-]+$/, { error: 'must be a host name or an IP address' })
        .default('127.0.0.1'),
    ),
    ...numberFields,
    ...dollarFields,
  })
  .refine((env) => env.SAFETY_TOLERANCE_MIN <= env.SAFETY_TOLERANCE_MAX, {
    path: ['SAFETY_TOLERANCE_MIN'],
    error: 'must not be above SAFETY_TOLERANCE_MAX',
  })
  .refine((env) => env.SHARD_COUNT === undefined || env.DATABASE_URL !== undefined, {
    path: ['SHARD_COUNT'],
    error: 'needs DATABASE_URL: every shard is its own process, and only PostgreSQL is shared by several',
  })
  .refine((env) => env.SHARDS === undefined || typeof env.SHARD_COUNT === 'number', {
    path: ['SHARDS'],
    error: 'needs SHARD_COUNT set to the number of shards of the whole bot',
  })
  .refine((env) => allBelow(env.SHARDS, env.SHARD_COUNT), {
    path: ['SHARDS'],
    error: 'names a shard that is not below SHARD_COUNT (shards count from 0)',
  })
  .refine((env) => env.SHARD_LIST === undefined || typeof env.SHARD_COUNT === 'number', {
    path: ['SHARD_LIST'],
    error: 'needs SHARD_COUNT set to a number: the machines that split the shards must agree on their total',
  })
  .refine((env) => allBelow(env.SHARD_LIST, env.SHARD_COUNT), {
    path: ['SHARD_LIST'],
    error: 'names a shard that is not below SHARD_COUNT (shards count from 0)',
  })
  .refine((env) => !env.IMAGEN_MODELS || env.IMAGEN_MODELS.includes(env.IMAGEN_MODEL), {
    path: ['IMAGEN_MODEL'],
    error: 'is not one of IMAGEN_MODELS (the default model must be offered)',
  });

export type LogLevel = (typeof LOG_LEVELS)[number];

/** Default limits for every server; admins override them per server with /imagine-settings. */
export interface DefaultLimits {
  readonly userMaxActiveJobs: number;
  readonly userCooldownSeconds: number;
  readonly userDailyImages: number;
  readonly guildDailyImages: number;
  readonly guildDailyBudgetUsd: number;
}

/** The validated, frozen configuration every service receives. */
export interface Config {
  readonly discordToken: string;
  readonly falKey: string;
  readonly discordApiUrl: string | undefined;
  readonly falBaseUrl: string | undefined;
  /** The SQLite file, used when {@link databaseUrl} is unset. */
  readonly databasePath: string;
  /** PostgreSQL (`postgres://…`), shared by every process of the bot; never logged (it may hold a password). */
  readonly databaseUrl: string | undefined;
  /** PostgreSQL connections this process keeps at most (one more listens for wake-ups). */
  readonly databasePoolSize: number;
  /** How long a process's hold on a job lasts unrenewed: after it dies, another takes its jobs over this late. */
  readonly jobLeaseMs: number;
  /** Gateway sharding (https://discord.com/developers/docs/events/gateway#sharding); see src/sharding.ts. */
  readonly sharding: {
    /** SHARD_COUNT: a number, or 'auto' for Discord's recommendation; undefined runs one process, unsharded. */
    readonly count: number | 'auto' | undefined;
    /**
     * SHARDS: the shards this process connects, when it is a shard process (started by the sharding manager, or
     * by hand with SHARDS and SHARD_COUNT); undefined in a process that runs the manager or runs unsharded.
     * discord.js's Client reads SHARDS and SHARD_COUNT itself.
     */
    readonly shardIds: readonly number[] | undefined;
    /** SHARD_LIST: the shards this machine's manager runs (the others run elsewhere); undefined: all of them. */
    readonly shardList: readonly number[] | undefined;
    /** Pause between two shard processes' starts, for Discord's IDENTIFY rate limit. */
    readonly spawnDelayMs: number;
  };
  readonly guildId: string | undefined;
  /** The model a server uses until its admins pick another. */
  readonly defaultModel: ModelId;
  /** The models members may choose, in catalog order; always includes {@link defaultModel}. */
  readonly models: readonly ModelId[];
  readonly logLevel: LogLevel;
  readonly falPollIntervalMs: number;
  /** Jobs at fal at once, for the whole bot; the rest wait in the bot's own fair queue. */
  readonly falConcurrency: number;
  readonly jobTimeoutMs: number;
  readonly imageDownloadTimeoutMs: number;
  readonly imageMaxBytes: number;
  /** On SIGTERM/SIGINT, how long running jobs may still finish before the rest is left for the next start. */
  readonly shutdownGraceMs: number;
  readonly limits: DefaultLimits;
  /** Spending cap for the whole bot per UTC day, in US dollars. */
  readonly dailyBudgetUsd: number;
  /** Price overrides per model (and resolution); the rest come from the model registry. */
  readonly prices: PriceTable;
  /** Bounds within which server admins may set Imagen's safety_tolerance. */
  readonly safetyTolerance: { readonly min: number; readonly max: number };
  /** Where /metrics, /healthz and /readyz are served; undefined (METRICS_PORT unset) serves nothing. */
  readonly metrics: { readonly host: string; readonly port: number } | undefined;
}

/** Thrown by {@link loadConfig}; `problems` holds one line per bad variable, safe to print (never a value). */
export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid configuration:\n${problems.join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Parses an environment (normally `process.env`) into a {@link Config}.
 * @throws {ConfigError} naming every missing or malformed variable and how to fix it; values are never echoed.
 */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): Config {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? 'environment');
      const hint = HINTS[name];
      return `${name} ${issue.message}${hint ? `: ${hint}` : ''}`;
    });
    throw new ConfigError([...new Set(problems)]);
  }
  const e = parsed.data;
  return Object.freeze({
    discordToken: e.DISCORD_TOKEN,
    falKey: e.FAL_KEY,
    discordApiUrl: e.DISCORD_API_URL,
    falBaseUrl: e.FAL_BASE_URL,
    databasePath: e.DATABASE_PATH,
    databaseUrl: e.DATABASE_URL,
    databasePoolSize: e.DATABASE_POOL_SIZE,
    jobLeaseMs: e.JOB_LEASE_SECONDS * 1000,
    sharding: Object.freeze({
      count: e.SHARD_COUNT,
      shardIds: e.SHARDS && Object.freeze(e.SHARDS),
      shardList: e.SHARD_LIST && Object.freeze(e.SHARD_LIST),
      spawnDelayMs: e.SHARD_SPAWN_DELAY_MS,
    }),
    guildId: e.DISCORD_GUILD_ID,
    defaultModel: e.IMAGEN_MODEL,
    models: Object.freeze(offeredModels(e.IMAGEN_MODELS, e.IMAGEN_MODEL)),
    logLevel: e.LOG_LEVEL,
    falPollIntervalMs: e.FAL_POLL_INTERVAL_MS,
    falConcurrency: e.FAL_CONCURRENCY,
    jobTimeoutMs: e.JOB_TIMEOUT_SECONDS * 1000,
    imageDownloadTimeoutMs: e.IMAGE_DOWNLOAD_TIMEOUT_MS,
    imageMaxBytes: e.IMAGE_MAX_BYTES,
    shutdownGraceMs: e.SHUTDOWN_GRACE_SECONDS * 1000,
    limits: Object.freeze({
      userMaxActiveJobs: e.USER_MAX_ACTIVE_JOBS,
      userCooldownSeconds: e.USER_COOLDOWN_SECONDS,
      userDailyImages: e.USER_DAILY_IMAGES,
      guildDailyImages: e.GUILD_DAILY_IMAGES,
      guildDailyBudgetUsd: e.GUILD_DAILY_BUDGET_USD,
    }),
    dailyBudgetUsd: e.DAILY_BUDGET_USD,
    prices: e.IMAGEN_PRICES ?? {},
    safetyTolerance: Object.freeze({ min: e.SAFETY_TOLERANCE_MIN, max: e.SAFETY_TOLERANCE_MAX }),
    metrics: e.METRICS_PORT === undefined ? undefined : Object.freeze({ host: e.METRICS_HOST, port: e.METRICS_PORT }),
  });
}

/**
 * The models to offer: the operator's list, or else the ones Google still serves plus the default model (an
 * existing `.env` with IMAGEN_MODEL=imagen4 keeps offering what it runs). Catalog order, so the choice is stable.
 */
function offeredModels(listed: readonly ModelId[] | undefined, defaultModel: ModelId): ModelId[] {
  const wanted = new Set<ModelId>(listed ?? [...DEFAULT_OFFERED_MODEL_IDS, defaultModel]);
  return MODEL_IDS.filter((id) => wanted.has(id));
}

/**
 * Reads `.env` (if present; real environment variables win) and the process environment into a {@link Config}.
 * @throws {ConfigError} as {@link loadConfig} does.
 */
export function loadConfigFromEnvironment(): Config {
  loadDotenv({ quiet: true });
  // discord.js's Client reads SHARDS (with JSON.parse) and SHARD_COUNT from the environment by itself: an empty
  // line copied from .env.example must mean "unset" to it as it does here, not a crash or zero shards.
  for (const name of ['SHARDS', 'SHARD_COUNT']) {
    if (process.env[name]?.trim() === '') delete process.env[name];
  }
  return loadConfig(process.env);
}
