import { readFileSync } from 'node:fs';
import { parse } from 'dotenv';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

const valid = {
  DISCORD_TOKEN: 'MTIzNDU2Nzg5MDEyMzQ1Njc4.Gabcde.secretsecretsecret',
  FAL_KEY: 'key-id:key-secret-value',
};

function problems(env: Record<string, string | undefined>): readonly string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('applies defaults', () => {
    const config = loadConfig(valid);
    expect(config).toMatchObject({
      databasePath: './data/imagine.sqlite',
      defaultModel: 'nano-banana-2',
      models: ['nano-banana-2', 'nano-banana-pro'],
      logLevel: 'info',
      discordApiUrl: undefined,
      falBaseUrl: undefined,
      guildId: undefined,
    });
    // No cooldown by default: it would refuse a member rerolling a result the moment it arrives.
    expect(config.limits).toMatchObject({ userMaxActiveJobs: 1, userCooldownSeconds: 0 });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads every optional variable, trimming a trailing slash from URLs', () => {
    const config = loadConfig({
      ...valid,
      DISCORD_API_URL: 'http://127.0.0.1:9000/api/',
      FAL_BASE_URL: 'http://127.0.0.1:9001',
      DATABASE_PATH: '/tmp/x.sqlite',
      DISCORD_GUILD_ID: '123456789012345678',
      IMAGEN_MODEL: 'imagen4-ultra',
      LOG_LEVEL: 'debug',
      FAL_POLL_INTERVAL_MS: '20',
    });
    expect(config).toMatchObject({
      discordApiUrl: 'http://127.0.0.1:9000/api',
      falBaseUrl: 'http://127.0.0.1:9001',
      databasePath: '/tmp/x.sqlite',
      guildId: '123456789012345678',
      defaultModel: 'imagen4-ultra',
      logLevel: 'debug',
      falPollIntervalMs: 20,
    });
  });

  it('keeps an existing IMAGEN_MODEL=imagen4 working: offered next to the Gemini models', () => {
    expect(loadConfig({ ...valid, IMAGEN_MODEL: 'imagen4' })).toMatchObject({
      defaultModel: 'imagen4',
      models: ['nano-banana-2', 'nano-banana-pro', 'imagen4'],
    });
  });

  it('offers exactly the models in IMAGEN_MODELS, which must include the default', () => {
    expect(
      loadConfig({ ...valid, IMAGEN_MODELS: ' nano-banana-pro , nano-banana-2', IMAGEN_MODEL: 'nano-banana-pro' }),
    ).toMatchObject({
      defaultModel: 'nano-banana-pro',
      models: ['nano-banana-2', 'nano-banana-pro'],
    });
    expect(problems({ ...valid, IMAGEN_MODELS: 'nano-banana-pro' })).toEqual([
      'IMAGEN_MODEL is not one of IMAGEN_MODELS (the default model must be offered): use one of: nano-banana-2, nano-banana-pro, imagen4, imagen4-fast, imagen4-ultra',
    ]);
    expect(problems({ ...valid, IMAGEN_MODELS: 'nano-banana-2,dall-e' })).toEqual([
      expect.stringMatching(/^IMAGEN_MODELS names an unknown model: list the models to offer/),
    ]);
  });

  it('treats empty values (as copied from .env.example) as unset', () => {
    expect(loadConfig({ ...valid, DISCORD_GUILD_ID: '', FAL_BASE_URL: ' ' }).guildId).toBeUndefined();
  });

  it('names every missing variable with how to get it, one line each', () => {
    const lines = problems({});
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^DISCORD_TOKEN is missing: .*discord\.com\/developers/);
    expect(lines[1]).toMatch(/^FAL_KEY is missing: .*fal\.ai\/dashboard\/keys/);
  });

  it('explains malformed values without echoing them', () => {
    const secret = 'not-a-real-token-but-secret';
    const lines = problems({
      DISCORD_TOKEN: secret,
      FAL_KEY: 'nocolon',
      DISCORD_API_URL: 'ftp://x',
      IMAGEN_MODEL: 'dall-e',
      FAL_POLL_INTERVAL_MS: 'soon',
      DISCORD_GUILD_ID: 'abc',
    });
    expect(lines.map((line) => line.split(' ')[0])).toEqual([
      'DISCORD_TOKEN',
      'FAL_KEY',
      'DISCORD_API_URL',
      'DISCORD_GUILD_ID',
      'IMAGEN_MODEL',
      'FAL_POLL_INTERVAL_MS',
    ]);
    expect(lines.join('\n')).not.toContain(secret);
    expect(lines.join('\n')).not.toContain('nocolon');
  });
});

describe('METRICS_PORT and METRICS_HOST', () => {
  it('serve nothing unless METRICS_PORT is set', () => {
    expect(loadConfig(valid).metrics).toBeUndefined();
    expect(loadConfig({ ...valid, METRICS_PORT: '', METRICS_HOST: '0.0.0.0' }).metrics).toBeUndefined();
  });

  it('listen on 127.0.0.1 unless METRICS_HOST says otherwise', () => {
    expect(loadConfig({ ...valid, METRICS_PORT: '9464' }).metrics).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(loadConfig({ ...valid, METRICS_PORT: '9464', METRICS_HOST: '0.0.0.0' }).metrics).toEqual({
      host: '0.0.0.0',
      port: 9464,
    });
  });

  it('refuse a port that is not one, naming the variable and the range', () => {
    for (const port of ['65536', 'http', '-1', '9464.5']) {
      expect(problems({ ...valid, METRICS_PORT: port })).toEqual([
        expect.stringMatching(/^METRICS_PORT .*: .*from 1 to 65535/) as unknown,
      ]);
    }
    expect(problems({ ...valid, METRICS_PORT: '9464', METRICS_HOST: 'a host' })[0]).toMatch(/^METRICS_HOST /);
  });
});

describe('.env.example and README', () => {
  const example = parse(readFileSync(new URL('../.env.example', import.meta.url)));
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

  it('loads once the two required values are filled in', () => {
    const config = loadConfig({ ...example, ...valid });
    expect(config.limits.userMaxActiveJobs).toBe(1);
  });

  it('documents every variable the bot reads', () => {
    const names = [
      ...readFileSync(new URL('../src/config.ts', import.meta.url), 'utf8').matchAll(/^ {2,4}([A-Z][A-Z_]+):/gm),
    ]
      .map((m) => m[1] ?? '')
      .filter((name) => name !== '');
    expect(names.length).toBeGreaterThan(20);
    for (const name of new Set(names)) {
      expect(Object.keys(example), `${name} in .env.example`).toContain(name);
      expect(readme, `${name} in README`).toContain(name.replace(/_(MIN|MAX)$/, ''));
    }
  });
});

describe('SHARD_COUNT, SHARDS, SHARD_LIST and SHARD_SPAWN_DELAY_MS', () => {
  const postgres = { ...valid, DATABASE_URL: 'postgres://imagen@127.0.0.1:5432/imagen' };

  it('run one process, unsharded, when unset', () => {
    expect(loadConfig(valid).sharding).toEqual({
      count: undefined,
      shardIds: undefined,
      shardList: undefined,
      spawnDelayMs: 5500,
    });
  });

  it('run the sharding manager with SHARD_COUNT: a number or auto, every shard or those of SHARD_LIST', () => {
    expect(loadConfig({ ...postgres, SHARD_COUNT: 'auto' }).sharding).toMatchObject({
      count: 'auto',
      shardIds: undefined,
    });
    expect(
      loadConfig({ ...postgres, SHARD_COUNT: '4', SHARD_LIST: '2, 3,2', SHARD_SPAWN_DELAY_MS: '0' }).sharding,
    ).toEqual({ count: 4, shardIds: undefined, shardList: [2, 3], spawnDelayMs: 0 });
  });

  it('make this process a shard with SHARDS, as the manager sets it or as given by hand (one id or a list)', () => {
    // What discord.js's ShardingManager gives its children: SHARDING_MANAGER, SHARDS and SHARD_COUNT.
    const child = loadConfig({ ...postgres, SHARDING_MANAGER: 'true', SHARDS: '1', SHARD_COUNT: '3' });
    expect(child.sharding).toMatchObject({ count: 3, shardIds: [1] });
    expect(loadConfig({ ...postgres, SHARDS: '1', SHARD_COUNT: '3' }).sharding.shardIds).toEqual([1]);
    expect(loadConfig({ ...postgres, SHARDS: '[0, 2]', SHARD_COUNT: '3' }).sharding.shardIds).toEqual([0, 2]);
  });

  it('need DATABASE_URL: every shard is a process of its own', () => {
    expect(problems({ ...valid, SHARD_COUNT: '2' })).toEqual([
      expect.stringMatching(
        /^SHARD_COUNT needs DATABASE_URL: .*PostgreSQL.*: leave it unset for one process/,
      ) as unknown,
    ]);
  });

  it('refuse values that do not make a set of shards, in plain words with a hint', () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ SHARD_COUNT: '0' }, /^SHARD_COUNT must be at least 1: .*auto/],
      [{ SHARD_COUNT: 'many' }, /^SHARD_COUNT must be auto or a whole number: /],
      [{ SHARD_COUNT: '3', SHARDS: 'one' }, /^SHARDS must be a shard id or a list such as \[0,1\]: /],
      [{ SHARD_COUNT: '3', SHARDS: '0,1' }, /^SHARDS must be a shard id or a list/],
      [{ SHARDS: '1' }, /^SHARDS needs SHARD_COUNT set to the number of shards .*: leave it unset/],
      [{ SHARD_COUNT: 'auto', SHARDS: '1' }, /^SHARDS needs SHARD_COUNT set to the number/],
      [{ SHARD_COUNT: '3', SHARDS: '3' }, /^SHARDS names a shard that is not below SHARD_COUNT/],
      [{ SHARD_COUNT: '2', SHARD_LIST: '0;1' }, /^SHARD_LIST must be shard ids separated by commas: .*e\.g\. 0,1/],
      [{ SHARD_COUNT: '2', SHARD_LIST: '1,2' }, /^SHARD_LIST names a shard that is not below SHARD_COUNT/],
      [{ SHARD_COUNT: 'auto', SHARD_LIST: '0' }, /^SHARD_LIST needs SHARD_COUNT set to a number: .*agree/],
      [{ SHARD_LIST: '0' }, /^SHARD_LIST needs SHARD_COUNT/],
      [
        { SHARD_SPAWN_DELAY_MS: '60001' },
        /^SHARD_SPAWN_DELAY_MS must be at most 60000: .*from 0 to 60000 milliseconds/,
      ],
    ];
    for (const [env, expected] of cases) {
      expect(problems({ ...postgres, ...env }), JSON.stringify(env)).toEqual([expect.stringMatching(expected)]);
    }
  });
});
