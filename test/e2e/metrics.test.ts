import { ApplicationCommandOptionType as T } from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import type { FakeUser } from '../fakes/discord.js';
import { UNSAFE_MARKER } from '../fakes/fal.js';
import { isFinalEdit, startWorld, type World } from './world.js';

const alice: FakeUser = { id: '200000000000000001', username: 'alice' };

let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

async function metricsWorld(): Promise<World> {
  world = await startWorld({ METRICS_PORT: '0' });
  return world;
}

function url(w: World, path: string): string {
  const address = w.bot.metricsAddress();
  if (!address) throw new Error('the bot serves no metrics');
  return `http://${address.host}:${address.port}${path}`;
}

async function get(w: World, path: string) {
  const response = await fetch(url(w, path));
  return { status: response.status, body: await response.text() };
}

/** The value of the one sample `series` (name and labels exactly as exposed), or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('METRICS_PORT', () => {
  it('counts a /imagine end to end, by model and outcome, with no Discord id or token in the metrics', async () => {
    const w = await metricsWorld();
    expect(await get(w, '/healthz')).toEqual({ status: 200, body: 'ok\n' });
    expect(await get(w, '/readyz')).toEqual({ status: 200, body: 'ready\n' });

    w.fal.enqueuePlan({ queuePositions: [1, 0], progressPolls: 1 });
    // One edit of the reply hits a rate limit: discord.js waits it out, on the interaction client.
    w.discord.failNext((method, path) => method === 'PATCH' && path.endsWith('/messages/@original'), {
      status: 429,
      retryAfter: 0.05,
    });
    const interaction = w.discord.chatInput({
      name: 'imagine',
      options: [
        { name: 'prompt', type: T.String, value: 'a lighthouse at dusk' },
        { name: 'num_images', type: T.Integer, value: 2 },
      ],
      user: alice,
    });
    w.discord.dispatchInteraction(interaction);
    await w.discord.waitForRequest(isFinalEdit(interaction.token));
    await w.bot.generations.idle();

    const metrics = await get(w, '/metrics');
    expect(metrics.status).toBe(200);
    const text = metrics.body;
    expect(sample(text, 'imagen_jobs_total{model="nano-banana-2",action="imagine",outcome="done"}')).toBe(1);
    expect(sample(text, 'imagen_spend_usd_total{model="nano-banana-2"}')).toBeCloseTo(0.16);
    expect(sample(text, 'imagen_queue_jobs{state="waiting"}')).toBe(0);
    expect(sample(text, 'imagen_queue_jobs{state="running"}')).toBe(0);
    expect(sample(text, 'imagen_interaction_ack_seconds_count{response="deferred_reply"}')).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'imagen_fal_queue_wait_seconds_count{model="nano-banana-2"}')).toBe(1);
    expect(sample(text, 'imagen_fal_run_seconds_count{model="nano-banana-2"}')).toBe(1);
    expect(
      sample(text, 'imagen_discord_rate_limit_wait_seconds_count{client="interaction",global="false"}'),
    ).toBeGreaterThanOrEqual(1);
    expect(text).toContain('process_resident_memory_bytes');

    // No snowflake (a bare run of 17-20 digits; a float's decimals do not count) and no credential.
    expect(text).not.toMatch(/(?<![\d.])\d{17,20}(?![\d.])/);
    for (const id of [alice.id, w.discord.guildId, w.discord.applicationId, interaction.id]) {
      expect(text).not.toContain(id);
    }
    for (const secret of [interaction.token, w.config.discordToken, w.config.falKey]) {
      expect(text).not.toContain(secret);
    }
  });

  it('labels a failed job with its failure kind, and counts its cost when fal may have billed it', async () => {
    const w = await metricsWorld();
    const interaction = w.discord.chatInput({
      name: 'imagine',
      options: [{ name: 'prompt', type: T.String, value: `a cat ${UNSAFE_MARKER}` }],
      user: alice,
    });
    w.discord.dispatchInteraction(interaction);
    await w.discord.waitForRequest(isFinalEdit(interaction.token));
    await w.bot.generations.idle();

    const { body } = await get(w, '/metrics');
    expect(sample(body, 'imagen_jobs_total{model="nano-banana-2",action="imagine",outcome="safety"}')).toBe(1);
    expect(body).not.toContain('outcome="done"');
    // fal may bill a safety refusal: it stays counted against the budgets, and so in the spend.
    expect(sample(body, 'imagen_spend_usd_total{model="nano-banana-2"}')).toBeCloseTo(0.08);
  });

  it('is not ready once the Discord client is gone, or the database does not answer', async () => {
    const w = await metricsWorld();
    expect((await get(w, '/readyz')).status).toBe(200);
    await w.bot.client.destroy();
    expect(await get(w, '/readyz')).toEqual({ status: 503, body: 'not ready: not connected to the Discord gateway\n' });
    expect((await get(w, '/healthz')).status).toBe(200);

    await w.restart();
    expect((await get(w, '/readyz')).status).toBe(200);
    await w.bot.database.close();
    expect(await get(w, '/readyz')).toEqual({ status: 503, body: 'not ready: the database does not answer\n' });
  });

  it('stops serving when the bot stops, and serves nothing without METRICS_PORT', async () => {
    const w = await metricsWorld();
    const before = url(w, '/healthz');
    expect((await fetch(before)).status).toBe(200);
    await w.bot.stop(0);
    expect(w.bot.metricsAddress()).toBeUndefined();
    await expect(fetch(before)).rejects.toThrow();
    await w.close();

    world = await startWorld();
    expect(world.bot.metricsAddress()).toBeUndefined();
  });
});
