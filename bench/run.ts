/**
 * `npm run bench`: the real bot (`node dist/src/main.js`) against the loopback fakes from `test/fakes`,
 * measured from outside. Not part of `npm test`. Exits 1 when a job was not delivered, never for a missed
 * performance target (those are printed with ✗).
 *
 *     npm run bench -- --quick                 # smoke run, ~1 minute
 *     npm run bench -- --runs 3 --out /tmp/r.json
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, release, totalmem } from 'node:os';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  burst,
  concurrent,
  idleRss,
  overhead,
  type BenchOptions,
  type BurstResult,
  type ConcurrentResult,
  type OverheadCase,
  type Size,
} from './scenarios.js';
import { median, show } from './stats.js';
import { BenchWorld } from './world.js';

const SCENARIOS = ['burst', 'overhead', 'concurrent'] as const;
type Scenario = (typeof SCENARIOS)[number];

const TARGETS = {
  ackP99Ms: 25,
  overheadRatio: 2,
  idleRssMb: 70,
  peakRssMb: 250,
  progressEditGapMs: 2000,
} as const;

const HELP = `npm run bench -- [options]
  --jobs N          burst size (default 200)
  --concurrent N    jobs in flight for the memory scenario (default 100)
  --images N        images per job, burst and concurrent scenarios (default 4)
  --size 1K|2K      image size, burst and concurrent scenarios (default 1K)
  --queue-ms MS     simulated time in fal's queue (default 2000)
  --gen-ms MS       simulated generation time (default 4000)
  --poll-ms MS      the bot's FAL_POLL_INTERVAL_MS (default 500)
  --burst-ms MS     the burst is spread over this long (default 1000)
  --samples N       sequential jobs per overhead case (default 15; 5 when re-encoding is needed)
  --runs N          repetitions; the table shows their median (default 3)
  --solid           small solid PNGs in the concurrent scenario (default: incompressible noise PNGs)
  --scenarios LIST  comma-separated subset of ${SCENARIOS.join(',')}
  --node-arg ARG    extra node flag for the bot, repeatable (e.g. --node-arg=--cpu-prof)
  --out FILE        JSON results (default bench/results.json)
  --quick           smoke run: 20-job burst, 10 concurrent, 3 samples, 1 run, shorter fal times`;

interface RunResult {
  readonly run: number;
  idleRssMb: number[];
  burst?: BurstResult;
  overhead?: OverheadCase[];
  concurrent?: ConcurrentResult;
}

interface Row {
  readonly name: string;
  readonly target: string;
  readonly values: string[];
  readonly median: string;
  /** undefined: no target, informational. */
  readonly pass: boolean | undefined;
}

function parseOptions(): { options: BenchOptions; out: string; scenarios: Scenario[]; quick: boolean } {
  const { values } = parseArgs({
    options: {
      jobs: { type: 'string' },
      concurrent: { type: 'string' },
      images: { type: 'string' },
      size: { type: 'string' },
      'queue-ms': { type: 'string' },
      'gen-ms': { type: 'string' },
      'poll-ms': { type: 'string' },
      'burst-ms': { type: 'string' },
      samples: { type: 'string' },
      runs: { type: 'string' },
      solid: { type: 'boolean', default: false },
      scenarios: { type: 'string' },
      'node-arg': { type: 'string', multiple: true },
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
  for (const s of scenarios) if (!(SCENARIOS as readonly string[]).includes(s)) throw new Error(`unknown scenario ${s}`);
  const options: BenchOptions = {
    jobs: int('jobs', values.jobs, 200, 20, 1),
    concurrent: int('concurrent', values.concurrent, 100, 10, 1),
    images: int('images', values.images, 4, 4, 1),
    size: size as Size,
    queueMs: int('queue-ms', values['queue-ms'], 2000, 500),
    genMs: int('gen-ms', values['gen-ms'], 4000, 1000),
    pollMs: int('poll-ms', values['poll-ms'], 500, 500, 10),
    burstMs: int('burst-ms', values['burst-ms'], 1000, 1000),
    samples: int('samples', values.samples, 15, 3, 1),
    runs: int('runs', values.runs, 3, 1, 1),
    noise: !values.solid,
    nodeArgs: values['node-arg'] ?? [],
  };
  if (options.images > 4) throw new Error('--images must be 1-4 (the /imagine limit)');
  return { options, out: resolve(values.out ?? 'bench/results.json'), scenarios: scenarios as Scenario[], quick };
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

async function withWorld<T>(pollMs: number, nodeArgs: readonly string[], run: (world: BenchWorld) => Promise<T>): Promise<T> {
  const world = await BenchWorld.start({ pollIntervalMs: pollMs, nodeArgs });
  try {
    return await run(world);
  } finally {
    await world.close();
  }
}

async function runOnce(index: number, options: BenchOptions, scenarios: readonly Scenario[]): Promise<RunResult> {
  const result: RunResult = { run: index, idleRssMb: [] };
  // A fresh bot (and fresh fakes) per scenario: VmHWM then means "peak during this scenario".
  if (scenarios.includes('burst')) {
    log(`run ${index}: burst of ${options.jobs} /imagine in ${options.burstMs} ms`);
    result.burst = await withWorld(options.pollMs, options.nodeArgs, async (world) => {
      result.idleRssMb.push(await idleRss(world));
      return burst(world, options);
    });
  }
  if (scenarios.includes('overhead')) {
    log(`run ${index}: overhead, ${options.samples} sequential jobs per case`);
    // The poll interval does not enter COMPLETED -> upload; a short one only makes the sequential jobs quicker.
    result.overhead = await withWorld(100, options.nodeArgs, async (world) => {
      result.idleRssMb.push(await idleRss(world));
      return overhead(world, options);
    });
  }
  if (scenarios.includes('concurrent')) {
    log(`run ${index}: ${options.concurrent} concurrent jobs of ${options.images} x ${options.size}`);
    result.concurrent = await withWorld(options.pollMs, options.nodeArgs, async (world) => {
      const idle = await idleRss(world);
      result.idleRssMb.push(idle);
      return concurrent(world, options, idle);
    });
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
  const mid = median(numbers);
  return {
    name,
    target: target?.text ?? '',
    values: numbers.map((v) => show(v, digits)),
    median: show(mid, digits),
    pass: target ? Number.isFinite(mid) && target.ok(mid) : undefined,
  };
}

function countRow(name: string, runs: readonly RunResult[], pick: (run: RunResult) => [number, number] | undefined): Row | undefined {
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
    numericRow('Burst: ack p99 (ms)', runs, (r) => r.burst?.ackMs.p99, { text: `<= ${TARGETS.ackP99Ms}`, ok: (v) => v <= TARGETS.ackP99Ms }),
    numericRow('Burst: ack max (ms)', runs, (r) => r.burst?.ackMs.max),
    numericRow('Burst: CPU s per job', runs, (r) => r.burst?.cpuSecondsPerJob, undefined, 4),
  ];
  for (const label of ['1 x 1K', '4 x 1K', '4 x 2K']) {
    const pick = (r: RunResult): OverheadCase | undefined => r.overhead?.find((c) => c.label === label);
    const reencode = runs.some((r) => pick(r)?.reencodeNeeded === true);
    const tag = `Overhead ${label}${reencode ? ' (re-encode needed)' : ''}`;
    rows.push(
      countRow(`${tag}: delivered`, runs, (r) => {
        const c = pick(r);
        return c && [c.delivered, c.samples];
      }),
      numericRow(`${tag}: p50 (ms)`, runs, (r) => pick(r)?.overheadMs.p50),
      numericRow(`${tag}: p99 (ms)`, runs, (r) => pick(r)?.overheadMs.p99),
      numericRow(`${tag}: floor, 1 down + 1 up (ms)`, runs, (r) => pick(r)?.floorMs),
      numericRow(
        `${tag}: p50 / floor`,
        runs,
        (r) => pick(r)?.ratioP50,
        label === '4 x 1K' && !reencode ? { text: `<= ${TARGETS.overheadRatio}`, ok: (v) => v <= TARGETS.overheadRatio } : undefined,
        2,
      ),
    );
    if (reencode) rows.push(numericRow(`${tag}: attempt p50 (ms)`, runs, (r) => pick(r)?.attemptMs.p50));
  }
  const c = `${options.images} x ${options.size}${options.noise ? '' : ' solid'}`;
  rows.push(
    numericRow('Idle RSS after login (MB)', runs, (r) => median(r.idleRssMb), { text: `<= ${TARGETS.idleRssMb}`, ok: (v) => v <= TARGETS.idleRssMb }),
    countRow(`Concurrent ${options.concurrent} x ${c}: delivered`, runs, (r) => r.concurrent && [r.concurrent.delivered, r.concurrent.jobs]),
    numericRow(`Concurrent: peak RSS, VmHWM (MB)`, runs, (r) => r.concurrent?.peakRssMb, {
      text: `<= ${TARGETS.peakRssMb}`,
      ok: (v) => v <= TARGETS.peakRssMb,
    }),
    numericRow(`Concurrent: peak RSS, 50 ms samples (MB)`, runs, (r) => r.concurrent?.peakRssSampledMb),
    numericRow(`Concurrent: CPU s per job`, runs, (r) => r.concurrent?.cpuSecondsPerJob, undefined, 4),
  );
  const polite = (r: RunResult) => [r.burst?.politeness, r.concurrent?.politeness].filter((p) => p !== undefined);
  const worst = (r: RunResult, f: (p: NonNullable<BurstResult['politeness']>) => number, pickMax: boolean): number | undefined => {
    const values = polite(r).map(f);
    if (values.length === 0) return undefined;
    return pickMax ? Math.max(...values) : Math.min(...values);
  };
  rows.push(
    numericRow('Discord REST calls per job, mean', runs, (r) => r.burst?.politeness.restCallsPerJobMean ?? r.concurrent?.politeness.restCallsPerJobMean, undefined, 2),
    numericRow('Discord REST calls per job, max', runs, (r) => worst(r, (p) => p.restCallsPerJobMax, true), undefined, 0),
    numericRow('Progress edits per job, max', runs, (r) => worst(r, (p) => p.progressEditsPerJobMax, true), undefined, 0),
    numericRow('Min gap between progress edits (ms)', runs, (r) => worst(r, (p) => p.minProgressEditGapMs, false), {
      text: `>= ${TARGETS.progressEditGapMs}`,
      ok: (v) => v >= TARGETS.progressEditGapMs,
    }),
    numericRow('fal status requests per job, mean', runs, (r) => r.burst?.politeness.statusPollsPerJobMean ?? r.concurrent?.politeness.statusPollsPerJobMean, undefined, 2),
    numericRow('fal status requests / allowed, max', runs, (r) => worst(r, (p) => p.statusPollsPerAllowedMax, true), { text: '<= 1', ok: (v) => v <= 1 }, 2),
    numericRow('Min gap between status requests (ms)', runs, (r) => worst(r, (p) => p.minStatusPollGapMs, false), {
      text: `>= ${options.pollMs}`,
      ok: (v) => v >= options.pollMs,
    }),
  );
  return rows.filter((r): r is Row => r !== undefined);
}

function renderTable(rows: readonly Row[], runs: number): string {
  const header = ['metric', 'target', ...Array.from({ length: runs }, (_, i) => `run ${i + 1}`), 'median', ''];
  const body = rows.map((r) => [r.name, r.target, ...r.values, r.median, r.pass === undefined ? '' : r.pass ? '✓' : '✗']);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((line) => (line[i] ?? '').length)));
  const format = (line: readonly string[]): string =>
    line.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ').trimEnd();
  return [format(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(format)].join('\n');
}

function failuresOf(runs: readonly RunResult[]): string[] {
  const failures: string[] = [];
  for (const r of runs) {
    if (r.burst && (r.burst.acked < r.burst.jobs || r.burst.delivered < r.burst.jobs)) {
      failures.push(`run ${r.run}: burst acknowledged ${r.burst.acked}/${r.burst.jobs}, delivered ${r.burst.delivered}/${r.burst.jobs}`);
    }
    for (const c of r.overhead ?? []) {
      if (c.delivered < c.samples) {
        failures.push(
          `run ${r.run}: overhead ${c.label} delivered ${c.delivered}/${c.samples}${c.reencodeNeeded ? ' (PNGs over Discord\'s upload limits: the bot must re-encode)' : ''}`,
        );
      }
    }
    if (r.concurrent && r.concurrent.delivered < r.concurrent.jobs) {
      failures.push(`run ${r.run}: concurrent delivered ${r.concurrent.delivered}/${r.concurrent.jobs}`);
    }
  }
  return failures;
}

async function main(): Promise<void> {
  const { options, out, scenarios, quick } = parseOptions();
  const info = machine();
  log(`${String(info['cpus'])} x ${String(info['cpuModel'])}, Node ${process.version}${quick ? ', quick mode' : ''}`);
  const runs: RunResult[] = [];
  const started = Date.now();
  for (let i = 1; i <= options.runs; i += 1) runs.push(await runOnce(i, options, scenarios));
  const rows = buildRows(runs, options);
  const failures = failuresOf(runs);
  const warnings = [...new Set(runs.flatMap((r) => [...(r.burst?.botWarnings ?? []), ...(r.overhead ?? []).flatMap((c) => c.botWarnings), ...(r.concurrent?.botWarnings ?? [])]))];

  process.stdout.write(
    `\nImagen bot bench: ${options.runs} run(s), ${String(info['cpus'])} x ${String(info['cpuModel'])}, Node ${process.version}, ` +
      `${Math.round((Date.now() - started) / 1000)} s\n` +
      `fal: queue ${options.queueMs} ms, generation ${options.genMs} ms, poll ${options.pollMs} ms; burst ${options.jobs} jobs of ` +
      `${options.images} x ${options.size} solid in ${options.burstMs} ms; overhead with noise PNGs, floor = same bytes downloaded once + uploaded once\n\n` +
      `${renderTable(rows, options.runs)}\n`,
  );
  const last = runs.at(-1);
  if (last?.overhead) {
    const names = [...new Set(last.overhead.flatMap((c) => Object.keys(c.breakdownMs)))].sort();
    const table = names.map((name) => `  ${name.slice(2).padEnd(46)}${last.overhead!.map((c) => show(c.breakdownMs[name]).padStart(10)).join('')}`);
    process.stdout.write(
      `\nOverhead breakdown, medians of run ${last.run} (ms)${' '.repeat(14)}${last.overhead.map((c) => c.label.padStart(10)).join('')}\n${table.join('\n')}\n`,
    );
  }
  const missed = rows.filter((r) => r.pass === false && r.target !== 'all');
  if (missed.length > 0) process.stdout.write(`\nMissed targets: ${missed.map((r) => r.name).join('; ')}\n`);
  if (warnings.length > 0) process.stdout.write(`\nBot log (warn/error), by message:\n${warnings.map((w) => `  ${w}`).join('\n')}\n`);
  if (failures.length > 0) process.stdout.write(`\nNOT DELIVERED:\n${failures.map((f) => `  ${f}`).join('\n')}\n`);

  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(
    out,
    `${JSON.stringify({ date: new Date(started).toISOString(), machine: info, options, targets: TARGETS, summary: rows, failures, runs }, null, 2)}\n`,
  );
  process.stdout.write(`\nResults: ${out}\n`);
  process.exitCode = failures.length > 0 ? 1 : 0;
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 2;
});
