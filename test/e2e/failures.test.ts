import { ApplicationCommandOptionType as T } from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { UNSAFE_AT_SUBMIT_MARKER, UNSAFE_MARKER } from '../fakes/fal.js';
import { contentOf, customIds, isFinalEdit, startWorld, type World } from './world.js';

let world: World | undefined;
afterEach(async () => {
  await world?.close();
  world = undefined;
});

async function finalMessageFor(w: World, prompt: string) {
  const interaction = w.discord.chatInput({
    name: 'imagine',
    options: [{ name: 'prompt', type: T.String, value: prompt }],
  });
  w.discord.dispatchInteraction(interaction);
  const final = await w.discord.waitForRequest(isFinalEdit(interaction.token));
  return { content: contentOf(final.body), body: final.body, files: final.files };
}

/** Nothing a member sees may carry raw error text. */
function expectNoRawError(content: string) {
  expect(content).not.toMatch(/ApiError|ValidationError|Error:|detail|stack|undefined|\{|status \d/);
}

const isSubmit = (method: string, path: string) =>
  method === 'POST' && path.startsWith('/fal-ai/') && !path.includes('/requests/');

describe('every failure ends in a plain-words message', () => {
  it('a safety block at submit', async () => {
    world = await startWorld();
    const { content, body } = await finalMessageFor(world, `a cat ${UNSAFE_AT_SUBMIT_MARKER}`);
    expect(content).toContain('safety filter refused this prompt');
    expect(customIds(body)).toEqual(['imagine:edit:1']);
    expectNoRawError(content);
  });

  it('a safety block at result', async () => {
    world = await startWorld();
    const { content, files } = await finalMessageFor(world, `a cat ${UNSAFE_MARKER}`);
    expect(content).toContain('safety filter refused this prompt');
    expect(files).toHaveLength(0);
    expect(world.fal.submissions).toHaveLength(1);
  });

  it('another 422 names the field', async () => {
    world = await startWorld();
    world.fal.failNext(isSubmit, {
      status: 422,
      body: { detail: [{ loc: ['body', 'aspect_ratio'], msg: 'Input should be 1:1', type: 'enum' }] },
    });
    const { content } = await finalMessageFor(world, 'a cat');
    expect(content).toContain('fal rejected the aspect ratio option');
    expectNoRawError(content);
  });

  it('a refused key tells the member to contact an admin and logs it for the operator', async () => {
    world = await startWorld({ FAL_KEY: 'wrong-id:wrong-secret' });
    const { content } = await finalMessageFor(world, 'a cat');
    expect(content).toContain('fal refused its key. Please tell a server admin');
    expect(world.logs.some((line) => line.includes('"level":"error"') && line.includes('FAL_KEY'))).toBe(true);
    expect(world.logs.join('\n')).not.toContain('wrong-id:wrong-secret');
  });

  it('an exhausted balance says the bot is out of credit', async () => {
    world = await startWorld();
    world.fal.failNext(isSubmit, { status: 403, body: { detail: 'User is locked. Reason: Exhausted balance.' } });
    const { content } = await finalMessageFor(world, 'a cat');
    expect(content).toContain('out of credit. Please tell a server admin');
  });

  it('a fal server error says fal is busy and offers Try again', async () => {
    world = await startWorld();
    world.fal.failNext(isSubmit, { status: 500, body: { detail: 'Internal Server Error' } });
    const { content, body } = await finalMessageFor(world, 'a cat');
    expect(content).toContain('fal is busy or unreachable right now');
    expect(customIds(body)).toEqual(['imagine:same:1', 'imagine:edit:1']);
    expectNoRawError(content);
  });

  it('a job stuck at fal past JOB_TIMEOUT_SECONDS is cancelled there and reported', async () => {
    world = await startWorld({ JOB_TIMEOUT_SECONDS: '1' });
    world.fal.enqueuePlan({ queuePositions: [1], hold: true });
    const { content } = await finalMessageFor(world, 'a cat');
    expect(content).toContain('took too long at fal');
    expect(world.fal.submissions[0]?.cancelled).toBe(true);
  });

  it('images that cannot be downloaded are reported; a partial set is posted with a note', async () => {
    world = await startWorld();
    world.fal.enqueuePlan({ imageError: { status: 404 } });
    const none = await finalMessageFor(world, 'a cat');
    expect(none.content).toContain('could not be downloaded from fal');

    world.fal.enqueuePlan({ imageError: { status: 500, indexes: [1] } });
    const interaction = world.discord.chatInput({
      name: 'imagine',
      options: [
        { name: 'prompt', type: T.String, value: 'two cats' },
        { name: 'num_images', type: T.Integer, value: 2 },
      ],
    });
    world.discord.dispatchInteraction(interaction);
    const partial = await world.discord.waitForRequest(isFinalEdit(interaction.token));
    expect(partial.files).toHaveLength(1);
    expect(contentOf(partial.body)).toContain('1 of 2 images could not be downloaded');
  });

  it('never logs a token or key', async () => {
    world = await startWorld();
    const { files } = await finalMessageFor(world, 'a cat');
    expect(files).toHaveLength(1);
    const interactionTokens = [...world.discord.interactions.values()].map((i) => i.token);
    const log = world.logs.join('\n');
    for (const secret of [world.config.discordToken, world.config.falKey, ...interactionTokens]) {
      expect(log).not.toContain(secret);
    }
  });
});
