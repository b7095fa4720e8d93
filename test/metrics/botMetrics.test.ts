import { register as globalRegistry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { BotMetrics } from '../../src/metrics/botMetrics.js';

const idle = () => ({ waiting: 0, running: 0 });

async function values(metrics: BotMetrics, name: string): Promise<Array<{ labels: object; value: number }>> {
  const metric = metrics.registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const { values } = await metric.get();
  return values.map(({ labels, value }) => ({ labels: { ...labels }, value }));
}

/** A histogram's `_sum` and `_count` for one label set, read from the text Prometheus scrapes. */
async function histogram(metrics: BotMetrics, name: string, labels: Record<string, string>) {
  const text = await metrics.registry.getSingleMetricAsString(name);
  const selector = Object.entries(labels)
    .map(([key, value]) => `${key}="${value}"`)
    .join(',');
  const read = (suffix: string) => {
    const line = text.split('\n').find((l) => l.startsWith(`${name}_${suffix}{${selector}}`));
    return line === undefined ? undefined : Number(line.split(' ').at(-1));
  };
  return { sum: read('sum'), count: read('count') };
}

describe('BotMetrics', () => {
  it('counts ended jobs by model, action and outcome, and adds up spend by model', async () => {
    const metrics = new BotMetrics({ queue: idle, defaultMetrics: false });
    metrics.jobEnded('nano-banana-2', 'imagine', 'done', 0.16);
    metrics.jobEnded('nano-banana-2', 'imagine', 'done', 0.08);
    metrics.jobEnded('nano-banana-2', 'upscale', 'safety', 0.002);
    metrics.jobEnded('nano-banana-pro', 'imagine', 'cancelled', 0);
    metrics.jobEnded('nano-banana-pro', 'imagine', 'cancelled', -5);

    expect(await values(metrics, 'imagen_jobs_total')).toEqual(
      expect.arrayContaining([
        { labels: { model: 'nano-banana-2', action: 'imagine', outcome: 'done' }, value: 2 },
        { labels: { model: 'nano-banana-2', action: 'upscale', outcome: 'safety' }, value: 1 },
        { labels: { model: 'nano-banana-pro', action: 'imagine', outcome: 'cancelled' }, value: 2 },
      ]),
    );
    const spend = await values(metrics, 'imagen_spend_usd_total');
    expect(spend).toHaveLength(2);
    expect(spend.find((v) => 'model' in v.labels && v.labels.model === 'nano-banana-2')?.value).toBeCloseTo(0.242);
    // A model that spent nothing is there at 0; a negative amount never lowers the counter.
    expect(spend.find((v) => 'model' in v.labels && v.labels.model === 'nano-banana-pro')?.value).toBe(0);
  });

  it("reads the bot's queue at each scrape", async () => {
    let counts = { waiting: 3, running: 2 };
    const metrics = new BotMetrics({ queue: () => counts, defaultMetrics: false });
    expect(await values(metrics, 'imagen_queue_jobs')).toEqual([
      { labels: { state: 'waiting' }, value: 3 },
      { labels: { state: 'running' }, value: 2 },
    ]);
    counts = { waiting: 0, running: 1 };
    expect(await metrics.registry.metrics()).toContain('imagen_queue_jobs{state="waiting"} 0');
    expect(await metrics.registry.metrics()).toContain('imagen_queue_jobs{state="running"} 1');
  });

  it("times fal's queue from submit to IN_PROGRESS and the run from IN_PROGRESS to COMPLETED, once each", async () => {
    const metrics = new BotMetrics({ queue: idle, defaultMetrics: false });
    let now = 10_000;
    const clock = metrics.falClock('nano-banana-2', () => now);
    clock.submitted();
    now += 1000;
    clock.status('IN_QUEUE');
    now += 2000;
    clock.status('IN_PROGRESS');
    now += 1000;
    clock.status('IN_PROGRESS');
    now += 4000;
    clock.status('COMPLETED');
    now += 9000;
    clock.status('COMPLETED');

    expect(await histogram(metrics, 'imagen_fal_queue_wait_seconds', { model: 'nano-banana-2' })).toEqual({
      sum: 3,
      count: 1,
    });
    expect(await histogram(metrics, 'imagen_fal_run_seconds', { model: 'nano-banana-2' })).toEqual({
      sum: 5,
      count: 1,
    });
  });

  it('skips a step whose start this process did not see (a job resumed after a restart)', async () => {
    const metrics = new BotMetrics({ queue: idle, defaultMetrics: false });
    let now = 0;
    const resumedRunning = metrics.falClock('nano-banana-pro', () => now);
    resumedRunning.status('IN_PROGRESS');
    now += 2000;
    resumedRunning.status('COMPLETED');
    const neverSeenRunning = metrics.falClock('nano-banana-pro', () => now);
    neverSeenRunning.submitted();
    neverSeenRunning.status('COMPLETED');

    expect(await histogram(metrics, 'imagen_fal_queue_wait_seconds', { model: 'nano-banana-pro' })).toEqual({
      sum: undefined,
      count: undefined,
    });
    expect(await histogram(metrics, 'imagen_fal_run_seconds', { model: 'nano-banana-pro' })).toEqual({
      sum: 2,
      count: 1,
    });
  });

  it('measures acknowledgements by response type and counts the refused ones by status', async () => {
    const metrics = new BotMetrics({ queue: idle, defaultMetrics: false });
    metrics.interactionAcknowledged(1000, 1400, 5, 204);
    metrics.interactionAcknowledged(1000, 1600, 5, 200);
    metrics.interactionAcknowledged(1000, 1100, 9, 204);
    // Clocks disagree by a little: never a negative latency.
    metrics.interactionAcknowledged(2000, 1900, 4, 204);
    metrics.interactionAcknowledged(1000, 5000, 5, 404);

    expect(await histogram(metrics, 'imagen_interaction_ack_seconds', { response: 'deferred_reply' })).toEqual({
      sum: 1,
      count: 2,
    });
    expect(await histogram(metrics, 'imagen_interaction_ack_seconds', { response: 'modal' })).toEqual({
      sum: 0.1,
      count: 1,
    });
    expect(await histogram(metrics, 'imagen_interaction_ack_seconds', { response: 'reply' })).toEqual({
      sum: 0,
      count: 1,
    });
    expect(await values(metrics, 'imagen_interaction_ack_failures_total')).toEqual([
      { labels: { status: '404' }, value: 1 },
    ]);
  });

  it('measures rate-limit waits by REST client and whether they were global', async () => {
    const metrics = new BotMetrics({ queue: idle, defaultMetrics: false });
    metrics.rateLimited('bot', false, 250);
    metrics.rateLimited('bot', false, 750);
    metrics.rateLimited('interaction', true, 2000);

    expect(
      await histogram(metrics, 'imagen_discord_rate_limit_wait_seconds', { client: 'bot', global: 'false' }),
    ).toEqual({ sum: 1, count: 2 });
    expect(
      await histogram(metrics, 'imagen_discord_rate_limit_wait_seconds', { client: 'interaction', global: 'true' }),
    ).toEqual({ sum: 2, count: 1 });
  });

  it("keeps to its own registry: two in one process do not collide, prom-client's global one stays empty", async () => {
    const first = new BotMetrics({ queue: idle });
    const second = new BotMetrics({ queue: idle });
    first.jobEnded('nano-banana-2', 'imagine', 'done', 0.08);

    expect(await first.registry.metrics()).toContain('imagen_jobs_total{model="nano-banana-2"');
    expect(await second.registry.metrics()).not.toContain('imagen_jobs_total{');
    expect(await globalRegistry.metrics()).not.toContain('imagen_');
    // prom-client's process metrics are on each bot's registry, unless turned off.
    expect(await second.registry.metrics()).toContain('process_cpu_user_seconds_total');
    const bare = new BotMetrics({ queue: idle, defaultMetrics: false });
    expect(await bare.registry.metrics()).not.toContain('process_cpu_user_seconds_total');
  });
});
