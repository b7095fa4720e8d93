import { config as loadDotenv } from 'dotenv';
import { z } from 'zod';
import { DEFAULT_MODEL_ID, MODEL_IDS } from './models/registry.js';

/**
 * Every environment variable the bot reads, with how to fix it when it is wrong.
 * This module is the only reader of `process.env` (see STYLE.md, rule 1).
 */
const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;

const HINTS: Record<string, string> = {
  DISCORD_TOKEN:
    'copy the bot token from https://discord.com/developers/applications -> your app -> Bot -> Reset Token',
  FAL_KEY: 'create a key at https://fal.ai/dashboard/keys; it looks like "key-id:key-secret"',
  DISCORD_API_URL: 'leave it unset for Discord itself, or give a full URL such as http://127.0.0.1:8080/api',
  FAL_BASE_URL: 'leave it unset for fal itself, or give a full URL such as http://127.0.0.1:8081',
  DATABASE_PATH: 'give a file path such as ./data/imagine.sqlite',
  DISCORD_GUILD_ID: 'leave it unset to register commands globally, or give a server id (right-click the server -> Copy Server ID)',
  IMAGEN_MODEL: `use one of: ${MODEL_IDS.join(', ')}`,
  LOG_LEVEL: `use one of: ${LOG_LEVELS.join(', ')}`,
  FAL_POLL_INTERVAL_MS: 'give a whole number of milliseconds between 10 and 60000',
  JOB_TIMEOUT_SECONDS: 'give a whole number of seconds between 1 and 3600',
  IMAGE_DOWNLOAD_TIMEOUT_MS: 'give a whole number of milliseconds between 1000 and 600000',
  IMAGE_MAX_BYTES: 'give a whole number of bytes between 1024 and 104857600',
  SHUTDOWN_GRACE_SECONDS: 'give a whole number of seconds between 0 and 600',
};

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

const intInRange = (min: number, max: number, fallback: number) =>
  optionalString.pipe(
    z
      .string()
      .regex(/^\d+$/, { error: 'must be a whole number' })
      .transform(Number)
      .pipe(z.number().min(min, { error: `must be at least ${min}` }).max(max, { error: `must be at most ${max}` }))
      .default(fallback),
  );

const EnvSchema = z.object({
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
  DISCORD_GUILD_ID: optionalString.pipe(
    z.string().regex(/^\d{17,20}$/, { error: 'must be a server id (17-20 digits)' }).optional(),
  ),
  IMAGEN_MODEL: optionalString.pipe(z.enum(MODEL_IDS, { error: 'is not a known model' }).default(DEFAULT_MODEL_ID)),
  LOG_LEVEL: optionalString.pipe(z.enum(LOG_LEVELS, { error: 'is not a log level' }).default('info')),
  FAL_POLL_INTERVAL_MS: intInRange(10, 60_000, 1000),
  JOB_TIMEOUT_SECONDS: intInRange(1, 3600, 600),
  IMAGE_DOWNLOAD_TIMEOUT_MS: intInRange(1000, 600_000, 30_000),
  IMAGE_MAX_BYTES: intInRange(1024, 100 * 1024 * 1024, 25 * 1024 * 1024),
  SHUTDOWN_GRACE_SECONDS: intInRange(0, 600, 20),
});

export type LogLevel = (typeof LOG_LEVELS)[number];

/** The validated, frozen configuration every service receives. */
export interface Config {
  readonly discordToken: string;
  readonly falKey: string;
  readonly discordApiUrl: string | undefined;
  readonly falBaseUrl: string | undefined;
  readonly databasePath: string;
  readonly guildId: string | undefined;
  readonly defaultModel: (typeof MODEL_IDS)[number];
  readonly logLevel: LogLevel;
  readonly falPollIntervalMs: number;
  readonly jobTimeoutMs: number;
  readonly imageDownloadTimeoutMs: number;
  readonly imageMaxBytes: number;
  /** On SIGTERM/SIGINT, how long running jobs may still finish before the rest is left for the next start. */
  readonly shutdownGraceMs: number;
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
    guildId: e.DISCORD_GUILD_ID,
    defaultModel: e.IMAGEN_MODEL,
    logLevel: e.LOG_LEVEL,
    falPollIntervalMs: e.FAL_POLL_INTERVAL_MS,
    jobTimeoutMs: e.JOB_TIMEOUT_SECONDS * 1000,
    imageDownloadTimeoutMs: e.IMAGE_DOWNLOAD_TIMEOUT_MS,
    imageMaxBytes: e.IMAGE_MAX_BYTES,
    shutdownGraceMs: e.SHUTDOWN_GRACE_SECONDS * 1000,
  });
}

/**
 * Reads `.env` (if present; real environment variables win) and the process environment into a {@link Config}.
 * @throws {ConfigError} as {@link loadConfig} does.
 */
export function loadConfigFromEnvironment(): Config {
  loadDotenv({ quiet: true });
  return loadConfig(process.env);
}
