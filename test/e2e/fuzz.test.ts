/**
 * Fuzz: more than a thousand malformed or hostile interactions against the real bot (real discord.js Client,
 * real @fal-ai/client, real SQLite) on the loopback fakes. The contract:
 *
 * - the process never exits, and a normal /imagine still works afterwards;
 * - every interaction with a token gets exactly one clear answer, or belongs to a class that is ignored on
 *   purpose (see {@link IGNORED});
 * - nothing unsafe is echoed: no message can ping @everyone, @here, a role or a stranger, no member-written
 *   text can restyle or spoof a message, and no raw error text reaches Discord;
 * - Discord accepts every request the bot makes, and no secret reaches the log.
 *
 * The generator is seeded (mulberry32, seed in the describe name), so a failure reproduces exactly: the
 * failure lists name the category and index of each offending case.
 *
 * The generators live in `fuzz/` (`hostile.ts`: the PRNG and hostile text; `cases.ts`: expectations and payload
 * builders; `generators.ts`: the weighted categories); this file runs the flood and checks the invariants.
 */
import { ApplicationCommandOptionType as T } from 'discord.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RecordedRequest } from '../fakes/discord.js';
import { MODEL_IDS } from '../../src/models/registry.js';
import { IGNORED, alice, click, isObject, type FuzzCase, type RealMessage, type Targets } from './fuzz/cases.js';
import { generate } from './fuzz/generators.js';
import { Rng } from './fuzz/hostile.js';
import {
  CALLBACK_ROUTE,
  RAW_ERROR,
  callbackType,
  describeCase,
  mentionableText,
  sentMessages,
  show,
  userIdOf,
} from './fuzz/invariants.js';
import { contentOf, customIds, isCallback, isFinalEdit, isOriginalEdit, startWorld, type World } from './world.js';

const SEED = 0x1ce_b00d;
/** Interactions in the flood (the real jobs made before and after it come on top). */
const FLOOD_SIZE = 1100;
/** Interactions dispatched before awaiting their answers: a busy server, not a denial of service. */
const BATCH_SIZE = 50;

interface FloodRecord {
  cases: FuzzCase[];
  /** Rejections and exceptions nobody handled while the bot ran, as src/main.ts would log them. */
  unhandled: Array<{ event: string; error: unknown }>;
  floodMs: number;
  sanity: { files: number; content: string };
  heldFinals: string[];
}

function generationIdOf(body: unknown, action: string): number {
  const id = customIds(body).find((c) => c.includes(`:${action}:`));
  if (!id) throw new Error(`no ${action} button`);
  return Number(id.split(':')[2]);
}

function messageOf(world: World, token: string) {
  const message = [...world.discord.messages.values()].find((m) => m.interactionToken === token);
  if (!message) throw new Error('no message for that interaction');
  return message;
}

async function finishedResult(world: World, prompt: string): Promise<RealMessage> {
  const interaction = world.discord.chatInput({
    name: 'imagine',
    options: [{ name: 'prompt', type: T.String, value: prompt }],
    user: alice,
  });
  world.discord.dispatchInteraction(interaction);
  const final = await world.discord.waitForRequest(isFinalEdit(interaction.token));
  return {
    generationId: generationIdOf(final.body, 'delete'),
    messageId: messageOf(world, interaction.token).id,
    token: interaction.token,
  };
}

async function heldJob(world: World, prompt: string): Promise<RealMessage> {
  world.fal.enqueuePlan({ queuePositions: [1], hold: true });
  const interaction = world.discord.chatInput({
    name: 'imagine',
    options: [{ name: 'prompt', type: T.String, value: prompt }],
    user: alice,
  });
  world.discord.dispatchInteraction(interaction);
  const progress = await world.discord.waitForRequest(
    (r) => isOriginalEdit(interaction.token)(r) && customIds(r.body).some((id) => id.includes(':cancel:')),
  );
  return {
    generationId: generationIdOf(progress.body, 'cancel'),
    messageId: messageOf(world, interaction.token).id,
    token: interaction.token,
  };
}

// ---------------------------------------------------------------------------------------------------------

describe(`fuzz: ${FLOOD_SIZE} malformed or hostile interactions (seed 0x${SEED.toString(16)})`, () => {
  let world: World;
  let record: FloodRecord;
  const unhandled: FloodRecord['unhandled'] = [];
  // src/main.ts installs these in production (log and carry on). Registering them here also tells vitest the
  // test handles them; the assertions below then accept only the rejections explained by IGNORED.malformed.
  const onRejection = (error: unknown) => unhandled.push({ event: 'unhandledRejection', error });
  const onException = (error: unknown) => unhandled.push({ event: 'uncaughtException', error });

  beforeAll(async () => {
    process.on('unhandledRejection', onRejection);
    process.on('uncaughtException', onException);
    // Imagen 4 as the default and every model offered: its narrower options (five aspect ratios, negative prompt)
    // give the most ways to be wrong, and the valid jobs spread over all five endpoints.
    world = await startWorld({ IMAGEN_MODEL: 'imagen4', IMAGEN_MODELS: MODEL_IDS.join(',') });
    const targets: Targets = {
      results: [
        await finishedResult(world, 'a lighthouse at dusk'),
        await finishedResult(world, 'a fox in the snow'),
        await finishedResult(world, 'a neon city'),
      ],
      held: [await heldJob(world, 'a slow cat'), await heldJob(world, 'a slow dog')],
    };
    const cases = generate(new Rng(SEED), world, targets, FLOOD_SIZE);

    const started = Date.now();
    for (let i = 0; i < cases.length; i += BATCH_SIZE) {
      const batch = cases.slice(i, i + BATCH_SIZE);
      for (const c of batch) world.discord.dispatchInteraction(c.payload);
      await Promise.allSettled(
        batch
          .filter((c) => c.expect.kind !== 'ignored' && c.expect.kind !== 'unanswerable')
          // Discord waits 3 s for the first answer (the fake enforces it); waiting longer is pointless.
          .map((c) => world.discord.waitForRequest(isCallback(c.payload.id), 3_500)),
      );
    }
    const jobs = cases.filter((c) => c.expect.kind === 'job');
    await Promise.allSettled(jobs.map((c) => world.discord.waitForRequest(isFinalEdit(c.payload.token), 20_000)));
    const deferred = cases.filter((c) => c.expect.kind === 'refusal' && callbackType(world, c) === 5);
    await Promise.allSettled(deferred.map((c) => world.discord.waitForRequest(isOriginalEdit(c.payload.token), 5_000)));
    // Late or stray answers to ignored interactions would arrive now.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const floodMs = Date.now() - started;

    // The bot is still alive: a normal /imagine completes, and alice can still cancel her own jobs.
    const sanity = world.discord.chatInput({
      name: 'imagine',
      options: [{ name: 'prompt', type: T.String, value: 'a calm lake' }],
      user: alice,
    });
    world.discord.dispatchInteraction(sanity);
    const sanityFinal = await world.discord.waitForRequest(isFinalEdit(sanity.token));
    const heldFinals: string[] = [];
    for (const job of targets.held) {
      world.discord.dispatchInteraction(click(world, alice, `imagine:cancel:${job.generationId}`, job.messageId));
      heldFinals.push(contentOf((await world.discord.waitForRequest(isFinalEdit(job.token))).body));
    }

    record = {
      cases,
      unhandled,
      floodMs,
      sanity: { files: sanityFinal.files.length, content: contentOf(sanityFinal.body) },
      heldFinals,
    };
    const counts = new Map<string, number>();
    for (const c of cases) counts.set(c.category, (counts.get(c.category) ?? 0) + 1);
    console.info(
      `fuzz seed 0x${SEED.toString(16)}: ${cases.length} interactions in ${floodMs} ms\n` +
        [...counts].map(([category, n]) => `  ${String(n).padStart(4)}  ${category}`).join('\n'),
    );
  }, 120_000);

  afterAll(async () => {
    await world?.close();
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  });

  it('sends at least 1,000 interactions, at most 20 of which reach fal', () => {
    expect(record.cases.length).toBeGreaterThanOrEqual(1000);
    expect(new Set(record.cases.map((c) => c.payload.id)).size).toBe(record.cases.length);
    expect(world.fal.submissions.length).toBeLessThanOrEqual(20);
    // Everything that was refused was refused before fal: the only submissions are the planned jobs.
    const planned = record.cases.filter((c) => c.expect.kind === 'job').length + 3 + 2 + 1;
    expect(world.fal.submissions).toHaveLength(planned);
  });

  it('keeps running: no crash, a normal /imagine still completes, and jobs can still be cancelled', () => {
    expect(world.bot.client.isReady()).toBe(true);
    expect(record.sanity.files).toBe(1);
    expect(record.sanity.content).toContain('a calm lake');
    for (const content of record.heldFinals) expect(content).toContain(`Cancelled by <@${alice.id}>`);
    expect(world.logs.filter((line) => /unhandled|uncaught/i.test(line))).toEqual([]);
  });

  it('has no unhandled rejection or exception except discord.js refusing malformed payloads', () => {
    const fromDiscordJs = (error: unknown) =>
      error instanceof Error &&
      /discord\.js[\\/]src[\\/]client[\\/]actions[\\/]InteractionCreate\.js/.test(error.stack ?? '');
    const unexpected = record.unhandled.filter((u) => u.event !== 'unhandledRejection' || !fromDiscordJs(u.error));
    expect(
      unexpected.map(
        (u) => `${u.event}: ${u.error instanceof Error ? (u.error.stack ?? u.error.message) : String(u.error)}`,
      ),
    ).toEqual([]);
    const malformed = record.cases.filter((c) => c.expect.kind === 'ignored' && c.expect.why === 'malformed').length;
    expect(record.unhandled).toHaveLength(malformed);
  });

  it('answers every interaction exactly once, or ignores it on purpose', () => {
    const callbacks = new Map<string, RecordedRequest[]>();
    for (const r of world.discord.requests) {
      if (r.route !== CALLBACK_ROUTE) continue;
      const id = r.path.split('/')[2] ?? '';
      callbacks.set(id, [...(callbacks.get(id) ?? []), r]);
    }
    const finalEdits = new Map<string, RecordedRequest>();
    for (const r of world.discord.requests) {
      const token = r.path.split('/')[3] ?? '';
      if (r.method === 'PATCH' && r.path.endsWith('/messages/@original') && r.status < 300) finalEdits.set(token, r);
    }
    const problems: string[] = [];
    record.cases.forEach((c, index) => {
      const mine = callbacks.get(c.payload.id) ?? [];
      const ok = mine.filter((r) => r.status < 300);
      const where = describeCase(c, index);
      const body = ok[0]?.body as { type?: number; data?: { flags?: number; content?: string } } | undefined;
      switch (c.expect.kind) {
        case 'ignored':
          if (mine.length > 0)
            problems.push(
              `${where}: expected to be ignored (${IGNORED[c.expect.why]}), got ${mine.length} callback(s)`,
            );
          return;
        case 'unanswerable':
          if (ok.length > 0) problems.push(`${where}: Discord accepted an answer to a non-snowflake id`);
          return;
        default:
          if (mine.length !== 1 || ok.length !== 1) {
            problems.push(
              `${where}: expected one callback, got ${mine.length} (${mine.map((r) => r.status).join(', ')})`,
            );
            return;
          }
      }
      switch (c.expect.kind) {
        case 'reply':
          if (
            body?.type !== 4 ||
            ((body.data?.flags ?? 0) & 64) === 0 ||
            !c.expect.content.test(body.data?.content ?? '')
          ) {
            problems.push(
              `${where}: expected an ephemeral answer matching ${c.expect.content}, got ${show(body, 300)}`,
            );
          }
          return;
        case 'modal':
          if (body?.type !== 9) problems.push(`${where}: expected a modal, got ${show(body, 200)}`);
          return;
        case 'job': {
          const final = finalEdits.get(c.payload.token);
          if (body?.type !== 5) problems.push(`${where}: expected a deferred reply, got ${show(body, 200)}`);
          else if (!final || final.files.length !== 1)
            problems.push(`${where}: no final edit with an image (${contentOf(final?.body).slice(0, 200)})`);
          return;
        }
        case 'refusal': {
          const ephemeral =
            body?.type === 4 && ((body.data?.flags ?? 0) & 64) !== 0 && c.expect.content.test(body.data?.content ?? '');
          const edited = body?.type === 5 && c.expect.content.test(contentOf(finalEdits.get(c.payload.token)?.body));
          if (!ephemeral && !edited) {
            problems.push(
              `${where}: expected a refusal matching ${c.expect.content}, got ${show(body, 200)} ${show(finalEdits.get(c.payload.token)?.body, 200)}`,
            );
          }
          return;
        }
      }
    });
    expect(problems.slice(0, 25), `${problems.length} problem(s)`).toEqual([]);
    // No interaction was answered twice (Discord: 40060 Interaction has already been acknowledged).
    const twice = world.discord.requests.filter((r) => isObject(r.response) && r.response['code'] === 40060);
    expect(twice.map((r) => r.path)).toEqual([]);
  });

  it('never lets a message ping anyone but, at most, the requester', () => {
    const requesters = new Set([
      alice.id,
      ...record.cases.filter((c) => c.expect.kind === 'job').map((c) => userIdOf(c.payload)),
    ]);
    const problems: string[] = [];
    for (const { request, message } of sentMessages(world.discord.requests)) {
      const allowed = message['allowed_mentions'];
      const where = `${request.method} ${request.route ?? request.path}`;
      const parse = isObject(allowed) && Array.isArray(allowed['parse']) ? (allowed['parse'] as unknown[]) : [];
      if (parse.some((p) => p === 'everyone' || p === 'roles' || p === 'users'))
        problems.push(`${where}: allowed_mentions.parse ${JSON.stringify(parse)}`);
      if (!/@everyone|@here|<@/.test(mentionableText(message))) continue;
      if (!isObject(allowed)) {
        problems.push(`${where}: mentions without allowed_mentions: ${contentOf(message).slice(0, 200)}`);
        continue;
      }
      const roles = Array.isArray(allowed['roles']) ? allowed['roles'] : [];
      const users = Array.isArray(allowed['users']) ? allowed['users'] : [];
      if (parse.length > 0 || roles.length > 0 || users.some((u) => typeof u !== 'string' || !requesters.has(u))) {
        problems.push(`${where}: allowed_mentions ${JSON.stringify(allowed)}`);
      }
    }
    expect(problems.slice(0, 25), `${problems.length} problem(s)`).toEqual([]);
  });

  it('shows member-written text escaped: one line, no live formatting, no masked links', () => {
    const problems: string[] = [];
    for (const c of record.cases.filter((x) => x.expect.kind === 'job')) {
      const final = world.discord.requests.find(isFinalEdit(c.payload.token));
      const lines = contentOf(final?.body).split('\n');
      const promptLine = lines[0] ?? '';
      const inner = promptLine.replace(/^\*\*/, '').replace(/\*\*$/, '');
      const next = lines[1] ?? '';
      if (!/^\*\*.*\*\*$/.test(promptLine) || !/^(-# Without: |Seed `)/.test(next)) {
        problems.push(`${c.category}: the prompt broke out of its line: ${JSON.stringify(lines.slice(0, 3))}`);
      }
      if (/(?<!\\)(\*\*|__|~~|\|\||`)/.test(inner))
        problems.push(`${c.category}: live formatting in ${JSON.stringify(inner)}`);
      if (/(?<!\\)\[[^\]\n]*\]\(<?https?:\/\//.test(contentOf(final?.body))) {
        problems.push(
          `${c.category}: a masked link from the prompt is live: ${JSON.stringify(promptLine.slice(0, 200))}`,
        );
      }
    }
    expect(problems).toEqual([]);
  });

  it('never shows raw error text', () => {
    const leaks = sentMessages(world.discord.requests)
      .map(({ request, message }) => ({
        where: `${request.method} ${request.route ?? ''}`,
        text: mentionableText(message),
      }))
      .filter(({ text }) => RAW_ERROR.test(text));
    expect(leaks.slice(0, 10)).toEqual([]);
  });

  it('makes only requests Discord would accept as well-formed, on known routes', () => {
    expect(world.discord.invalidBodies).toEqual([]);
    expect(world.discord.unknownRequests.map((r) => `${r.method} ${r.path}`)).toEqual([]);
    expect(world.discord.internalErrors).toEqual([]);
  });

  it('never logs a token or key', () => {
    const log = world.logs.join('\n');
    const secrets = [
      world.config.discordToken,
      world.config.falKey,
      ...[...world.discord.interactions.values()].map((i) => i.token),
    ];
    const leaked = secrets.filter((secret) => secret.length >= 8 && log.includes(secret));
    expect(leaked.map((s) => `${s.slice(0, 12)}…`)).toEqual([]);
  });
});
