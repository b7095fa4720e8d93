import type { LogLevel } from './config.js';

/** Structured context attached to a log line (interaction id, generation id, fal request id...). */
export type LogContext = Readonly<Record<string, string | number | boolean | null | undefined>>;

export interface Logger {
  debug(message: string, context?: LogContext): void;
  info(message: string, context?: LogContext): void;
  warn(message: string, context?: LogContext): void;
  error(message: string, context?: LogContext): void;
  /**
   * Registers a value (a token, a key) that must never appear in a log line; it is replaced by [redacted].
   * `ttlMs` bounds how long it is remembered (interaction tokens are worthless after 15 minutes).
   */
  addSecret(secret: string, ttlMs?: number): void;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/**
 * A small JSON-lines logger. Every line passes through redaction of the registered secrets, so a token that
 * slips into an error message still never reaches the log.
 */
export function createLogger(options: {
  level: LogLevel;
  secrets?: readonly string[];
  write?: (line: string) => void;
}): Logger {
  /** secret -> when it may be forgotten (Infinity for the bot's own credentials). */
  const secrets = new Map<string, number>(
    (options.secrets ?? []).filter((s) => s.length >= 8).map((s) => [s, Number.POSITIVE_INFINITY]),
  );
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  const threshold = ORDER[options.level];

  const redact = (text: string): string => {
    let out = text;
    const now = Date.now();
    for (const [secret, until] of secrets) {
      if (until < now) secrets.delete(secret);
      else out = out.replaceAll(secret, '[redacted]');
    }
    return out;
  };

  const log = (level: LogLevel, message: string, context?: LogContext) => {
    if (ORDER[level] < threshold) return;
    const line = JSON.stringify({ time: new Date().toISOString(), level, message, ...context });
    write(redact(line));
  };

  return {
    debug: (message, context) => log('debug', message, context),
    info: (message, context) => log('info', message, context),
    warn: (message, context) => log('warn', message, context),
    error: (message, context) => log('error', message, context),
    addSecret: (secret, ttlMs) => {
      if (secret.length < 8) return;
      const until = ttlMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + ttlMs;
      secrets.set(secret, Math.max(until, secrets.get(secret) ?? 0));
    },
  };
}

/** Describes an unexpected error for a log line: name, message and the top of the stack. */
export function errorContext(error: unknown): LogContext {
  if (error instanceof Error) {
    return { error: `${error.name}: ${error.message}`, stack: error.stack?.split('\n').slice(1, 6).join(' | ') };
  }
  return { error: String(error) };
}
