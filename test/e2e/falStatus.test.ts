import { ApplicationCommandOptionType as T } from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import type { FalRecordedRequest } from '../fakes/fal.js';
import { contentOf, isFinalEdit, isOriginalEdit, startWorld, waitForLog, type World } from './world.js';

/**
 * How the bot follows a job at fal (status stream first, polling when the stream fails) and when it submits
 * again: never after a submit fal may have stored.
 */
let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

function imagine(w: World, prompt = 'a lighthouse') {
  const interaction = w.discord.chatInput({
    name: 'imagine',
    options: [{ name: 'prompt', type: T.String, value: prompt }],
  });
  w.discord.dispatchInteraction(interaction);
  return interaction;
}

const isSubmit = (method: string, path: string) => method === 'POST' && path === '/fal-ai/nano-banana-2';
const isStream = (method: string, path: string) => method === 'GET' && path.endsWith('/status/stream');
const streams = (w: World, requestId: string) =>
  w.fal.requests.filter((r) => r.path === `/fal-ai/nano-banana-2/requests/${requestId}/status/stream`);
const polls = (w: World, requestId: string) =>
  w.fal.requests.filter((r) => r.path === `/fal-ai/nano-banana-2/requests/${requestId}/status`);
const submits = (w: World) => w.fal.requests.filter((r: FalRecordedRequest) => isSubmit(r.method, r.path));

describe('following a job at fal', () => {
  it('follows the status stream: one request for the whole wait, each change shown as fal pushes it', async () => {
    world = await startWorld();
    world.fal.enqueuePlan({ queuePositions: [3], hold: true, holdRunning: true });
    const interaction = imagine(world);
    const submission = await world.fal.waitForSubmission(1);
    await world.discord.waitForRequest(
      (r) => isOriginalEdit(interaction.token)(r) && contentOf(r.body).includes('position 3'),
    );
    world.fal.release(submission.requestId);
    await world.discord.waitForRequest(
      (r) => isOriginalEdit(interaction.token)(r) && /Generating/i.test(contentOf(r.body)),
    );
    world.fal.finish(submission.requestId);
    const final = await world.discord.waitForRequest(isFinalEdit(interaction.token));
    expect(final.files).toHaveLength(1);
    // The bot never polled: it learnt of the release and of COMPLETED only because the stream pushed them.
    expect(streams(world, submission.requestId).map((r) => r.status)).toEqual([200]);
    expect(polls(world, submission.requestId)).toEqual([]);
    expect(
      world.fal.requests.filter((r) => r.path === `/fal-ai/nano-banana-2/requests/${submission.requestId}`),
    ).toHaveLength(1);
  });

  it.each([404, 405, 503])(
    'polls instead when fal refuses the stream with %i, without submitting again',
    async (status) => {
      world = await startWorld();
      world.fal.failNext(isStream, { status, body: { detail: 'no streaming here' } });
      const interaction = imagine(world);
      const final = await world.discord.waitForRequest(isFinalEdit(interaction.token));
      expect(final.files).toHaveLength(1);
      const requestId = world.fal.submissions[0]!.requestId;
      expect(streams(world, requestId).map((r) => r.status)).toEqual([status]);
      expect(polls(world, requestId).length).toBeGreaterThan(0);
      expect(submits(world)).toHaveLength(1);
      await waitForLog(world, 'fal status stream unavailable, polling instead');
    },
  );

  it.each(['end', 'drop'] as const)(
    'goes on by polling when the stream is cut (%s) before COMPLETED, without submitting again',
    async (how) => {
      world = await startWorld();
      world.fal.enqueuePlan({ queuePositions: [2], hold: true });
      world.fal.cutNextStream({ afterEvents: 1, how });
      const interaction = imagine(world);
      const submission = await world.fal.waitForSubmission(1);
      await world.fal.waitForRequest((r) => r.path === `/fal-ai/nano-banana-2/requests/${submission.requestId}/status`);
      world.fal.release(submission.requestId);
      const final = await world.discord.waitForRequest(isFinalEdit(interaction.token));
      expect(final.files).toHaveLength(1);
      expect(streams(world, submission.requestId)).toHaveLength(1);
      expect(submits(world)).toHaveLength(1);
      expect(world.fal.submissions).toHaveLength(1);
    },
  );
});

describe('submitting to fal', () => {
  it.each([502, 503, 504])(
    'does not retry a submit fal answered with %i (fal may have stored it) and says fal is busy',
    async (status) => {
      world = await startWorld();
      world.fal.failNext(isSubmit, { status, body: { detail: 'upstream trouble' } });
      const interaction = imagine(world);
      const final = await world.discord.waitForRequest(isFinalEdit(interaction.token));
      expect(contentOf(final.body)).toContain('fal is busy or unreachable right now');
      expect(submits(world)).toHaveLength(1);
      expect(world.fal.submissions).toHaveLength(0);
      expect(await waitForLog(world, 'generation failed: busy')).toContain('unknown, not retried');
    },
  );

  it('does not retry a submit whose connection was lost after the request was sent', async () => {
    world = await startWorld();
    world.fal.failNext(isSubmit, { status: 0, dropConnection: true });
    const interaction = imagine(world);
    const final = await world.discord.waitForRequest(isFinalEdit(interaction.token));
    expect(contentOf(final.body)).toContain('fal is busy or unreachable right now');
    expect(submits(world).map((r) => r.status)).toEqual([0]);
    expect(await waitForLog(world, 'generation failed: busy')).toContain('unknown, not retried');
  });

  it('retries a submit fal refused with 429: a rate-limited request is not queued', async () => {
    world = await startWorld();
    world.fal.failNext(isSubmit, { status: 429, body: { detail: 'Too many requests' } });
    const interaction = imagine(world);
    const final = await world.discord.waitForRequest(isFinalEdit(interaction.token));
    expect(final.files).toHaveLength(1);
    expect(submits(world).map((r) => r.status)).toEqual([429, 200]);
  });
});
