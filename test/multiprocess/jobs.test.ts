import { afterEach, describe, expect, it } from 'vitest';
import { assertNoSecrets, isCallback, isFinalEdit, readRow, startFakes, type Fakes } from '../e2e/world.js';
import { DEFAULT_USER } from '../fakes/discord.js';
import { Fleet } from './fleet.js';

/**
 * Several bot processes on one PostgreSQL database, each a shard of the gateway, with the loopback fakes: the fal
 * concurrency cap, the limits and the jobs themselves belong to the deployment, not to a process. Runs in the
 * `postgres` project only (vitest.config.ts): SQLite has one process.
 */
let fakes: Fakes | undefined;
let fleet: Fleet | undefined;
afterEach(async () => {
  await fleet?.stop();
  fleet = undefined;
  await fakes?.close();
  fakes = undefined;
});

async function startFleet(count: number, env: Record<string, string>) {
  fakes = await startFakes(env, { discord: { shards: count } });
  fleet = new Fleet(fakes, count);
  await fleet.start();
  return { f: fakes, fleet };
}

describe('several processes on one PostgreSQL database', () => {
  it('a burst over three processes: every job is delivered once, and FAL_CONCURRENCY holds for all of them', async () => {
    const { f, fleet } = await startFleet(3, { FAL_CONCURRENCY: '2' });
    const jobs = 9;
    for (let i = 0; i < jobs; i += 1) f.fal.enqueuePlan({ hold: true });
    const interactions = Array.from({ length: jobs }, (_, i) => fleet.imagine(`lighthouse ${i}`, i % 3));

    // Every job is held at fal: only two of nine may ever be there at once, whichever process took them.
    await f.fal.waitForSubmission(2);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(f.fal.submissions).toHaveLength(2);

    for (let released = 0; released < jobs; released += 1) {
      const submission = await f.fal.waitForSubmission(released + 1, 20_000);
      const delivered = interactions.filter((i) => fleet.finalEdits(i.token) > 0).length;
      expect(f.fal.submissions.length - delivered).toBeLessThanOrEqual(2);
      f.fal.release(submission.requestId);
    }
    for (const interaction of interactions) await f.discord.waitForRequest(isFinalEdit(interaction.token), 20_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(interactions.map((i) => fleet.finalEdits(i.token))).toEqual(interactions.map(() => 1));
    expect(new Set(f.fal.submissions.map((s) => s.requestId)).size).toBe(jobs);
    expect(new Set(f.fal.submissions.map((s) => s.input['prompt'])).size).toBe(jobs);
    // Each process worked the jobs of its own shard.
    for (const bot of fleet.bots) {
      expect(bot.lines.filter((line) => line.includes('generation delivered'))).toHaveLength(jobs / 3);
    }
    assertNoSecrets(
      fleet.bots.flatMap((bot) => bot.lines),
      [f.env.DISCORD_TOKEN ?? '', f.env.FAL_KEY ?? '', ...interactions.map((i) => i.token)],
    );
  }, 120_000);

  it('a process killed mid-job: another takes the job over when its lease runs out, resumes it by its fal request id and delivers it once', async () => {
    const { f, fleet } = await startFleet(2, { JOB_LEASE_SECONDS: '2' });
    f.fal.enqueuePlan({ queuePositions: [1], hold: true });
    const interaction = fleet.imagine('a lighthouse in a storm', 0);
    const submission = await f.fal.waitForSubmission(1);
    await f.fal.waitForRequest((r) => r.path.includes(`/requests/${submission.requestId}/status`));
    const [first, second] = fleet.bots;
    if (!first || !second) throw new Error('two processes expected');
    expect((await first.kill('SIGKILL')).signal).toBe('SIGKILL');

    await second.waitForLog('took over jobs another process left', 15_000);
    f.fal.release(submission.requestId);
    const final = await f.discord.waitForRequest(isFinalEdit(interaction.token), 20_000);
    expect(final.files).toHaveLength(1);
    await second.waitForLog('generation delivered');
    expect(f.fal.submissions).toHaveLength(1);
    expect(fleet.finalEdits(interaction.token)).toBe(1);
    expect(await readRow(f, 1)).toMatchObject({ status: 'done', fal_request_id: submission.requestId });
  }, 60_000);

  it('a process draining on SIGTERM keeps its running job (its lease renewed past JOB_LEASE_SECONDS), and hands its waiting one over at once', async () => {
    const { f, fleet } = await startFleet(2, {
      JOB_LEASE_SECONDS: '2',
      SHUTDOWN_GRACE_SECONDS: '8',
      FAL_CONCURRENCY: '1',
    });
    f.fal.enqueuePlan({ hold: true });
    const running = fleet.imagine('a lighthouse at dusk', 0);
    const submission = await f.fal.waitForSubmission(1);
    await f.fal.waitForRequest((r) => r.path.includes(`/requests/${submission.requestId}/status`));
    // The second job waits in line behind the first (one slot for the whole deployment).
    const waiting = fleet.imagine('a lighthouse at dawn', 0, undefined, 1);
    await f.discord.waitForRequest(isCallback(waiting.id));
    const [first, second] = fleet.bots;
    if (!first || !second) throw new Error('two processes expected');

    first.child.kill('SIGTERM');
    await first.waitForLog('shutting down');
    // Handed over at once: the other process takes the waiting job (it is sent once the slot frees).
    await second.waitForLog('took over jobs another process left', 5000);
    // Well past one lease: the running job is still the draining process's, nobody else resumed it.
    await new Promise((resolve) => setTimeout(resolve, 3500));
    expect(
      second.lines.filter((line) => line.includes('resuming generation') && line.includes('"generation":1')),
    ).toEqual([]);
    f.fal.release(submission.requestId);
    await f.discord.waitForRequest(isFinalEdit(running.token), 10_000);
    expect(await first.exited).toEqual({ code: 0, signal: null });
    await f.discord.waitForRequest(isFinalEdit(waiting.token), 20_000);
    expect([fleet.finalEdits(running.token), fleet.finalEdits(waiting.token)]).toEqual([1, 1]);
    expect(first.lines.filter((line) => line.includes('generation delivered'))).toHaveLength(1);
    await second.waitForLog('generation delivered');
    expect(second.lines.filter((line) => line.includes('generation delivered'))).toHaveLength(1);
    expect(f.fal.submissions).toHaveLength(2);
  }, 60_000);

  it('50 requests at once from one member over two processes never pass the daily budget together', async () => {
    // Nano Banana 2 at 1K costs $0.08: the budget allows exactly seven jobs in the whole deployment.
    const { f, fleet } = await startFleet(2, { DAILY_BUDGET_USD: '0.56', FAL_CONCURRENCY: '40' });
    const interactions = Array.from({ length: 50 }, (_, i) => fleet.imagine(`a fox ${i}`, i % 2, DEFAULT_USER));
    const callbacks = await Promise.all(interactions.map((i) => f.discord.waitForRequest(isCallback(i.id), 20_000)));
    const admitted = callbacks.filter((c) => (c.body as { type: number }).type === 5);
    const refused = callbacks.filter((c) => (c.body as { type: number }).type === 4);
    expect(admitted).toHaveLength(7);
    expect(refused).toHaveLength(43);
    for (const answer of refused) {
      expect(JSON.stringify(answer.body)).toContain('daily spending limit across all servers');
    }
    // The fake sent each shard's 25 to its own process (two live shards), so two processes decided at once.
    expect(f.discord.liveShards()).toHaveLength(2);
    expect(await readRow(f, 8)).toBeUndefined();
  }, 60_000);
});
