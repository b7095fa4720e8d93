import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { InteractionPayload, RecordedRequest } from '../test/fakes/discord.js';
import type { FalJobPlan } from '../test/fakes/fal.js';
import { testPng } from '../test/fakes/png.js';
import { distribution, max, mean, median, min, round, type Distribution } from './stats.js';
import { guildOnShard } from '../test/fakes/discord.js';
import { BenchWorld, cpuTimes } from './world.js';

export type Size = '1K' | '2K';

export interface BenchOptions {
  readonly jobs: number;
  readonly concurrent: number;
  readonly images: number;
  readonly size: Size;
  readonly queueMs: number;
  readonly genMs: number;
  readonly pollMs: number;
  readonly burstMs: number;
  readonly samples: number;
  readonly runs: number;
  /** Noise (incompressible, realistic size) PNGs in the concurrent scenario; solid ones otherwise. */
  readonly noise: boolean;
  readonly nodeArgs: readonly string[];
  readonly entry: string | undefined;
  readonly env: Readonly<Record<string, string>>;
  /** FAL_CONCURRENCY given to the bot; undefined leaves the bot's default. */
  readonly falConcurrency: number | undefined;
  /** Burst size of the `processes` scenario. */
  readonly processesJobs: number;
  /** Fleet sizes of the `processes` scenario (bot processes on one PostgreSQL database, one shard each). */
  readonly processCounts: readonly number[];
}

export const SIDE: Record<Size, number> = { '1K': 1024, '2K': 2048 };

/** Per job: what reached Discord and fal, and how polite the bot was about it. */
export interface JobRecord {
  readonly prompt: string;
  readonly refusal: string | undefined;
  readonly acked: boolean;
  readonly delivered: boolean;
  readonly ackMs: number;
  readonly restCalls: number;
  readonly progressEdits: number;
  /** Smallest gap between two progress edits of this job (Infinity with fewer than two). */
  readonly minEditGapMs: number;
  /** When each edit of @original reached Discord, ms after the dispatch (the last one is the result). */
  readonly editsAtMs: number[];
  readonly statusPolls: number;
  readonly minPollGapMs: number;
  /** First status poll to COMPLETED served, i.e. how long the job was at fal as the bot saw it. */
  readonly falMs: number;
  /** COMPLETED served to the last byte of the final edit reaching Discord. */
  readonly deliverMs: number;
  /** The job finishing at fal (before the bot can know) to its first upload reaching Discord. */
  readonly finishToUploadMs: number;
}

export interface PolitenessSummary {
  readonly restCallsPerJobMean: number;
  readonly restCallsPerJobMax: number;
  readonly progressEditsPerJobMean: number;
  readonly progressEditsPerJobMax: number;
  readonly minProgressEditGapMs: number;
  /** Edit arrival times (ms after dispatch) of the job with the smallest gap between progress edits. */
  readonly closestEditsAtMs: number[];
  /** Status requests per job: polls, and status streams (one per connection). */
  readonly statusPollsPerJobMean: number;
  /** Status polls per job divided by the polls one per interval allows ((fal time / interval) + 1); <= 1 is polite. */
  readonly statusPollsPerAllowedMax: number;
  readonly minStatusPollGapMs: number;
}

export interface BurstResult {
  readonly jobs: number;
  readonly dispatchSpanMs: number;
  readonly acked: number;
  readonly delivered: number;
  readonly ackMs: Distribution;
  /** Every job's ack latency, in dispatch order. */
  readonly ackSamplesMs: number[];
  readonly cpuSecondsPerJob: number;
  readonly wallMs: number;
  /** COMPLETED served -> final edit received, over all jobs. */
  readonly deliverMs: Distribution;
  /** Job finished at fal -> its upload starts, over all jobs. */
  readonly finishToUploadMs: Distribution;
  /** New TCP connections the bot opened during the scenario. */
  readonly connectionsOpened: { readonly discord: number; readonly fal: number };
  /** This process (the fakes and the clock of the measurement) during the dispatch second. */
  readonly bench: { readonly loopDelayP99Ms: number; readonly loopDelayMaxMs: number; readonly cpuPercent: number };
  readonly politeness: PolitenessSummary;
  readonly botWarnings: string[];
  /** Refusal messages (should be none), de-duplicated with counts. */
  readonly refusals: string[];
}

export interface ConcurrentResult {
  readonly jobs: number;
  readonly imagesPerJob: number;
  readonly size: Size;
  readonly noise: boolean;
  readonly bytesPerJob: number;
  readonly delivered: number;
  readonly idleRssMb: number;
  readonly peakRssMb: number;
  readonly peakRssSampledMb: number;
  readonly cpuSecondsPerJob: number;
  readonly wallMs: number;
  readonly deliverMs: Distribution;
  readonly finishToUploadMs: Distribution;
  readonly politeness: PolitenessSummary;
  readonly botWarnings: string[];
  readonly refusals: string[];
}

export interface OverheadCase {
  readonly label: string;
  readonly images: number;
  readonly size: Size;
  /** The PNGs are over Discord's 10 MiB per-file limit: the bot has to re-encode them to deliver. */
  readonly reencodeNeeded: boolean;
  readonly bytesPerJob: number;
  readonly samples: number;
  readonly delivered: number;
  /** COMPLETED served by fal -> last upload body byte received by Discord; delivered jobs only. */
  readonly overheadMs: Distribution;
  /** COMPLETED served -> last byte of the job's last upload attempt, delivered or not. */
  readonly attemptMs: Distribution;
  /** Same bytes: one parallel download + one upload over loopback with plain node:http, separate process (median). */
  readonly floorMs: number;
  readonly floorDownloadMs: number;
  readonly floorUploadMs: number;
  readonly ratioP50: number;
  /** Job finished at fal (the bench lets it complete after {@link OVERHEAD_RUN_MS}) -> first upload request starts. */
  readonly finishToUploadMs: Distribution;
  /** Medians of the steps between COMPLETED and the end of the upload, as the fakes saw them. */
  readonly breakdownMs: Record<string, number>;
  readonly botWarnings: string[];
}

export interface OverheadResult {
  readonly idleRssMb: number;
  readonly cases: OverheadCase[];
}

interface Dispatched {
  readonly prompt: string;
  readonly images: number;
  readonly interaction: InteractionPayload;
  readonly dispatchedAt: number;
  /** The gateway shard Discord sent it to, i.e. the bot process that received it. */
  readonly shard: number;
  final: RecordedRequest | undefined;
  /** What the bot answered instead of deferring, if it refused the job. */
  refusal?: string;
}

/**
 * Queue then generation, in wall-clock terms whether the bot polls or streams: the fake answers IN_QUEUE
 * (positions 2, 1, 0) and is held at position 0 until the bench releases it `queueMs` after submission; then it
 * answers IN_PROGRESS until the bench completes it `genMs` later (see {@link BenchWorld.usePlan}).
 */
function timedPlan(options: BenchOptions, images: { width: number; height: number; noise: boolean }): FalJobPlan {
  return { queuePositions: [2, 1, 0], hold: options.queueMs > 0, holdRunning: true, progressPolls: 1, images };
}

/** An interaction's reply is final once an edit of @original no longer offers Cancel. */
function isFinalEdit(token: string) {
  return (r: RecordedRequest): boolean => {
    if (r.method !== 'PATCH' || !r.path.endsWith(`/${token}/messages/@original`)) return false;
    const body = r.body as { components?: { components?: { custom_id?: string }[] }[] } | undefined;
    const ids = (body?.components ?? []).flatMap((row) => row.components ?? []).map((c) => c.custom_id ?? '');
    return !ids.some((id) => id.includes(':cancel:'));
  };
}

let promptCounter = 0;

/**
 * Each job comes from its own member, as in a busy server (per-member limits are not under test); in the fake's
 * guild unless `guildId` says another.
 */
function dispatch(world: BenchWorld, images: number, size: Size, guildId?: string): Dispatched {
  promptCounter += 1;
  const prompt = `bench job ${promptCounter} ${process.pid}`;
  const user = { id: String(300_000_000_000_000_000n + BigInt(promptCounter)), username: `member${promptCounter}` };
  const { interaction, dispatchedAt, shard } = world.imagine(prompt, images, size, user, guildId);
  return { prompt, images, interaction, dispatchedAt, shard, final: undefined };
}

/** Dispatches `count` jobs evenly over `spanMs` (job `i` in guild `guildOf(i)`); resolves once all are sent. */
async function dispatchSpread(
  world: BenchWorld,
  count: number,
  spanMs: number,
  images: number,
  size: Size,
  guildOf?: (index: number) => string,
): Promise<{ jobs: Dispatched[]; spanMs: number }> {
  const jobs: Dispatched[] = [];
  const start = performance.now();
  while (jobs.length < count) {
    const due = start + (jobs.length * spanMs) / count;
    const now = performance.now();
    if (now >= due) jobs.push(dispatch(world, images, size, guildOf?.(jobs.length)));
    else await sleep(Math.max(1, Math.floor(due - now)));
  }
  return { jobs, spanMs: performance.now() - start };
}

/** A refusal (limits, permissions, bad input) is an immediate ephemeral reply instead of a deferral. */
function isRefusal(interactionId: string) {
  return (r: RecordedRequest): boolean =>
    r.method === 'POST' &&
    r.path.startsWith(`/interactions/${interactionId}/`) &&
    (r.body as { type?: number } | undefined)?.type === 4;
}

async function waitForFinals(world: BenchWorld, jobs: Dispatched[], timeoutMs: number): Promise<void> {
  await Promise.allSettled(
    jobs.map(async (job) => {
      const final = isFinalEdit(job.interaction.token);
      const refused = isRefusal(job.interaction.id);
      const ending = await world.discord.waitForRequest((r) => final(r) || refused(r), timeoutMs);
      if (final(ending)) job.final = ending;
      else job.refusal = (ending.body as { data?: { content?: string } } | undefined)?.data?.content ?? 'refused';
    }),
  );
}

function filesDelivered(world: BenchWorld, job: Dispatched): number {
  return world
    .requestsOf(job.interaction)
    .filter((r) => r.path.startsWith('/webhooks/') && r.status >= 200 && r.status < 300)
    .reduce((sum, r) => sum + r.files.length, 0);
}

function gaps(times: readonly number[]): number[] {
  return times.slice(1).map((t, i) => t - times[i]!);
}

function jobRecord(world: BenchWorld, job: Dispatched): JobRecord {
  const ack = world.ackArrivals.get(job.interaction.id);
  const acked = world.discord.interaction(job.interaction.id)?.acknowledged != null;
  const webhook = world.webhookRequests.get(job.interaction.token) ?? [];
  const edits = webhook.filter((r) => r.method === 'PATCH').map((r) => r.start);
  const progressEdits = job.final ? edits.slice(0, -1) : edits;
  const requestId = world.requestIdOf(job.prompt);
  const polls = requestId ? (world.statusPolls.get(requestId) ?? []) : [];
  const completed = requestId ? world.completedAt.get(requestId) : undefined;
  const finished = requestId ? world.finishedAt.get(requestId) : undefined;
  const firstUpload = min(webhook.filter((r) => r.multipart).map((r) => r.start));
  return {
    prompt: job.prompt,
    refusal: job.refusal,
    acked,
    delivered: job.final !== undefined && filesDelivered(world, job) >= job.images,
    ackMs: ack === undefined ? Number.NaN : ack - job.dispatchedAt,
    restCalls: world.requestsOf(job.interaction).length,
    progressEdits: progressEdits.length,
    minEditGapMs: progressEdits.length < 2 ? Number.POSITIVE_INFINITY : min(gaps(progressEdits)),
    editsAtMs: edits.map((t) => round(t - job.dispatchedAt)),
    statusPolls: polls.length,
    minPollGapMs: polls.length < 2 ? Number.POSITIVE_INFINITY : min(gaps(polls)),
    falMs: completed !== undefined && polls.length > 0 ? completed - polls[0]! : Number.NaN,
    deliverMs:
      completed !== undefined && job.final
        ? (webhook.filter((r) => r.method === 'PATCH').at(-1)?.end ?? Number.NaN) - completed
        : Number.NaN,
    finishToUploadMs: finished !== undefined ? firstUpload - finished : Number.NaN,
  };
}

function politeness(records: readonly JobRecord[], pollMs: number): PolitenessSummary {
  const allowed = records.map((r) => r.statusPolls / (Math.floor(r.falMs / pollMs) + 1)).filter(Number.isFinite);
  return {
    restCallsPerJobMean: round(mean(records.map((r) => r.restCalls)), 2),
    restCallsPerJobMax: max(records.map((r) => r.restCalls)),
    progressEditsPerJobMean: round(mean(records.map((r) => r.progressEdits)), 2),
    progressEditsPerJobMax: max(records.map((r) => r.progressEdits)),
    minProgressEditGapMs: minGap(records.map((r) => r.minEditGapMs)),
    closestEditsAtMs: [...records].sort((a, b) => a.minEditGapMs - b.minEditGapMs)[0]?.editsAtMs ?? [],
    statusPollsPerJobMean: round(mean(records.map((r) => r.statusPolls)), 2),
    statusPollsPerAllowedMax: round(max(allowed), 2),
    // Infinity when no job made two status requests (each followed one stream to the end).
    minStatusPollGapMs: minGap(records.map((r) => r.minPollGapMs)),
  };
}

function minGap(gapsMs: readonly number[]): number {
  const smallest = min(gapsMs);
  return smallest === Number.POSITIVE_INFINITY ? smallest : round(smallest);
}

/** Bot log lines since `from` (warnings and errors: info and debug are skipped), by message, with counts. */
function warningsSince(world: BenchWorld, from: number): string[] {
  const counts = new Map<string, number>();
  for (const line of world.botLog.slice(from)) {
    let key = line.slice(0, 200);
    try {
      const parsed = JSON.parse(line) as { level?: string; msg?: string; message?: string };
      if (parsed.level === 'info' || parsed.level === 'debug') continue;
      key = `${parsed.level ?? '?'}: ${parsed.msg ?? parsed.message ?? line.slice(0, 160)}`;
    } catch {
      // Not a JSON log line (e.g. a Node warning on stderr): keep it as it is.
    }
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([key, count]) => `${count} x ${key}`);
}

function refusals(records: readonly JobRecord[]): string[] {
  const counts = new Map<string, number>();
  for (const r of records) if (r.refusal !== undefined) counts.set(r.refusal, (counts.get(r.refusal) ?? 0) + 1);
  return [...counts].map(([text, count]) => `${count} x ${text}`);
}

/** Jobs beyond FAL_CONCURRENCY wait in the bot's fair queue, so they finish in waves. */
function jobTimeoutMs(options: BenchOptions, jobs: number): number {
  const waves = Math.ceil(jobs / (options.falConcurrency ?? 4));
  return 60_000 + options.burstMs + waves * (options.queueMs + 2 * options.genMs + 3 * options.pollMs + 2000);
}

/**
 * Warms up this process (the fakes compile their OpenAPI validators on first use, and JIT their code) with a
 * few jobs against a throwaway bot, so that the first measured burst does not pay for the bench's own warm-up.
 */
export async function warmUpFakes(world: BenchWorld): Promise<void> {
  world.usePlan({ queuePositions: [1, 0], progressPolls: 1, images: { width: 64, height: 64, noise: false } }, 0);
  const jobs = Array.from({ length: 5 }, () => dispatch(world, 2, '1K'));
  await waitForFinals(world, jobs, 30_000);
}

/** RSS 1 s after login. */
export async function idleRss(world: BenchWorld): Promise<number> {
  await sleep(1000);
  return round(world.memory().rssMb);
}

/**
 * How long an idle bot takes to reach its steady memory: V8's memory reducer compacts the heap and returns
 * start-up garbage about 8 s after allocation calms down. This is what an admin sees in `top` between jobs.
 */
export const SETTLE_MS = 12_000;

/** RSS once the idle bot has settled ({@link SETTLE_MS} after login; call right after {@link idleRss}). */
export async function settledRss(world: BenchWorld): Promise<number> {
  await sleep(SETTLE_MS - 1000);
  return round(world.memory().rssMb);
}

/** `--jobs` /imagine interactions within `--burst-ms` (1 s): acknowledgement latency and delivery. */
export async function burst(world: BenchWorld, options: BenchOptions): Promise<BurstResult> {
  const side = SIDE[options.size];
  world.usePlan(timedPlan(options, { width: side, height: side, noise: false }), options.queueMs, options.genMs);
  const logFrom = world.botLog.length;
  const connections0 = { ...world.connections };
  const cpu0 = world.cpuSeconds();
  const t0 = performance.now();
  const loop = monitorEventLoopDelay({ resolution: 1 });
  const benchCpu0 = process.cpuUsage();
  loop.enable();
  const { jobs, spanMs } = await dispatchSpread(world, options.jobs, options.burstMs, options.images, options.size);
  await sleep(100);
  loop.disable();
  const benchCpu = process.cpuUsage(benchCpu0);
  const benchWindowMs = performance.now() - t0;
  const { wallMs, cpu, records } = await settle(world, options, jobs, t0, cpu0);
  return {
    jobs: jobs.length,
    dispatchSpanMs: round(spanMs),
    acked: records.filter((r) => r.acked).length,
    delivered: records.filter((r) => r.delivered).length,
    ackMs: distribution(records.map((r) => r.ackMs).filter(Number.isFinite)),
    ackSamplesMs: records.map((r) => round(r.ackMs)),
    cpuSecondsPerJob: round(cpu / jobs.length, 4),
    wallMs: round(wallMs),
    deliverMs: distribution(records.map((r) => r.deliverMs).filter(Number.isFinite)),
    finishToUploadMs: distribution(records.map((r) => r.finishToUploadMs).filter(Number.isFinite)),
    connectionsOpened: {
      discord: world.connections.discord - connections0.discord,
      fal: world.connections.fal - connections0.fal,
    },
    bench: {
      loopDelayP99Ms: round(loop.percentile(99) / 1e6),
      loopDelayMaxMs: round(loop.max / 1e6),
      cpuPercent: round(((benchCpu.user + benchCpu.system) / 1000 / benchWindowMs) * 100),
    },
    politeness: politeness(records, options.pollMs),
    botWarnings: warningsSince(world, logFrom),
    refusals: refusals(records),
  };
}

/** Waits for every job's final message, then reads the wall time, the bot's CPU time and each job's record. */
async function settle(world: BenchWorld, options: BenchOptions, jobs: Dispatched[], t0: number, cpu0: number) {
  await waitForFinals(world, jobs, jobTimeoutMs(options, jobs.length));
  await sleep(300);
  return {
    wallMs: performance.now() - t0,
    cpu: world.cpuSeconds() - cpu0,
    records: jobs.map((job) => jobRecord(world, job)),
  };
}

/** `--concurrent` jobs of `--images` x `--size` in flight at once: peak memory and CPU per job. */
export async function concurrent(
  world: BenchWorld,
  options: BenchOptions,
  idleRssMb: number,
): Promise<ConcurrentResult> {
  const side = SIDE[options.size];
  const image = { width: side, height: side, noise: options.noise };
  const png = testPng(side, side, { noise: options.noise }); // generate once, before timing
  world.usePlan(timedPlan(options, image), options.queueMs, options.genMs);
  const logFrom = world.botLog.length;
  let sampled = world.memory().rssMb;
  const sampler = setInterval(() => {
    sampled = Math.max(sampled, world.memory().rssMb);
  }, 50);
  const cpu0 = world.cpuSeconds();
  const t0 = performance.now();
  try {
    const { jobs } = await dispatchSpread(world, options.concurrent, options.burstMs, options.images, options.size);
    const { wallMs, cpu, records } = await settle(world, options, jobs, t0, cpu0);
    return {
      jobs: jobs.length,
      imagesPerJob: options.images,
      size: options.size,
      noise: options.noise,
      bytesPerJob: options.noise
        ? png.length * options.images
        : testPng(side, side, { variant: 0 }).length * options.images,
      delivered: records.filter((r) => r.delivered).length,
      idleRssMb,
      peakRssMb: round(world.memory().hwmMb),
      peakRssSampledMb: round(sampled),
      cpuSecondsPerJob: round(cpu / jobs.length, 4),
      wallMs: round(wallMs),
      deliverMs: distribution(records.map((r) => r.deliverMs).filter(Number.isFinite)),
      finishToUploadMs: distribution(records.map((r) => r.finishToUploadMs).filter(Number.isFinite)),
      politeness: politeness(records, options.pollMs),
      botWarnings: warningsSince(world, logFrom),
      refusals: refusals(records),
    };
  } finally {
    clearInterval(sampler);
  }
}

/** Guilds the `processes` burst is spread over, the same number whatever the fleet size (each on a known shard). */
export const PROCESS_GUILDS = 12;

export interface ProcessesResult {
  /** Bot processes on one PostgreSQL database, one gateway shard each. */
  readonly processes: number;
  readonly jobs: number;
  readonly acked: number;
  /** Jobs whose final message reached Discord, with every image. */
  readonly delivered: number;
  /** Delivered with exactly one final edit and one fal submission: neither lost nor done twice. */
  readonly deliveredOnce: number;
  /** Jobs with more than one final edit or fal submission (should be none). */
  readonly duplicated: number;
  readonly falSubmissions: number;
  /** First dispatch -> last byte of the last delivered result reaching Discord. */
  readonly spanMs: number;
  /** Delivered jobs per second over {@link spanMs}. */
  readonly throughputJobsPerS: number;
  /** INTERACTION_CREATE handed to the gateway socket -> its callback reaching the fake Discord. */
  readonly ackMs: Distribution;
  /** Every job's ack latency, in dispatch order. */
  readonly ackSamplesMs: number[];
  /** COMPLETED served -> final edit received, over all jobs. */
  readonly deliverMs: Distribution;
  /** VmHWM of each process, by shard, at the end of the scenario (start-up included). */
  readonly peakRssMb: number[];
  /** Interactions Discord sent to each process (its shard), by shard. */
  readonly receivedPerProcess: number[];
  /** Jobs each process delivered ("generation delivered" in its log), by shard. */
  readonly deliveredPerProcess: number[];
  /** Jobs a process adopted from another ("took over jobs" in the logs; should be none: no process dies here). */
  readonly tookOver: number;
  /** All processes' CPU time together, per job. */
  readonly cpuSecondsPerJob: number;
  /**
   * CPU used by everything but the bot processes and the bench (% of all cores): other work on the machine, and
   * the PostgreSQL server (which serves the bot too). During the burst second, when acknowledgements are
   * measured, and over the whole scenario.
   */
  readonly othersCpuPercent: { readonly burst: number; readonly scenario: number };
  readonly botWarnings: string[];
  readonly refusals: string[];
}

interface CpuMark {
  readonly machine: { busy: number; total: number };
  readonly bench: NodeJS.CpuUsage;
  readonly bot: number;
}

function cpuMark(world: BenchWorld): CpuMark {
  return { machine: cpuTimes(), bench: process.cpuUsage(), bot: world.cpuSeconds() };
}

/** CPU used since `from` by other processes than the bot's and this one, in % of all cores. */
function othersCpuPercent(world: BenchWorld, from: CpuMark): number {
  const machine = cpuTimes();
  const bench = process.cpuUsage(from.bench);
  const own = world.cpuSeconds() - from.bot + (bench.user + bench.system) / 1e6;
  const total = machine.total - from.machine.total;
  return total > 0 ? round(Math.max(0, ((machine.busy - from.machine.busy - own) / total) * 100), 0) : Number.NaN;
}

/** Sum of `count` in the JSON log lines of `lines` whose message contains `message` (1 per line without one). */
function countLogged(lines: readonly string[], message: string, field?: string): number {
  let total = 0;
  for (const line of lines) {
    if (!line.includes(message)) continue;
    try {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      const value = field === undefined ? undefined : parsed[field];
      total += typeof value === 'number' ? value : 1;
    } catch {
      total += 1;
    }
  }
  return total;
}

/**
 * `--processes-jobs` /imagine within `--burst-ms` over a fleet of bot processes on one PostgreSQL database (the
 * world's), spread evenly over {@link PROCESS_GUILDS} guilds whose shards are spread evenly over the processes:
 * throughput, ack latency, peak memory of each process, and that every job was delivered exactly once.
 * The bots run at LOG_LEVEL=info, to tell which process delivered which job (two lines a job). `beforeBurst` runs
 * once the fleet is up, just before the burst (the bench waits there for the machine to be quiet).
 */
export async function processes(
  world: BenchWorld,
  options: BenchOptions,
  beforeBurst: () => Promise<unknown> = () => Promise.resolve(),
): Promise<ProcessesResult> {
  const count = world.bots.length;
  const side = SIDE[options.size];
  world.usePlan(timedPlan(options, { width: side, height: side, noise: false }), options.queueMs, options.genMs);
  // The last process has just become READY: let it finish starting (as idleRss does for one).
  await sleep(1000);
  // Starting the fleet takes seconds: the machine may have got busy again meanwhile.
  await beforeBurst();
  const logFrom = world.botLog.length;
  const linesFrom = world.bots.map((bot) => bot.lines.length);
  const guilds = Array.from({ length: PROCESS_GUILDS }, (_, j) =>
    guildOnShard(j % count, count, Math.floor(j / count)),
  );
  const mark = cpuMark(world);
  const { jobs } = await dispatchSpread(
    world,
    options.processesJobs,
    options.burstMs,
    options.images,
    options.size,
    (index) => guilds[index % guilds.length]!,
  );
  await sleep(100);
  const othersBurst = othersCpuPercent(world, mark);
  await waitForFinals(world, jobs, jobTimeoutMs(options, jobs.length));
  // Long enough for a second delivery of a job (another process working it too) to show.
  await sleep(500);
  const othersScenario = othersCpuPercent(world, mark);
  const cpu = world.cpuSeconds() - mark.bot;
  const peakRssMb = world.bots.map((_, i) => round(world.memory(i).hwmMb));
  const records = jobs.map((job) => jobRecord(world, job));
  const submissions = new Map<string, number>();
  for (const s of world.fal.submissions) {
    const prompt = String(s.input['prompt']);
    submissions.set(prompt, (submissions.get(prompt) ?? 0) + 1);
  }
  let deliveredOnce = 0;
  let duplicated = 0;
  /** When each delivered job's last request to Discord (its result) had fully arrived. */
  const deliveredAt: number[] = [];
  for (const [i, job] of jobs.entries()) {
    const final = isFinalEdit(job.interaction.token);
    const finals = world.requestsOf(job.interaction).filter((r) => final(r) && r.status === 200).length;
    const submitted = submissions.get(job.prompt) ?? 0;
    if (finals > 1 || submitted > 1) duplicated += 1;
    if (!records[i]!.delivered) continue;
    if (finals === 1 && submitted === 1) deliveredOnce += 1;
    const ends = (world.webhookRequests.get(job.interaction.token) ?? []).map((r) => r.end ?? Number.NaN);
    deliveredAt.push(max(ends.filter(Number.isFinite)));
  }
  const delivered = records.filter((r) => r.delivered).length;
  const spanMs = max(deliveredAt) - (jobs[0]?.dispatchedAt ?? Number.NaN);
  const lines = world.bots.map((bot, i) => bot.lines.slice(linesFrom[i]));
  return {
    processes: count,
    jobs: jobs.length,
    acked: records.filter((r) => r.acked).length,
    delivered,
    deliveredOnce,
    duplicated,
    falSubmissions: jobs.reduce((sum, job) => sum + (submissions.get(job.prompt) ?? 0), 0),
    spanMs: round(spanMs),
    throughputJobsPerS: round(delivered / (spanMs / 1000), 2),
    ackMs: distribution(records.map((r) => r.ackMs).filter(Number.isFinite)),
    ackSamplesMs: records.map((r) => round(r.ackMs)),
    deliverMs: distribution(records.map((r) => r.deliverMs).filter(Number.isFinite)),
    peakRssMb,
    receivedPerProcess: world.bots.map((bot) => jobs.filter((job) => job.shard === bot.shard).length),
    deliveredPerProcess: lines.map((own) => countLogged(own, 'generation delivered')),
    tookOver: countLogged(lines.flat(), 'took over jobs another process left', 'count'),
    cpuSecondsPerJob: round(cpu / jobs.length, 4),
    othersCpuPercent: { burst: othersBurst, scenario: othersScenario },
    botWarnings: warningsSince(world, logFrom),
    refusals: refusals(records),
  };
}

/**
 * How long an overhead job generates at fal before the bench completes it: with polling, when the bot learns
 * of it then depends on where in its poll interval the job completes; with the status stream it does not.
 */
const OVERHEAD_RUN_MS = 750;

export const OVERHEAD_CASES: ReadonlyArray<{ label: string; images: number; size: Size }> = [
  { label: '1 x 1K', images: 1, size: '1K' },
  { label: '4 x 1K', images: 4, size: '1K' },
  { label: '4 x 2K', images: 4, size: '2K' },
];

/** Re-encoding is needed when one PNG is over Discord's per-file limit or all of them over the request limit. */
function needsReencode(bytes: number, images: number, fileLimit: number, requestLimit: number): boolean {
  return bytes > fileLimit || bytes * images > requestLimit;
}

/**
 * One job at a time (no contention), noise PNGs of realistic size: from the COMPLETED status being served
 * to the last byte of the upload reaching Discord; next to the loopback floor for the same bytes.
 */
export async function overhead(world: BenchWorld, options: BenchOptions): Promise<OverheadCase[]> {
  const results: OverheadCase[] = [];
  for (const spec of OVERHEAD_CASES) {
    const side = SIDE[spec.size];
    const png = testPng(side, side, { noise: true });
    const reencodeNeeded = needsReencode(
      png.length,
      spec.images,
      world.discord.fileSizeLimit,
      world.discord.requestSizeLimit,
    );
    world.usePlan(
      { queuePositions: [0], progressPolls: 1, holdRunning: true, images: { width: side, height: side, noise: true } },
      0,
      OVERHEAD_RUN_MS,
    );
    const logFrom = world.botLog.length;
    const samples = reencodeNeeded ? Math.min(options.samples, 5) : options.samples;
    const overheads: number[] = [];
    const attempts: number[] = [];
    const finishToUpload: number[] = [];
    const steps = new Map<string, number[]>();
    const step = (name: string, ms: number): void => {
      if (Number.isFinite(ms)) steps.set(name, [...(steps.get(name) ?? []), ms]);
    };
    let delivered = 0;
    for (let i = 0; i < samples; i += 1) {
      const job = dispatch(world, spec.images, spec.size);
      await waitForFinals(world, [job], 120_000);
      for (let wait = 0; wait < 20 && job.final && filesDelivered(world, job) < spec.images; wait += 1) await sleep(50);
      const requestId = world.requestIdOf(job.prompt);
      const completed = requestId ? world.completedAt.get(requestId) : undefined;
      const webhook = world.webhookRequests.get(job.interaction.token) ?? [];
      const ends = (list: typeof webhook): number => max(list.map((r) => r.end ?? Number.NaN).filter(Number.isFinite));
      const ok = job.final !== undefined && filesDelivered(world, job) >= spec.images;
      const uploadEnd = ends(webhook.filter((r) => r.multipart));
      const finished = requestId ? world.finishedAt.get(requestId) : undefined;
      if (ok && finished !== undefined)
        finishToUpload.push(min(webhook.filter((r) => r.multipart).map((r) => r.start)) - finished);
      if (completed !== undefined && Number.isFinite(uploadEnd)) {
        attempts.push(uploadEnd - completed);
        if (ok) overheads.push(uploadEnd - completed);
      }
      if (ok) delivered += 1;
      const timeline = requestId ? world.falTimeline.get(requestId) : undefined;
      const uploads = webhook.filter((r) => r.multipart);
      if (completed !== undefined && timeline?.resultStart !== undefined && timeline.resultEnd !== undefined) {
        const firstUpload = min(uploads.map((r) => r.start));
        step('1 COMPLETED -> result GET arrives', timeline.resultStart - completed);
        step('2 result GET served', timeline.resultEnd - timeline.resultStart);
        step('3 result served -> first image GET arrives', min(timeline.imageStarts) - timeline.resultEnd);
        step('4 image downloads (first GET -> last served)', max(timeline.imageEnds) - min(timeline.imageStarts));
        step('5 last image served -> upload starts', firstUpload - max(timeline.imageEnds));
        step('6 upload (headers -> last body byte)', uploadEnd - firstUpload);
      }
      await sleep(100);
    }
    const floor = await loopbackFloor(png, spec.images, Math.max(5, options.samples));
    const overheadMs = distribution(overheads);
    results.push({
      label: spec.label,
      images: spec.images,
      size: spec.size,
      reencodeNeeded,
      bytesPerJob: png.length * spec.images,
      samples,
      delivered,
      overheadMs,
      attemptMs: distribution(attempts),
      floorMs: round(floor.totalMs),
      floorDownloadMs: round(floor.downloadMs),
      floorUploadMs: round(floor.uploadMs),
      ratioP50: round(overheadMs.p50 / floor.totalMs, 2),
      finishToUploadMs: distribution(finishToUpload),
      breakdownMs: Object.fromEntries([...steps].map(([name, values]) => [name, round(median(values))])),
      botWarnings: warningsSince(world, logFrom),
    });
  }
  return results;
}

const FLOOR_CLIENT = fileURLToPath(new URL('./floor.ts', import.meta.url));

/**
 * The floor: the same bytes downloaded once (in parallel, like the bot) and uploaded once (one multipart
 * POST) over loopback, by a separate Node process using fetch, against a server that does nothing else.
 * Medians of `reps` repetitions after two warm-ups.
 */
export async function loopbackFloor(
  png: Buffer,
  images: number,
  reps: number,
): Promise<{ downloadMs: number; uploadMs: number; totalMs: number }> {
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url?.startsWith('/img/')) {
      res.writeHead(200, { 'content-type': 'image/png', 'content-length': png.length }).end(png);
      return;
    }
    req.on('data', () => undefined);
    req.on('end', () => res.writeHead(204).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          FLOOR_CLIENT,
          '--url',
          `http://127.0.0.1:${port}`,
          '--images',
          String(images),
          '--reps',
          String(reps),
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString('utf8');
      });
      child.once('error', reject);
      child.once('exit', (code) =>
        code === 0 ? resolve(out) : reject(new Error(`floor client exited with ${String(code)}`)),
      );
    });
    const samples = JSON.parse(output) as Array<{ downloadMs: number; uploadMs: number; totalMs: number }>;
    return {
      downloadMs: median(samples.map((s) => s.downloadMs)),
      uploadMs: median(samples.map((s) => s.uploadMs)),
      totalMs: median(samples.map((s) => s.totalMs)),
    };
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
