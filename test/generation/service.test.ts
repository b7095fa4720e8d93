import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createFal } from '../../src/fal/client.js';
import type { DownloadedImage } from '../../src/generation/images.js';
import {
  GenerationService,
  type Failure,
  type GenerationRequest,
  type Progress,
  type ReplyTarget,
} from '../../src/generation/service.js';
import { createLogger, type Logger } from '../../src/logger.js';
import { openDatabase, type Database } from '../../src/store/database.js';
import { GenerationStore, type Generation } from '../../src/store/generations.js';
import { JobClaims } from '../../src/store/jobClaims.js';
import { FakeFal } from '../fakes/fal.js';
import { ENGINES, freshDatabase } from '../support/databases.js';

/**
 * The job lifecycle through its reply-target port: a real store (SQLite, and PostgreSQL when TEST_DATABASE_URL is
 * set), the real fal client against the fake fal queue, and a target that records what each member would read.
 */
class RecordingTarget implements ReplyTarget {
  readonly progressOf = new Map<number, Progress[]>();
  readonly delivered = new Map<number, number>();
  readonly failed = new Map<number, Failure>();
  #waiters: Array<() => void> = [];

  progress(generation: Generation, progress: Progress): Promise<void> {
    this.progressOf.set(generation.id, [...(this.progressOf.get(generation.id) ?? []), progress]);
    this.#notify();
    return Promise.resolve();
  }

  deliver(generation: Generation, images: readonly DownloadedImage[]): Promise<string | null> {
    this.delivered.set(generation.id, images.length);
    this.#notify();
    return Promise.resolve(`message-${generation.id}`);
  }

  fail(generation: Generation, failure: Failure): Promise<void> {
    this.failed.set(generation.id, failure);
    this.#notify();
    return Promise.resolve();
  }

  /** Resolves once `check` holds (re-checked after every call the service makes). */
  async until(check: () => boolean): Promise<void> {
    while (!check()) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  #notify(): void {
    for (const waiter of this.#waiters.splice(0)) waiter();
  }
}

const LIMITS = {
  userMaxActiveJobs: 5,
  userCooldownSeconds: 0,
  userDailyImages: 100,
  guildDailyImages: 1000,
  guildDailyBudgetUsd: 100,
};

interface Harness {
  fal: FakeFal;
  database: Database;
  lines: string[];
  logger: Logger;
  /** A service as one bot process would run it: a store and claims of its own owner on the shared database. */
  service(target?: ReplyTarget, logger?: Logger): GenerationService;
  close(): Promise<void>;
}

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

async function startHarness(engine: 'sqlite' | 'postgres', options: { concurrency?: number } = {}): Promise<Harness> {
  const fal = await FakeFal.start();
  const dir = mkdtempSync(join(tmpdir(), 'imagen-service-'));
  const database =
    engine === 'sqlite' ? await openDatabase({ path: join(dir, 'imagine.sqlite') }) : await freshDatabase(engine);
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', secrets: [fal.key], write: (line) => lines.push(line) });
  const services: GenerationService[] = [];
  return {
    fal,
    database,
    lines,
    logger,
    service(target = new RecordingTarget(), serviceLogger = logger) {
      const claimant = { owner: `process-${services.length + 1}`, leaseMs: 60_000 };
      const service = new GenerationService({
        store: new GenerationStore(database, claimant),
        claims: new JobClaims(database, claimant),
        fal: createFal({ key: fal.key, baseUrl: fal.baseUrl }),
        logger: serviceLogger,
        target,
        images: { urls: () => Promise.reject(new Error('these jobs start from no image')) },
        pollIntervalMs: 5,
        jobTimeoutMs: 60_000,
        download: { timeoutMs: 10_000, maxBytes: 10 * 1024 * 1024 },
        concurrency: options.concurrency ?? 4,
        prices: {},
        dailyBudgetUsd: 1000,
        progressIntervalMs: 0,
      });
      services.push(service);
      return service;
    },
    async close() {
      // drain(0) also stops each service's lease heartbeat.
      for (const service of services) await service.drain(0);
      await database.close();
      await fal.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function request(member: number, prompt: string): GenerationRequest {
  return {
    modelId: 'imagen4',
    input: { prompt, aspect_ratio: '1:1', num_images: 1, seed: 7 },
    requesterId: `20000000000000000${member}`,
    guildId: '300000000000000001',
    channelId: '300000000000000002',
    applicationId: '300000000000000003',
    interactionToken: `interaction-token-of-member-${member}-${'x'.repeat(40)}`,
    tokenExpiresAt: Date.now() + 15 * 60 * 1000,
    parentId: null,
    appPermissions: '0',
    attachmentSizeLimit: null,
    inThread: false,
    server: { safetyTolerance: '4' },
    action: 'imagine',
    imageRefs: [],
  };
}

async function admit(service: GenerationService, member: number, prompt: string): Promise<Generation> {
  const admitted = await service.admit(request(member, prompt), LIMITS);
  if (!admitted.ok) throw new Error(`refused: ${JSON.stringify(admitted.refusal)}`);
  return admitted.generation;
}

const positions = (progress: readonly Progress[] | undefined) =>
  (progress ?? []).flatMap((p) => (p.phase === 'waiting' ? [p.position] : []));

describe.each(ENGINES)('GenerationService, through its reply target (%s)', (engine) => {
  it('counts a waiting member’s place in line down as the jobs ahead of them finish', async () => {
    harness = await startHarness(engine, { concurrency: 1 });
    const target = new RecordingTarget();
    const service = harness.service(target);
    harness.fal.defaultPlan = { hold: true };
    const jobs: Generation[] = [];
    for (const member of [1, 2, 3, 4]) jobs.push(await admit(service, member, `member ${member}`));
    for (const job of jobs) void service.start(job);
    const fourth = jobs[3]?.id ?? 0;
    await target.until(() => positions(target.progressOf.get(fourth)).includes(3));

    for (let n = 1; n <= 3; n += 1) {
      const submission = await harness.fal.waitForSubmission(n);
      harness.fal.release(submission.requestId);
      // The fourth member reads 3, then 2, then 1, then their job is sent to fal.
      if (n < 3) await target.until(() => positions(target.progressOf.get(fourth)).includes(3 - n));
    }
    await target.until(() => target.delivered.size === 3);
    harness.fal.release((await harness.fal.waitForSubmission(4)).requestId);
    await target.until(() => target.delivered.size === 4);
    expect(positions(target.progressOf.get(fourth))).toEqual([3, 2, 1]);
  });

  it('keeps the interaction tokens of resumed jobs out of its logs', async () => {
    harness = await startHarness(engine);
    const first = harness.service();
    harness.fal.defaultPlan = { hold: true };
    const job = await admit(first, 1, 'outlives its process');
    const token = job.interactionToken ?? '';
    void first.start(job);
    await harness.fal.waitForSubmission(1);
    await first.drain(0);

    // The next process: a new logger that has never seen the token.
    const lines: string[] = [];
    const logger = createLogger({ level: 'debug', write: (line) => lines.push(line) });
    const next = harness.service(new RecordingTarget(), logger);
    expect(await next.run()).toBe(1);
    logger.error('a Discord error that quotes its route', { url: `/webhooks/app/${token}/messages/@original` });
    expect(lines.join('\n')).not.toContain(token);
    expect(lines.join('\n')).toContain('[redacted]');
  });
});
