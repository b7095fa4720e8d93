/**
 * `npm run bench`: the real bot (`node dist/src/main.js`) against the loopback fakes from `test/fakes`,
 * measured from outside. Not part of `npm test`. Exits 1 when a job was not delivered, never for a missed
 * performance target (those are printed with ✗).
 *
 *     npm run bench -- --quick                 # smoke run, ~1 minute
 *     npm run bench -- --runs 3 --out /tmp/r.json
 *     npm run bench -- --scenarios processes --runs 1   # 1 vs 3 processes on PostgreSQL
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, release, totalmem } from 'node:os';
import { dirname, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import {
  burst,
  concurrent,
  idleRss,
  processes,
  PROCESS_GUILDS,
  SETTLE_MS,
  settledRss,
  overhead,
  warmUpFakes,
  type BenchOptions,
  type BurstResult,
  type ConcurrentResult,
  type OverheadCase,
  type ProcessesResult,
} from './scenarios.js';
import { createPostgresDatabase } from '../test/support/databases.js';
import { benchDatabaseServer, describeServer, postgresProblem } from './fleet.js';
import { median, show } from './stats.js';
import { startNodeFlags } from '../test/e2e/botProcess.js';
import { BenchWorld, cpuTimes, type WorldOptions } from './world.js';

const SCENARIOS = ['burst', 'overhead', 'concurrent', 'processes'] as const;
type Scenario = (typeof SCENARIOS)[number];

const TARGETS = {
  ackP99Ms: 25,
  finishToUploadMs: 100,
  overheadRatio: 2,
  idleRssMb: 70,
  peakRssMb: 250,
  progressEditGapMs: 2000,
} as const;

/** Node timers have 1 ms granularity (and libuv caches the loop time), so a gap may look up to 1 ms short. */
const TIMER_SLACK_MS = 1;

const HELP = `npm run bench -- [options]
  --jobs N          burst size (default 200)
  --concurrent N    jobs in flight for the memory scenario (default 100)
  --images N        images per job, burst and concurrent scenarios (default 4)
  --size 1K|2K      image size, burst and concurrent scenarios (default 1K)
  --queue-ms MS     simulated time in fal's queue (default 2000)
  --gen-ms MS       simulated generation time (default 4000)
  --poll-ms MS      the bot's FAL_POLL_INTERVAL_MS (default 500)
  --fal-concurrency N  the bot's FAL_CONCURRENCY, jobs at fal at once (default 40, the bot's maximum; its default is 4)
  --burst-ms MS     the burst is spread over this long (default 1000)
  --samples N       sequential jobs per overhead case (default 15; 5 when re-encoding is needed)
  --processes-jobs N  burst size of the processes scenario (default 100)
  --processes LIST  comma-separated fleet sizes of the processes scenario (default 1,3): bot processes on one
                    PostgreSQL database (BENCH_DATABASE_URL, else TEST_DATABASE_URL, else
                    postgres://postgres@127.0.0.1:5432/postgres; a fresh database per fleet), one shard each
  --runs N          repetitions; the table shows their median (default 3)
  --solid           small solid PNGs in the concurrent scenario (default: incompressible noise PNGs)
  --scenarios LIST  comma-separated subset of ${SCENARIOS.join(',')}
  --node-arg ARG    extra node flag for the bot, repeatable (e.g. --node-arg=--cpu-prof)
  --entry FILE      bench another build of the entry point (default dist/src/main.js)
  --bot-env K=V     extra environment variable for the bot, repeatable
  --wait-quiet S    before each scenario, wait up to S s for other processes to use < 15% CPU (default 20)
  --out FILE        JSON results (default bench/results.json)
  --quick           smoke run: 20-job bursts, 10 concurrent, 3 samples, 1 run, shorter fal times`;

interface RunResult {
  readonly run: number;
  /** RSS 1 s after login, one per scenario (each starts a fresh bot). */
  idleRssMb: number[];
  /** RSS once idle memory settled (concurrent scenario's bot, before its jobs). */
  settledRssMb?: number;
  /** CPU used by other processes just before each scenario (% of all cores). */
  machineBusyPercent: Partial<Record<Scenario, number>>;
  burst?: BurstResult;
  /** A second burst in the same bot, once the first one's jobs are done: no JIT warm-up, connections open. */
  warmBurst?: BurstResult;
  overhead?: OverheadCase[];
  concurrent?: ConcurrentResult;
  /** One per fleet size of `--processes`, in that order. */
  processes?: ProcessesResult[];
}

interface Row {
  readonly name: string;
  readonly target: string;
  readonly values: string[];
  readonly median: string;
  /** undefined: no target, informational. */
  readonly pass: boolean | undefined;
}

function parseOptions(): {
  options: BenchOptions;
  out: string;
  scenarios: Scenario[];
  quick: boolean;
  waitQuietS: number;
} {
  const { values } = parseArgs({
    options: {
      jobs: { type: 'string' },
      concurrent: { type: 'string' },
      images: { type: 'string' },
      size: { type: 'string' },
      'queue-ms': { type: 'string' },
      'gen-ms': { type: 'string' },
      'poll-ms': { type: 'string' },
      'fal-concurrency': { type: 'string' },
      'burst-ms': { type: 'string' },
      samples: { type: 'string' },
      'processes-jobs': { type: 'string' },
      processes: { type: 'string' },
      runs: { type: 'string' },
      solid: { type: 'boolean', default: false },
      scenarios: { type: 'string' },
      'node-arg': { type: 'string', multiple: true },
      entry: { type: 'string' },
      'bot-env': { type: 'string', multiple: true },
      'wait-quiet': { type: 'string' },
      out: { type: 'string' },
      quick: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    process.exit(0);
  }
  const quick = values.quick;
  const int = (name: string, given: string | undefined, normal: number, smoke: number, least = 0): number => {
    const value = given === undefined ? (quick ? smoke : normal) : Number(given);
    if (!Number.isInteger(value) || value < least) throw new Error(`--${name} must be a whole number >= ${least}`);
    return value;
  };
  const size = (values.size ?? '1K').toUpperCase();
  if (size !== '1K' && size !== '2K') throw new Error('--size must be 1K or 2K');
  const scenarios = (values.scenarios ?? SCENARIOS.join(',')).split(',').map((s) => s.trim());
  for (const s of scenarios)
    if (!(SCENARIOS as readonly string[]).includes(s)) throw new Error(`unknown scenario ${s}`);
  const processCounts = (values.processes ?? '1,3').split(',').map((s) => Number(s.trim()));
  for (const n of processCounts)
    if (!Number.isInteger(n) || n < 1 || n > 16) throw new Error('--processes takes whole numbers 1-16, e.g. 1,3');
  const options: BenchOptions = {
    jobs: int('jobs', values.jobs, 200, 20, 1),
    concurrent: int('concurrent', values.concurrent, 100, 10, 1),
    images: int('images', values.images, 4, 4, 1),
    size,
    queueMs: int('queue-ms', values['queue-ms'], 2000, 500),
    genMs: int('gen-ms', values['gen-ms'], 4000, 1000),
    pollMs: int('poll-ms', values['poll-ms'], 500, 500, 10),
    burstMs: int('burst-ms', values['burst-ms'], 1000, 1000),
    samples: int('samples', values.samples, 15, 3, 1),
    runs: int('runs', values.runs, 3, 1, 1),
    noise: !values.solid,
    falConcurrency: int('fal-concurrency', values['fal-concurrency'], 40, 40, 1),
    processesJobs: int('processes-jobs', values['processes-jobs'], 100, 20, 1),
    processCounts,
    nodeArgs: [...startNodeFlags(), ...(values['node-arg'] ?? [])],
    entry: values.entry === undefined ? undefined : resolve(values.entry),
    env: Object.fromEntries(
      (values['bot-env'] ?? []).map((pair) => {
        const at = pair.indexOf('=');
        if (at < 1) throw new Error(`--bot-env takes KEY=VALUE, got ${pair}`);
        return [pair.slice(0, at), pair.slice(at + 1)];
      }),
    ),
  };
  if (options.images > 4) throw new Error('--images must be 1-4 (the /imagine limit)');
  const waitQuietS = int('wait-quiet', values['wait-quiet'], 20, 10);
  return {
    options,
    out: resolve(values.out ?? 'bench/results.json'),
    scenarios: scenarios as Scenario[],
    quick,
    waitQuietS,
  };
}

function machine(): Record<string, string | number> {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  return {
    cpus: availableParallelism(),
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? 'unknown',
    memoryGb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    kernel: release(),
  };
}

function log(line: string): void {
  process.stderr.write(`[bench] ${line}\n`);
}

async function withWorld<T>(
  pollMs: number,
  options: BenchOptions,
  run: (world: BenchWorld) => Promise<T>,
  fleet: Pick<WorldOptions, 'processes' | 'databaseUrl' | 'env'> = {},
): Promise<T> {
  const world = await BenchWorld.start({
    pollIntervalMs: pollMs,
    nodeArgs: options.nodeArgs,
    entry: options.entry,
    env: options.env,
    falConcurrency: options.falConcurrency,
    ...fleet,
  });
  try {
    return await run(world);
  } finally {
    await world.close();
  }
}

/** Share of all cores busy over one second, in %. Nothing of the bench runs between scenarios. */
async function machineBusy(): Promise<number> {
  const a = cpuTimes();
  await sleep(1000);
  const b = cpuTimes();
  return b.total > a.total ? Math.round(((b.busy - a.busy) / (b.total - a.total)) * 100) : 0;
}

const QUIET_PERCENT = 15;

/** Waits (up to `waitS` seconds) until other processes leave the machine quiet; returns the last reading. */
async function waitQuiet(waitS: number): Promise<number> {
  const until = Date.now() + waitS * 1000;
  let busy = await machineBusy();
  if (busy >= QUIET_PERCENT && waitS > 0)
    log(`other processes use ${busy}% of the CPUs; waiting up to ${waitS} s for quiet`);
  while (busy >= QUIET_PERCENT && Date.now() < until) busy = await machineBusy();
  if (busy >= QUIET_PERCENT) log(`WARNING: measuring while other processes use ${busy}% of the CPUs`);
  return busy;
}

/**
 * The `processes` scenario, once per fleet size: a fresh PostgreSQL database on `server` for each (dropped
 * afterwards), the same burst, the same fal plans and FAL_CONCURRENCY (a cap for the whole deployment).
 */
async function processesRun(
  index: number,
  options: BenchOptions,
  server: string,
  waitQuietS: number,
  result: RunResult,
): Promise<ProcessesResult[]> {
  const fleets: ProcessesResult[] = [];
  // Waited for once the fleet is up, just before its burst (starting it takes seconds of its own).
  const quiet = async (): Promise<void> => {
    const busy = await waitQuiet(waitQuietS);
    result.machineBusyPercent.processes = Math.max(result.machineBusyPercent.processes ?? 0, busy);
  };
  for (const count of options.processCounts) {
    log(
      `run ${index}: ${count} process${count === 1 ? '' : 'es'} on PostgreSQL, burst of ${options.processesJobs} /imagine in ${options.burstMs} ms over ${PROCESS_GUILDS} guilds`,
    );
    const database = await createPostgresDatabase(server, 'imagen_bench');
    try {
      const fleet = await withWorld(options.pollMs, options, (world) => processes(world, options, quiet), {
        processes: count,
        databaseUrl: database.url,
        // Which process delivered which job is read from the "generation delivered" lines.
        env: { ...options.env, LOG_LEVEL: 'info' },
      });
      if (fleet.othersCpuPercent.burst >= QUIET_PERCENT)
        log(
          `WARNING: other processes (PostgreSQL included) used ${fleet.othersCpuPercent.burst}% of the CPUs during the burst`,
        );
      fleets.push(fleet);
    } finally {
      await database.drop();
    }
  }
  return fleets;
}

async function runOnce(
  index: number,
  options: BenchOptions,
  scenarios: readonly Scenario[],
  waitQuietS: number,
  postgres: string | undefined,
): Promise<RunResult> {
  const result: RunResult = { run: index, idleRssMb: [], machineBusyPercent: {} };
  // A fresh bot (and fresh fakes) per scenario: VmHWM then means "peak during this scenario".
  if (scenarios.includes('burst')) {
    result.machineBusyPercent.burst = await waitQuiet(waitQuietS);
    log(`run ${index}: burst of ${options.jobs} /imagine in ${options.burstMs} ms`);
    result.burst = await withWorld(options.pollMs, options, async (world) => {
      result.idleRssMb.push(await idleRss(world));
      const cold = await burst(world, options);
      log(`run ${index}: the same burst again, warm`);
      result.warmBurst = await burst(world, options);
      return cold;
    });
  }
  if (scenarios.includes('overhead')) {
    result.machineBusyPercent.overhead = await waitQuiet(waitQuietS);
    log(`run ${index}: overhead, ${options.samples} sequential jobs per case`);
    // The bot's own poll interval: it decides when the bot learns of a finished job if it polls (finished ->
    // upload starts); from COMPLETED served -> upload, the interval no longer counts.
    result.overhead = await withWorld(options.pollMs, options, async (world) => {
      result.idleRssMb.push(await idleRss(world));
      return overhead(world, options);
    });
  }
  if (scenarios.includes('concurrent')) {
    result.machineBusyPercent.concurrent = await waitQuiet(waitQuietS);
    log(`run ${index}: ${options.concurrent} concurrent jobs of ${options.images} x ${options.size}`);
    result.concurrent = await withWorld(options.pollMs, options, async (world) => {
      const idle = await idleRss(world);
      result.idleRssMb.push(idle);
      result.settledRssMb = await settledRss(world);
      return concurrent(world, options, idle);
    });
  }
  if (scenarios.includes('processes') && postgres !== undefined) {
    result.processes = await processesRun(index, options, postgres, waitQuietS, result);
  }
  return result;
}

function numericRow(
  name: string,
  runs: readonly RunResult[],
  pick: (run: RunResult) => number | undefined,
  target?: { text: string; ok: (value: number) => boolean },
  digits = 1,
): Row | undefined {
  const values = runs.map(pick);
  if (values.every((v) => v === undefined)) return undefined;
  const numbers = values.map((v) => v ?? Number.NaN);
  // Infinity is a real answer for a smallest gap: no job made two such requests.
  const mid = numbers.every((v) => v === Number.POSITIVE_INFINITY) ? Number.POSITIVE_INFINITY : median(numbers);
  return {
    name,
    target: target?.text ?? '',
    values: numbers.map((v) => show(v, digits)),
    median: show(mid, digits),
    pass: target ? !Number.isNaN(mid) && target.ok(mid) : undefined,
  };
}

function countRow(
  name: string,
  runs: readonly RunResult[],
  pick: (run: RunResult) => [number, number] | undefined,
): Row | undefined {
  const values = runs.map(pick);
  if (values.every((v) => v === undefined)) return undefined;
  const all = values.every((v) => v !== undefined && v[0] === v[1]);
  return {
    name,
    target: 'all',
    values: values.map((v) => (v ? `${v[0]}/${v[1]}` : '')),
    median: all ? 'all' : 'MISSING',
    pass: all,
  };
}

function buildRows(runs: readonly RunResult[], options: BenchOptions): Row[] {
  const rows: Array<Row | undefined> = [
    countRow(`Burst: acknowledged`, runs, (r) => r.burst && [r.burst.acked, r.burst.jobs]),
    countRow(`Burst: delivered`, runs, (r) => r.burst && [r.burst.delivered, r.burst.jobs]),
    numericRow('Burst: ack p50 (ms)', runs, (r) => r.burst?.ackMs.p50),
    numericRow('Burst: ack p99 (ms)', runs, (r) => r.burst?.ackMs.p99, {
      text: `<= ${TARGETS.ackP99Ms}`,
      ok: (v) => v <= TARGETS.ackP99Ms,
    }),
    numericRow('Burst: ack max (ms)', runs, (r) => r.burst?.ackMs.max),
    numericRow('Burst: bench process loop delay p99 (ms)', runs, (r) => r.burst?.bench.loopDelayP99Ms),
    numericRow('Burst: new connections to Discord', runs, (r) => r.burst?.connectionsOpened.discord, undefined, 0),
    numericRow('Burst: COMPLETED -> result edit p50 (ms)', runs, (r) => r.burst?.deliverMs.p50),
    numericRow('Burst: COMPLETED -> result edit p99 (ms)', runs, (r) => r.burst?.deliverMs.p99),
    numericRow('Burst: fal finished -> upload starts p50 (ms)', runs, (r) => r.burst?.finishToUploadMs.p50),
    numericRow('Burst: fal finished -> upload starts p99 (ms)', runs, (r) => r.burst?.finishToUploadMs.p99),
    numericRow('Burst: CPU s per job', runs, (r) => r.burst?.cpuSecondsPerJob, undefined, 4),
    countRow(`Warm burst: delivered`, runs, (r) => r.warmBurst && [r.warmBurst.delivered, r.warmBurst.jobs]),
    numericRow('Warm burst: ack p50 (ms)', runs, (r) => r.warmBurst?.ackMs.p50),
    numericRow('Warm burst: ack p99 (ms)', runs, (r) => r.warmBurst?.ackMs.p99),
    numericRow('Warm burst: ack max (ms)', runs, (r) => r.warmBurst?.ackMs.max),
    numericRow(
      'Warm burst: new connections to Discord',
      runs,
      (r) => r.warmBurst?.connectionsOpened.discord,
      undefined,
      0,
    ),
  ];
  for (const label of ['1 x 1K', '4 x 1K', '4 x 2K']) {
    const pick = (r: RunResult): OverheadCase | undefined => r.overhead?.find((c) => c.label === label);
    const reencode = runs.some((r) => pick(r)?.reencodeNeeded === true);
    const tag = `Overhead ${label}${reencode ? ' (over the limits as PNG)' : ''}`;
    rows.push(
      countRow(`${tag}: delivered`, runs, (r) => {
        const c = pick(r);
        return c && [c.delivered, c.samples];
      }),
      numericRow(`${tag}: p50 (ms)`, runs, (r) => pick(r)?.overheadMs.p50),
      numericRow(`${tag}: p99 (ms)`, runs, (r) => pick(r)?.overheadMs.p99),
      numericRow(`${tag}: floor, 1 down + 1 up (ms)`, runs, (r) => pick(r)?.floorMs),
      numericRow(
        `${tag}: fal finished -> upload starts p50 (ms)`,
        runs,
        (r) => pick(r)?.finishToUploadMs.p50,
        reencode ? undefined : { text: `<= ${TARGETS.finishToUploadMs}`, ok: (v) => v <= TARGETS.finishToUploadMs },
      ),
      numericRow(
        `${tag}: p50 / floor`,
        runs,
        (r) => pick(r)?.ratioP50,
        label === '4 x 1K' && !reencode
          ? { text: `<= ${TARGETS.overheadRatio}`, ok: (v) => v <= TARGETS.overheadRatio }
          : undefined,
        2,
      ),
    );
    if (reencode) rows.push(numericRow(`${tag}: attempt p50 (ms)`, runs, (r) => pick(r)?.attemptMs.p50));
  }
  const c = `${options.images} x ${options.size}${options.noise ? '' : ' solid'}`;
  rows.push(
    numericRow('Idle RSS 1 s after login (MB)', runs, (r) =>
      r.idleRssMb.length > 0 ? median(r.idleRssMb) : undefined,
    ),
    numericRow(`Idle RSS settled, ${SETTLE_MS / 1000} s after login (MB)`, runs, (r) => r.settledRssMb, {
      text: `<= ${TARGETS.idleRssMb}`,
      ok: (v) => v <= TARGETS.idleRssMb,
    }),
    countRow(
      `Concurrent ${options.concurrent} x ${c} (FAL_CONCURRENCY ${String(options.falConcurrency ?? 'default')}): delivered`,
      runs,
      (r) => r.concurrent && [r.concurrent.delivered, r.concurrent.jobs],
    ),
    numericRow(`Concurrent: peak RSS, VmHWM (MB)`, runs, (r) => r.concurrent?.peakRssMb, {
      text: `<= ${TARGETS.peakRssMb}`,
      ok: (v) => v <= TARGETS.peakRssMb,
    }),
    numericRow(`Concurrent: peak RSS, 50 ms samples (MB)`, runs, (r) => r.concurrent?.peakRssSampledMb),
    numericRow(`Concurrent: CPU s per job`, runs, (r) => r.concurrent?.cpuSecondsPerJob, undefined, 4),
    numericRow('Concurrent: COMPLETED -> result edit p50 (ms)', runs, (r) => r.concurrent?.deliverMs.p50),
    numericRow('Concurrent: COMPLETED -> result edit p99 (ms)', runs, (r) => r.concurrent?.deliverMs.p99),
    numericRow('Concurrent: fal finished -> upload starts p50 (ms)', runs, (r) => r.concurrent?.finishToUploadMs.p50),
  );
  const polite = (r: RunResult) =>
    [r.burst?.politeness, r.warmBurst?.politeness, r.concurrent?.politeness].filter((p) => p !== undefined);
  const worst = (
    r: RunResult,
    f: (p: NonNullable<BurstResult['politeness']>) => number,
    pickMax: boolean,
  ): number | undefined => {
    const values = polite(r).map(f);
    if (values.length === 0) return undefined;
    return pickMax ? Math.max(...values) : Math.min(...values);
  };
  rows.push(
    numericRow(
      'Discord REST calls per job, mean',
      runs,
      (r) => r.burst?.politeness.restCallsPerJobMean ?? r.concurrent?.politeness.restCallsPerJobMean,
      undefined,
      2,
    ),
    numericRow(
      'Discord REST calls per job, max',
      runs,
      (r) => worst(r, (p) => p.restCallsPerJobMax, true),
      undefined,
      0,
    ),
    numericRow(
      'Progress edits per job, max',
      runs,
      (r) => worst(r, (p) => p.progressEditsPerJobMax, true),
      undefined,
      0,
    ),
    numericRow('Min gap between progress edits (ms)', runs, (r) => worst(r, (p) => p.minProgressEditGapMs, false), {
      text: `>= ${TARGETS.progressEditGapMs - TIMER_SLACK_MS}`,
      ok: (v) => v >= TARGETS.progressEditGapMs - TIMER_SLACK_MS,
    }),
    numericRow(
      'fal status requests per job (a stream is one), mean',
      runs,
      (r) => r.burst?.politeness.statusPollsPerJobMean ?? r.concurrent?.politeness.statusPollsPerJobMean,
      undefined,
      2,
    ),
    numericRow(
      'fal status requests / allowed, max',
      runs,
      (r) => worst(r, (p) => p.statusPollsPerAllowedMax, true),
      { text: '<= 1', ok: (v) => v <= 1 },
      2,
    ),
    numericRow('Min gap between status requests (ms)', runs, (r) => worst(r, (p) => p.minStatusPollGapMs, false), {
      text: `>= ${options.pollMs - TIMER_SLACK_MS}`,
      ok: (v) => v >= options.pollMs - TIMER_SLACK_MS,
    }),
  );
  return rows.filter((r): r is Row => r !== undefined);
}

interface ProcessesRow {
  readonly processes: number;
  readonly jobs: number;
  /** Over all runs: jobs delivered exactly once / jobs. */
  readonly deliveredOnce: string;
  readonly throughputJobsPerS: number;
  readonly ackP50Ms: number;
  readonly ackP99Ms: number;
  readonly ackMaxMs: number;
  /** By shard. */
  readonly peakRssMb: number[];
  /** Jobs each process delivered, by shard. */
  readonly jobsPerProcess: number[];
  readonly cpuSecondsPerJob: number;
  /** Other processes' CPU (PostgreSQL included), % of all cores: during the burst second, and the whole scenario. */
  readonly othersCpuPercent: readonly [burst: number, scenario: number];
}

/** One row per fleet size: medians over the runs (per process, by shard). */
function processesRows(runs: readonly RunResult[], options: BenchOptions): ProcessesRow[] {
  return options.processCounts.flatMap((count, at) => {
    const fleets = runs.map((r) => r.processes?.[at]).filter((f): f is ProcessesResult => f !== undefined);
    if (fleets.length === 0) return [];
    const each = (pick: (f: ProcessesResult) => number[]): number[] =>
      Array.from({ length: count }, (_, i) => median(fleets.map((f) => pick(f)[i] ?? Number.NaN)));
    return [
      {
        processes: count,
        jobs: fleets[0]!.jobs,
        deliveredOnce: `${fleets.reduce((n, f) => n + f.deliveredOnce, 0)}/${fleets.reduce((n, f) => n + f.jobs, 0)}`,
        throughputJobsPerS: median(fleets.map((f) => f.throughputJobsPerS)),
        ackP50Ms: median(fleets.map((f) => f.ackMs.p50)),
        ackP99Ms: median(fleets.map((f) => f.ackMs.p99)),
        ackMaxMs: median(fleets.map((f) => f.ackMs.max)),
        peakRssMb: each((f) => f.peakRssMb),
        jobsPerProcess: each((f) => f.deliveredPerProcess),
        cpuSecondsPerJob: median(fleets.map((f) => f.cpuSecondsPerJob)),
        othersCpuPercent: [
          median(fleets.map((f) => f.othersCpuPercent.burst)),
          median(fleets.map((f) => f.othersCpuPercent.scenario)),
        ],
      },
    ];
  });
}

function renderProcessesTable(rows: readonly ProcessesRow[]): string {
  const header = [
    'processes',
    'jobs',
    'delivered once',
    'jobs/s',
    'ack p50',
    'ack p99',
    'ack max (ms)',
    'peak RSS per process (MB)',
    'jobs per process',
    'CPU s/job',
    "others' CPU % (burst / all)",
  ];
  const body = rows.map((r) => [
    String(r.processes),
    String(r.jobs),
    r.deliveredOnce,
    show(r.throughputJobsPerS, 2),
    show(r.ackP50Ms),
    show(r.ackP99Ms),
    show(r.ackMaxMs),
    r.peakRssMb.map((v) => show(v, 0)).join(' / '),
    r.jobsPerProcess.map((v) => show(v, 0)).join(' / '),
    show(r.cpuSecondsPerJob, 4),
    r.othersCpuPercent.map((v) => show(v, 0)).join(' / '),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((line) => (line[i] ?? '').length)));
  const format = (line: readonly string[]): string =>
    line
      .map((cell, i) => cell.padStart(widths[i]!))
      .join('  ')
      .trimEnd();
  return [format(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(format)].join('\n');
}

function renderTable(rows: readonly Row[], runs: number): string {
  const header = ['metric', 'target', ...Array.from({ length: runs }, (_, i) => `run ${i + 1}`), 'median', ''];
  const body = rows.map((r) => [
    r.name,
    r.target,
    ...r.values,
    r.median,
    r.pass === undefined ? '' : r.pass ? '✓' : '✗',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((line) => (line[i] ?? '').length)));
  const format = (line: readonly string[]): string =>
    line
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [format(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(format)].join('\n');
}

function failuresOf(runs: readonly RunResult[]): string[] {
  const failures: string[] = [];
  for (const r of runs) {
    for (const [name, b] of [
      ['burst', r.burst],
      ['warm burst', r.warmBurst],
    ] as const) {
      if (b && (b.acked < b.jobs || b.delivered < b.jobs)) {
        failures.push(`run ${r.run}: ${name} acknowledged ${b.acked}/${b.jobs}, delivered ${b.delivered}/${b.jobs}`);
      }
    }
    for (const c of r.overhead ?? []) {
      if (c.delivered < c.samples) {
        failures.push(
          `run ${r.run}: overhead ${c.label} delivered ${c.delivered}/${c.samples}${c.reencodeNeeded ? " (PNGs over Discord's upload limits: the bot must re-encode)" : ''}`,
        );
      }
    }
    if (r.concurrent && r.concurrent.delivered < r.concurrent.jobs) {
      failures.push(`run ${r.run}: concurrent delivered ${r.concurrent.delivered}/${r.concurrent.jobs}`);
    }
    for (const f of r.processes ?? []) {
      if (f.deliveredOnce < f.jobs) {
        failures.push(
          `run ${r.run}: ${f.processes} process(es) delivered ${f.delivered}/${f.jobs}, exactly once ${f.deliveredOnce}/${f.jobs} (${f.duplicated} done twice, ${f.falSubmissions} fal submissions)`,
        );
      }
    }
    for (const refusal of [
      ...(r.burst?.refusals ?? []),
      ...(r.warmBurst?.refusals ?? []),
      ...(r.concurrent?.refusals ?? []),
      ...(r.processes ?? []).flatMap((f) => f.refusals),
    ]) {
      failures.push(`run ${r.run}: refused: ${refusal}`);
    }
  }
  return failures;
}

/** Adds up "<count> x <message>" lines by message. */
function mergeCounts(lines: readonly string[]): string[] {
  const counts = new Map<string, number>();
  for (const line of lines) {
    const match = /^(\d+) x (.*)$/s.exec(line);
    const [count, message] = match ? [Number(match[1]), match[2] ?? ''] : [1, line];
    counts.set(message, (counts.get(message) ?? 0) + count);
  }
  return [...counts].sort((a, b) => b[1] - a[1]).map(([message, count]) => `${count} x ${message}`);
}

async function main(): Promise<void> {
  const { options, out, scenarios, quick, waitQuietS } = parseOptions();
  const info = machine();
  log(`${String(info['cpus'])} x ${String(info['cpuModel'])}, Node ${process.version}${quick ? ', quick mode' : ''}`);
  const runs: RunResult[] = [];
  const started = Date.now();
  // The processes scenario needs PostgreSQL; without it that scenario alone is skipped (and the run says so).
  const server = benchDatabaseServer();
  const skipped = scenarios.includes('processes') ? await postgresProblem(server) : undefined;
  const postgres = scenarios.includes('processes') && skipped === undefined ? server : undefined;
  const skipLine =
    skipped === undefined
      ? undefined
      : `processes scenario SKIPPED: ${skipped}. Start PostgreSQL, or point BENCH_DATABASE_URL (or TEST_DATABASE_URL) at one.`;
  if (skipLine) log(skipLine);
  log('warming up the fakes (not measured)');
  await withWorld(100, options, warmUpFakes);
  for (let i = 1; i <= options.runs; i += 1) runs.push(await runOnce(i, options, scenarios, waitQuietS, postgres));
  const rows = buildRows(runs, options);
  const fleetRows = processesRows(runs, options);
  const failures = failuresOf(runs);
  const warnings = mergeCounts(
    runs.flatMap((r) => [
      ...(r.burst?.botWarnings ?? []),
      ...(r.warmBurst?.botWarnings ?? []),
      ...(r.overhead ?? []).flatMap((c) => c.botWarnings),
      ...(r.concurrent?.botWarnings ?? []),
      ...(r.processes ?? []).flatMap((f) => f.botWarnings),
    ]),
  );

  process.stdout.write(
    `\nImagen bot bench: ${options.runs} run(s), ${String(info['cpus'])} x ${String(info['cpuModel'])}, Node ${process.version}, ` +
      `${Math.round((Date.now() - started) / 1000)} s; other processes' CPU before scenarios: max ${Math.max(0, ...runs.flatMap((r) => Object.values(r.machineBusyPercent)))}%\n` +
      `fal: queue ${options.queueMs} ms, generation ${options.genMs} ms, poll ${options.pollMs} ms, FAL_CONCURRENCY ${String(options.falConcurrency ?? 'default')}` +
      (scenarios.includes('burst')
        ? `; burst ${options.jobs} jobs of ${options.images} x ${options.size} solid in ${options.burstMs} ms`
        : '') +
      (scenarios.includes('overhead')
        ? '; overhead: one job at a time, noise PNGs; floor = the same bytes downloaded once + uploaded once with plain node:http in another process'
        : '') +
      '\n' +
      (rows.length > 0 ? `\n${renderTable(rows, options.runs)}\n` : ''),
  );
  if (fleetRows.length > 0) {
    process.stdout.write(
      `\nProcesses on PostgreSQL (${describeServer(server)}, a fresh database each), one gateway shard each: ` +
        `${options.processesJobs} jobs of ${options.images} x ${options.size} solid in ${options.burstMs} ms over ${PROCESS_GUILDS} guilds ` +
        `spread over the shards, FAL_CONCURRENCY ${String(options.falConcurrency ?? 'default')} for the whole fleet; ` +
        `jobs/s = delivered / (first dispatch -> last result at Discord); per-process columns by shard` +
        `${options.runs > 1 ? `; medians of ${options.runs} runs` : ''}\n\n${renderProcessesTable(fleetRows)}\n`,
    );
  }
  if (skipLine) process.stdout.write(`\n${skipLine}\n`);
  const last = runs.at(-1);
  if (last?.overhead) {
    const names = [...new Set(last.overhead.flatMap((c) => Object.keys(c.breakdownMs)))].sort();
    const table = names.map(
      (name) =>
        `  ${name.slice(2).padEnd(46)}${last.overhead!.map((c) => show(c.breakdownMs[name]).padStart(10)).join('')}`,
    );
    process.stdout.write(
      `\nOverhead breakdown, medians of run ${last.run} (ms)${' '.repeat(14)}${last.overhead.map((c) => c.label.padStart(10)).join('')}\n${table.join('\n')}\n`,
    );
  }
  const missed = rows.filter((r) => r.pass === false && r.target !== 'all');
  if (missed.length > 0) process.stdout.write(`\nMissed targets: ${missed.map((r) => r.name).join('; ')}\n`);
  if (warnings.length > 0) {
    const shown = warnings.slice(0, 12).map((w) => `  ${w}`);
    if (warnings.length > shown.length)
      shown.push(`  ... and ${warnings.length - shown.length} more (see the JSON file)`);
    process.stdout.write(`\nBot log (warn/error), by message:\n${shown.join('\n')}\n`);
  }
  if (failures.length > 0) process.stdout.write(`\nNOT DELIVERED:\n${failures.map((f) => `  ${f}`).join('\n')}\n`);

  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(
    out,
    `${JSON.stringify(
      {
        date: new Date(started).toISOString(),
        machine: info,
        options,
        targets: TARGETS,
        summary: rows,
        ...(scenarios.includes('processes') && {
          processes: { server: describeServer(server), skipped: skipped ?? null, summary: fleetRows },
        }),
        failures,
        runs,
      },
      null,
      2,
    )}\n`,
  );
  process.stdout.write(`\nResults: ${out}\n`);
  process.exitCode = failures.length > 0 ? 1 : 0;
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 2;
});
