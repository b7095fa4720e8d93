import { Client, Events, Options, REST, RESTEvents } from 'discord.js';
import type { Config } from './config.js';
import { commandDefinitions, type Command, type CommandContext } from './discord/command.js';
import { InteractionChannels } from './discord/interactionChannels.js';
import { DiscordImageLocator } from './discord/imageLocator.js';
import { DiscordReplyTarget } from './discord/replyTarget.js';
import { syncCommands } from './discord/registration.js';
import { createInteractionRouter } from './discord/router.js';
import { createFal } from './fal/client.js';
import { GenerationService } from './generation/service.js';
import { GuildSettingsStore } from './limits/guildSettings.js';
import { errorContext, type Logger } from './logger.js';
import { BotMetrics, type QueueCounts } from './metrics/botMetrics.js';
import { watchInteractionAcks } from './metrics/interactionAcks.js';
import { MetricsServer, type MetricsAddress } from './metrics/server.js';
import { DEFAULT_MODEL_ID, DEFAULT_OFFERED_MODEL_IDS, findModel } from './models/registry.js';
import { randomUUID } from 'node:crypto';
import { openDatabase, type Database } from './store/database.js';
import { GenerationStore } from './store/generations.js';
import { JobClaims } from './store/jobClaims.js';
import { SettingsStore } from './store/settings.js';

/**
 * Discord's REST timeout covers the whole request, upload included, and a timed-out request is retried:
 * a slow upload of four large images must not time out into a duplicate post.
 */
const REST_TIMEOUT_MS = 120_000;
/** /readyz answers within this even when the database hangs (an orchestrator's probe has its own timeout). */
const READINESS_DATABASE_TIMEOUT_MS = 2000;

export interface Bot {
  readonly client: Client;
  readonly database: Database;
  readonly store: GenerationStore;
  readonly generations: GenerationService;
  /** Where /metrics, /healthz and /readyz are served once started (METRICS_PORT), else undefined. */
  metricsAddress(): MetricsAddress | undefined;
  /** Logs in, registers commands if they changed, and starts answering interactions. */
  start(): Promise<void>;
  /**
   * Stops taking new work (members are told the bot is restarting), lets running jobs finish for up to
   * `graceMs`, leaves the rest to be resumed by the next start, logs out and closes the database.
   */
  stop(graceMs?: number): Promise<void>;
}

/**
 * The composition root's workhorse: opens the database (SQLite, or PostgreSQL with DATABASE_URL), builds every
 * service from the config and wires them together.
 */
export async function createBot(
  config: Config,
  options: { logger: Logger; commands: ReadonlyMap<string, Command> },
): Promise<Bot> {
  const { logger, commands } = options;
  const database = await openDatabase({
    url: config.databaseUrl,
    path: config.databasePath,
    poolSize: config.databasePoolSize,
  });
  // This process's name on the jobs it holds: unique per start, so a restarted process never mistakes a dead
  // one's lease for its own.
  const claimant = { owner: `${process.pid}-${randomUUID().slice(0, 8)}`, leaseMs: config.jobLeaseMs };
  const store = new GenerationStore(database, claimant);
  const claims = new JobClaims(database, claimant);
  const settings = new SettingsStore(database);
  const fal = createFal({ key: config.falKey, baseUrl: config.falBaseUrl });
  const guildSettings = new GuildSettingsStore(database, config);
  // Only with METRICS_PORT: default process metrics run timers and observers an install without it does not need.
  // The queue depth is read at each scrape, once `generations` (below) exists.
  const queue: QueueCounts = () => generations.queueCounts();
  const metrics = config.metrics && new BotMetrics({ queue });

  const restOptions = { timeout: REST_TIMEOUT_MS, ...(config.discordApiUrl && { api: config.discordApiUrl }) };
  const client = new Client({
    // Interactions need no gateway intent; without the Guilds intent no guild cache is built at all.
    intents: [],
    rest: restOptions,
    allowedMentions: { parse: [], repliedUser: false },
    makeCache: Options.cacheWithLimits({
      ...Options.DefaultMakeCacheSettings,
      MessageManager: 0,
      ReactionManager: 0,
      GuildMemberManager: 0,
      UserManager: 0,
      PresenceManager: 0,
      VoiceStateManager: 0,
    }),
  });

  // Interaction webhooks (a reply's progress and result edits, followups) are not bound to the bot's global rate
  // limit (https://discord.com/developers/docs/topics/rate-limits#global-rate-limit), but discord.js counts them
  // against its 50 requests/s: under load, results would queue behind other requests. This client has no bot
  // token (the interaction token in the route is the credential) and no global cap; route buckets and any 429
  // Discord sends are still honoured.
  const interactionRest = new REST({ ...restOptions, globalRequestsPerSecond: Number.POSITIVE_INFINITY });
  for (const [name, rest] of [
    ['bot', client.rest],
    ['interaction', interactionRest],
  ] as const) {
    // Only the generalised route: the URL and the major parameter of a webhook route contain its token.
    rest.on(RESTEvents.RateLimited, ({ route, method, global, scope, retryAfter }) => {
      const detail = { client: name, route, method, global, scope, retryAfterMs: retryAfter };
      // A route's own bucket running dry is routine; a global limit stalls every request of that client.
      if (global) logger.warn('waiting out a global Discord rate limit', detail);
      else logger.info('waiting out a Discord rate limit', detail);
      metrics?.rateLimited(name, global, retryAfter);
    });
  }
  // Interaction callbacks (every acknowledgement) go through the bot's client: discord.js's interaction methods.
  if (metrics) watchInteractionAcks(client.rest, metrics);

  const replyTarget = new DiscordReplyTarget({ botRest: client.rest, interactionRest, store, logger });
  const generations = new GenerationService({
    store,
    claims,
    fal,
    logger,
    target: replyTarget,
    images: new DiscordImageLocator({ botRest: client.rest, store, logger }),
    pollIntervalMs: config.falPollIntervalMs,
    jobTimeoutMs: config.jobTimeoutMs,
    download: { timeoutMs: config.imageDownloadTimeoutMs, maxBytes: config.imageMaxBytes },
    concurrency: config.falConcurrency,
    prices: config.prices,
    dailyBudgetUsd: config.dailyBudgetUsd,
    metrics,
  });

  const channels = new InteractionChannels(client);
  let context: CommandContext | undefined;
  const contextFor = (): CommandContext => {
    if (context) return context;
    if (!client.isReady()) throw new Error('interaction received before the client was ready');
    context = {
      config,
      logger,
      client,
      generations,
      store,
      guildSettings,
      inThread: (interactionId) => channels.isThread(interactionId),
    };
    return context;
  };
  let draining = false;
  const route = createInteractionRouter(commands, contextFor, logger, () => draining);
  client.on(Events.InteractionCreate, (interaction) => {
    route(interaction)
      .catch((error: unknown) => logger.error('interaction routing failed', errorContext(error)))
      .finally(() => channels.forget(interaction.id));
  });
  client.on(Events.Error, (error) => logger.error('discord client error', errorContext(error)));
  client.on(Events.Warn, (message) => logger.warn('discord client warning', { detail: message }));

  const metricsServer =
    metrics &&
    new MetricsServer({
      registry: metrics.registry,
      logger,
      ready: () => readiness(database, client, draining),
    });
  let metricsAddress: MetricsAddress | undefined;

  return {
    client,
    database,
    store,
    generations,
    metricsAddress: () => metricsAddress,
    async start() {
      if (metricsServer && config.metrics) {
        // Before login, so /healthz answers (and /readyz says why not yet) while the gateway connects.
        metricsAddress = await metricsServer.listen(config.metrics.host, metricsPort(config.metrics.port, config));
        logger.info('serving /metrics, /healthz and /readyz', { ...metricsAddress });
      }
      const ready = new Promise<Client<true>>((resolve) => client.once(Events.ClientReady, resolve));
      await client.login(config.discordToken);
      const readyClient = await ready;
      logger.info('logged in to Discord', { user: readyClient.user.id, application: readyClient.application.id });
      warnAboutRetiredDefault(config, logger);
      const resumed = await generations.run();
      if (resumed > 0) logger.info('resumed unfinished generations', { count: resumed });
      // Under sharding one process registers the commands (the one with shard 0): they are the same for all.
      const shards = config.sharding.shardIds;
      if (shards && !shards.includes(0)) return;
      try {
        await syncCommands({
          rest: client.rest,
          applicationId: readyClient.application.id,
          guildId: config.guildId,
          commands: commandDefinitions(commands, config),
          settings,
          logger,
        });
      } catch (error) {
        // Commands registered earlier keep working; the next start (or npm run deploy-commands) tries again.
        logger.error('could not register the slash commands', errorContext(error));
      }
    },
    async stop(graceMs = config.shutdownGraceMs) {
      draining = true;
      await generations.drain(graceMs);
      await client.destroy();
      interactionRest.clearHashSweeper();
      interactionRest.clearHandlerSweeper();
      await database.close();
      // Last, so the drain can still be watched.
      await metricsServer?.close();
      metricsAddress = undefined;
    },
  };
}

/** What /readyz reports: null when ready, else why not, in plain words. */
async function readiness(database: Database, client: Client, draining: boolean): Promise<string | null> {
  if (draining) return 'shutting down';
  let timer: NodeJS.Timeout | undefined;
  const tooSlow = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timeout')), READINESS_DATABASE_TIMEOUT_MS);
  });
  try {
    await Promise.race([database.ping(), tooSlow]);
  } catch {
    return 'the database does not answer';
  } finally {
    clearTimeout(timer);
  }
  return client.isReady() ? null : 'not connected to the Discord gateway';
}

/**
 * The port this process serves metrics on: METRICS_PORT, or under sharding, where every shard is a process with
 * the same environment, METRICS_PORT plus the process's first shard id (0 still picks a free port).
 */
export function metricsPort(port: number, config: Pick<Config, 'sharding'>): number {
  const first = config.sharding.shardIds?.[0];
  return port === 0 || first === undefined ? port : port + first;
}

/** A default model Google retired (Imagen 4) still runs where fal serves it, but the operator should know. */
function warnAboutRetiredDefault(config: Config, logger: Logger): void {
  const model = findModel(config.defaultModel);
  if (!model?.retired) return;
  logger.warn(
    `IMAGEN_MODEL is ${model.id}: ${model.retired}, and every job would then fail. ` +
      `Set IMAGEN_MODEL=${DEFAULT_MODEL_ID} (or another of ${DEFAULT_OFFERED_MODEL_IDS.join(', ')}) in .env; see README, Models.`,
    { model: model.id, endpoint: model.endpointId },
  );
}
