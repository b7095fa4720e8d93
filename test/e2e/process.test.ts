import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { ApplicationCommandOptionType as T } from 'discord.js';
import { afterEach, describe, expect, it } from 'vitest';
import { BotProcess, MAIN } from './botProcess.js';
import type { RecordedRequest } from '../fakes/discord.js';
import {
  TEST_ENGINE,
  assertNoSecrets,
  contentOf,
  isCallback,
  isFinalEdit,
  readRow,
  startFakes,
  type Fakes,
} from './world.js';

/**
 * The real entry point (`node dist/src/main.js`, what `npm start` runs) as a child process, killed and
 * restarted on the same database: nothing a member asked for may be lost or posted twice. dist/ is built once for
 * the whole run (test/support/build.ts).
 */
let fakes: Fakes | undefined;
const bots: BotProcess[] = [];
afterEach(async () => {
  for (const bot of bots.splice(0)) if (bot.child.exitCode === null) await bot.kill();
  await fakes?.close();
  fakes = undefined;
});

async function startBot(env: Record<string, string> = {}): Promise<BotProcess> {
  if (!fakes) throw new Error('no fakes');
  // On PostgreSQL a restarted process takes over a dead one's jobs when their leases run out: short leases keep
  // the crash tests quick (SQLite's single process takes everything over at start).
  const bot = new BotProcess({ ...fakes.env, JOB_LEASE_SECONDS: '2', ...env }, fakes.dir);
  bots.push(bot);
  await bot.waitForLog('logged in to Discord');
  return bot;
}

function imagine(prompt: string) {
  if (!fakes) throw new Error('no fakes');
  const interaction = fakes.discord.chatInput({
    name: 'imagine',
    options: [{ name: 'prompt', type: T.String, value: prompt }],
  });
  fakes.discord.dispatchInteraction(interaction);
  return interaction;
}

function row(id: number) {
  if (!fakes) throw new Error('no fakes');
  return readRow(fakes, id);
}

/** Waits until the bot has saved fal's request id (it polls status only after saving it). */
async function submittedAndSaved(f: Fakes) {
  const submission = await f.fal.waitForSubmission(1);
  await f.fal.waitForRequest((r) => r.path.includes(`/requests/${submission.requestId}/status`));
  return submission;
}

/** Starts a bot, sends /imagine with a job fal holds, waits until its request id is saved, then SIGKILLs the bot. */
async function crashMidJob(f: Fakes) {
  f.fal.enqueuePlan({ queuePositions: [2], hold: true });
  const first = await startBot();
  const interaction = imagine('a lighthouse');
  const submission = await submittedAndSaved(f);
  expect((await first.kill('SIGKILL')).signal).toBe('SIGKILL');
  return { interaction, submission };
}

describe('crash and restart (SIGKILL)', () => {
  it('resumes a job by its saved fal request id and edits the original reply, never submitting twice', async () => {
    fakes = await startFakes();
    const { interaction, submission } = await crashMidJob(fakes);
    expect(await row(1)).toMatchObject({ status: 'queued', fal_request_id: submission.requestId });

    fakes.fal.release(submission.requestId);
    const second = await startBot();
    const final = await fakes.discord.waitForRequest(isFinalEdit(interaction.token));
    expect(final.files).toHaveLength(1);
    expect(fakes.fal.submissions).toHaveLength(1);
    await second.waitForLog('generation delivered');
    expect(await row(1)).toMatchObject({ status: 'done', interaction_token: null });
    const finalEdits = fakes.discord.requests.filter(isFinalEdit(interaction.token));
    expect(finalEdits).toHaveLength(1);
    // Both processes followed the saved request id on fal's status stream; neither had to poll.
    const statusPaths = fakes.fal.requests
      .filter((r) => r.path.includes(`/requests/${submission.requestId}/status`))
      .map((r) => r.path);
    expect(statusPaths).toEqual(
      [0, 1].map(() => `/fal-ai/nano-banana-2/requests/${submission.requestId}/status/stream`),
    );
  });

  it('resumes a result split across messages by posting only the parts Discord does not have yet', async () => {
    // Asked at 1K (the bot asks fal for PNG), served as four 2048x2048 noise PNGs (about 12 MiB each, more than
    // expected) under a 50 MiB file limit: one image per message (25 MiB request cap).
    fakes = await startFakes({}, { fileSizeLimit: 50 * 1024 * 1024 });
    const f = fakes;
    f.fal.enqueuePlan({ images: { width: 2048, height: 2048, noise: true } });
    const first = await startBot();
    const interaction = f.discord.chatInput({
      name: 'imagine',
      options: [
        { name: 'prompt', type: T.String, value: 'four big ones' },
        { name: 'num_images', type: T.Integer, value: 4 },
        { name: 'resolution', type: T.String, value: '1K' },
      ],
    });
    const isFollowup = (r: RecordedRequest) =>
      r.method === 'POST' && r.path === `/webhooks/${f.discord.applicationId}/${interaction.token}`;
    const partsPosted = () =>
      [...f.discord.messages.values()]
        .filter((m) => m.interactionToken === interaction.token)
        .flatMap((m) => m.attachments.map((a) => a.filename))
        .sort();
    // Parts 1 (the reply) and 2 reach Discord; the bot dies while part 3 is on its way.
    const third = f.discord.holdNext((r) => isFollowup(r) && contentOf(r.body).includes('Part 3 of 4'));
    f.discord.dispatchInteraction(interaction);
    const held = await third;
    await first.kill('SIGKILL');
    held.drop();
    expect(await row(1)).toMatchObject({ status: 'delivering' });
    expect(partsPosted()).toEqual(['imagen-1-1.png', 'imagen-1-2.png']);

    const second = await startBot();
    await second.waitForLog('generation delivered', 60_000);
    expect(await row(1)).toMatchObject({ status: 'done' });
    expect(partsPosted()).toEqual(['imagen-1-1.png', 'imagen-1-2.png', 'imagen-1-3.png', 'imagen-1-4.png']);
    const followups = f.discord.requests
      .filter((r) => isFollowup(r) && r.status === 200)
      .map((r) => /Part (\d) of 4/.exec(contentOf(r.body))?.[1]);
    expect(followups).toEqual(['2', '3', '4']);
    expect(f.fal.submissions).toHaveLength(1);
  }, 120_000);

  it.each([
    ['an Upscale', 'upscale', 'fal-ai/esrgan', 'Upscale of image 1 of'],
    ['a Vary', 'vary', 'fal-ai/nano-banana-2/edit', 'Variation of image 1 of'],
  ])(
    'resumes %s killed mid-job by its request id: one submit, delivered once, of the right image',
    async (_name, action, endpoint, origin) => {
      fakes = await startFakes();
      const f = fakes;
      const first = await startBot();
      const original = imagine('a lighthouse');
      await f.discord.waitForRequest(isFinalEdit(original.token));
      // Settled in the database (where its images are, too) just after Discord has the result.
      await first.waitForLog('generation delivered');
      const message = [...f.discord.messages.values()].find((m) => m.interactionToken === original.token);
      if (!message) throw new Error('no result message');
      f.fal.enqueuePlan({ hold: true });
      const click = f.discord.button({ customId: `imagine:${action}:1:0`, message: { id: message.id } });
      f.discord.dispatchInteraction(click);
      const submission = await f.fal.waitForSubmission(2);
      await f.fal.waitForRequest((r) => r.path.includes(`/requests/${submission.requestId}/status`));
      expect((await first.kill('SIGKILL')).signal).toBe('SIGKILL');
      expect(await row(2)).toMatchObject({ status: 'queued', fal_request_id: submission.requestId });

      f.fal.release(submission.requestId);
      const second = await startBot();
      const final = await f.discord.waitForRequest(isFinalEdit(click.token));
      expect(final.files).toHaveLength(1);
      expect(contentOf(final.body)).toContain(origin);
      await second.waitForLog('generation delivered');
      expect(f.fal.submissions.map((s) => s.endpointId)).toEqual(['fal-ai/nano-banana-2', endpoint]);
      expect(submission.fetchedImages[0]?.bytes?.equals(message.attachments[0]?.data ?? Buffer.alloc(0))).toBe(true);
      expect(await row(2)).toMatchObject({ status: 'done' });
    },
    120_000,
  );

  it('submits on restart a job whose submit got no answer, logging that fal may run it twice', async () => {
    fakes = await startFakes();
    // fal that accepts the connection and never answers: the bot is killed while its submit hangs.
    const submits: string[] = [];
    const blackHole: Server = createServer((request) => submits.push(request.url ?? ''));
    await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
    try {
      const first = await startBot({ FAL_BASE_URL: `http://127.0.0.1:${(blackHole.address() as AddressInfo).port}` });
      const interaction = imagine('a lighthouse');
      await fakes.discord.waitForRequest(isCallback(interaction.id));
      while (submits.length === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      await first.kill('SIGKILL');
      expect(await row(1)).toMatchObject({ status: 'pending', fal_request_id: null });

      const second = await startBot();
      const final = await fakes.discord.waitForRequest(isFinalEdit(interaction.token));
      expect(final.files).toHaveLength(1);
      expect(fakes.fal.submissions).toHaveLength(1);
      // The first submit reached a server: fal may have stored it. The operator is told, with the job's id.
      const warning = await second.waitForLog('fal may run it twice');
      expect(JSON.parse(warning)).toMatchObject({ level: 'warn', generation: 1 });
    } finally {
      blackHole.closeAllConnections();
      blackHole.close();
    }
  });

  it('posts in the channel, mentioning the requester, when the interaction token expired meanwhile', async () => {
    fakes = await startFakes();
    const { interaction, submission } = await crashMidJob(fakes);
    fakes.discord.expireToken(interaction.token);
    fakes.fal.release(submission.requestId);

    const second = await startBot();
    const post = await fakes.discord.waitForRequest(
      (r) => r.method === 'POST' && r.path === `/channels/${fakes?.discord.channelId}/messages` && r.status === 200,
    );
    const requester = fakes.discord.defaultUser.id;
    expect(contentOf(post.body)).toContain(`<@${requester}> your /imagine job finished`);
    expect(post.body).toMatchObject({
      allowed_mentions: { parse: [], users: [requester] },
      nonce: 'imagine-1-1',
      enforce_nonce: true,
    });
    expect(post.files).toHaveLength(1);
    await second.waitForLog('generation delivered');
    expect(await row(1)).toMatchObject({ status: 'done', interaction_token: null });
  });

  it('marks the job failed and logs why when it can neither edit the reply nor post in the channel', async () => {
    fakes = await startFakes();
    const { interaction, submission } = await crashMidJob(fakes);
    fakes.discord.expireToken(interaction.token);
    fakes.discord.setChannel(fakes.discord.channelId, { botPermissions: 0n });
    fakes.fal.release(submission.requestId);

    const second = await startBot();
    const line = await second.waitForLog('generation failed: delivery');
    expect(line).toMatch(/Missing Access|Missing Permissions/);
    expect(await row(1)).toMatchObject({ status: 'failed', failure_kind: 'delivery', interaction_token: null });
  });
});

describe('graceful shutdown (SIGTERM)', () => {
  it('refuses new work, leaves held jobs resumable, closes the database and exits 0', async () => {
    fakes = await startFakes({ SHUTDOWN_GRACE_SECONDS: '1' });
    fakes.fal.enqueuePlan({ hold: true });
    const first = await startBot();
    const interaction = imagine('a lighthouse');
    const submission = await submittedAndSaved(fakes);

    first.child.kill('SIGTERM');
    await first.waitForLog('shutting down');
    const late = imagine('too late');
    const answer = await fakes.discord.waitForRequest(isCallback(late.id));
    expect(answer.body).toMatchObject({
      type: 4,
      data: { flags: 64, content: expect.stringContaining('restarting') as unknown },
    });

    expect(await first.exited).toEqual({ code: 0, signal: null });
    // SQLite's write-ahead log is folded back into the file: the database was closed cleanly.
    if (TEST_ENGINE === 'sqlite') expect(existsSync(`${fakes.databasePath}-wal`)).toBe(false);
    expect(await row(1)).toMatchObject({ status: 'queued', fal_request_id: submission.requestId });
    expect(await row(2)).toBeUndefined();

    fakes.fal.release(submission.requestId);
    await startBot();
    const final = await fakes.discord.waitForRequest(isFinalEdit(interaction.token));
    expect(final.files).toHaveLength(1);
    expect(fakes.fal.submissions).toHaveLength(1);
  });
});

describe('npm start with .env.example copied as it is', () => {
  it('starts and answers: the empty sharding variables (which discord.js reads too) mean one process', async () => {
    fakes = await startFakes();
    const example = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');
    const empty: Record<string, string> = {};
    for (const match of example.matchAll(/^([A-Z_]+)=$/gm)) if (match[1]) empty[match[1]] = '';
    expect(Object.keys(empty)).toEqual(expect.arrayContaining(['SHARDS', 'SHARD_COUNT', 'SHARD_LIST', 'DATABASE_URL']));
    // The example's empty lines, then what this test needs (a filled .env would have its own values).
    await startBot({ ...empty, ...fakes.env });
    const interaction = imagine('a lighthouse');
    const final = await fakes.discord.waitForRequest(isFinalEdit(interaction.token));
    expect(final.files).toHaveLength(1);
  });
});

describe('npm start with a bad configuration', () => {
  it('exits non-zero with one line per problem and no secret', async () => {
    fakes = await startFakes();
    const bot = new BotProcess({ FAL_KEY: 'secret-value-without-colon' }, fakes.dir);
    bots.push(bot);
    const { code } = await bot.exited;
    expect(code).toBe(1);
    const problems = bot.stderr.split('\n').filter((line) => line.startsWith('- '));
    expect(problems.map((line) => line.split(' ')[1])).toEqual(['DISCORD_TOKEN', 'FAL_KEY']);
    expect(bot.stderr).not.toContain('secret-value-without-colon');
    expect(bot.stderr).not.toMatch(/\n\s+at /);
  });
});

afterEach(() => {
  for (const bot of bots) assertNoSecrets(bot.lines, [fakes?.env.DISCORD_TOKEN ?? '', fakes?.env.FAL_KEY ?? '']);
});

describe('command registration', () => {
  it('registers to DISCORD_GUILD_ID only when changed; npm run deploy-commands forces it', async () => {
    fakes = await startFakes({ DISCORD_GUILD_ID: '123456789012345678' });
    const puts = () => fakes?.discord.requests.filter((r) => r.method === 'PUT' && r.path.endsWith('/commands')) ?? [];
    const first = await startBot();
    await first.waitForLog('slash commands registered');
    expect(puts().map((r) => r.path)).toEqual([
      `/applications/${fakes.discord.applicationId}/guilds/123456789012345678/commands`,
    ]);
    expect(fakes.discord.commands.guilds.get('123456789012345678')).toHaveLength(5);
    expect(fakes.discord.commands.global).toHaveLength(0);
    await first.kill('SIGTERM');

    const second = await startBot();
    await second.waitForLog('slash commands unchanged');
    expect(puts()).toHaveLength(1);
    await second.kill('SIGTERM');

    // Asynchronously: the fakes live in this process and must keep answering while it runs.
    const deploy = await promisify(execFile)(process.execPath, [MAIN.replace(/main\.js$/, 'deploy-commands.js')], {
      cwd: fakes.dir,
      env: { PATH: process.env.PATH ?? '', ...fakes.env },
    });
    expect(deploy.stdout).toContain('slash commands registered');
    expect(puts()).toHaveLength(2);
  });
});
