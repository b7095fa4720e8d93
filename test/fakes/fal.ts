/**
 * A loopback fake of fal's queue API (`https://queue.fal.run`) serving Imagen 4, meant to be driven by
 * the REAL `@fal-ai/client` through a request middleware that rewrites the origin:
 *
 *     const fake = await FakeFal.start();
 *     const fal = createFalClient({
 *       credentials: fake.key,
 *       requestMiddleware: async (req) => ({ ...req, url: req.url.replace(/^https:\/\/(queue\.)?fal\.run(?=\/)/, fake.baseUrl) }),
 *     });
 *
 * Design rules:
 * - Strict: it rejects what fal would reject (auth, unknown app, pydantic-style 422s), and on purpose a
 *   little more (unknown input fields, see {@link validateImagen4Input}), so a bot bug shows up here.
 * - Deterministic: a job moves one step per status poll, never by wall-clock, so tests need no sleeps. A
 *   status stream pushes every step at once, and a held step the moment the test lets it go
 *   ({@link FakeFal.release}, {@link FakeFal.finish}).
 * - Real bytes: result image URLs point back at this server, which serves valid PNGs (./png.ts).
 *
 * Protocol facts: /work/shared/reference/fal-queue.md and https://docs.fal.ai/model-endpoints/queue.
 * Choices where upstream behaviour is unconfirmed are marked "UNCONFIRMED" below.
 */
import { randomInt, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, OutgoingHttpHeaders, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { testPng } from './png.js';

/** The Imagen 4 endpoints fal serves (and this fake accepts at submit). */
export const IMAGEN4_ENDPOINTS = [
  'fal-ai/imagen4/preview',
  'fal-ai/imagen4/preview/fast',
  'fal-ai/imagen4/preview/ultra',
] as const;
export type Imagen4EndpointId = (typeof IMAGEN4_ENDPOINTS)[number];

/** Status, result and cancel URLs use only owner/alias of the endpoint id. */
const APP_PREFIX = '/fal-ai/imagen4';

/** A prompt containing this completes, then its RESULT call answers a content-policy 422. */
export const UNSAFE_MARKER = '[[unsafe]]';
/** A prompt containing this gets the content-policy 422 at submit. */
export const UNSAFE_AT_SUBMIT_MARKER = '[[unsafe-at-submit]]';
export const CONTENT_POLICY_MESSAGE =
  'The content could not be processed because it contained material flagged by a content checker.';

/** The 401 body fal answers for a missing or wrong key. */
export const BAD_KEY_DETAIL = 'No user found for Key ID and Secret';
/** Default credentials the fake accepts. */
export const DEFAULT_FAKE_KEY = 'fake-key-id:fake-key-secret';

const DEFAULT_WAIT_MS = 10_000;
const MAX_BODY_BYTES = 1 << 20;
const INFERENCE_TIME = 1.23;

/** How one job behaves. Every field is optional; see {@link FakeFal.defaultPlan}. */
export interface FalJobPlan {
  /** One IN_QUEUE status answer per entry, in order (default [0]). The submit answer carries the first. */
  queuePositions?: number[];
  /** Then this many IN_PROGRESS answers (default 1), each adding one log line. */
  progressPolls?: number;
  /** The job stays at its last IN_QUEUE answer until {@link FakeFal.release}. */
  hold?: boolean;
  /** The job stays at its last IN_PROGRESS answer until {@link FakeFal.finish} (a generation of unknown length). */
  holdRunning?: boolean;
  /** Answer the submit with this error; no job is created. The plan is used up by that one attempt. */
  submitError?: FalError;
  /** Answer status polls with this error `times` times (default: forever) before continuing. */
  statusError?: FalError & { times?: number };
  /** The job completes, then its result GET answers this error `times` times (default: forever). */
  resultError?: FalError & { times?: number };
  /** Size of the served images (default 64x64, solid colour); noise=true gives large incompressible PNGs. */
  images?: { width: number; height: number; noise?: boolean };
  /** Image downloads fail with this status, for the given indexes (default: all). */
  imageError?: { status: number; indexes?: number[] };
  /** Image downloads are answered only after {@link FakeFal.releaseImages} (a slow storage server). */
  holdImages?: boolean;
  /** Seed echoed in the result (default: input.seed, else random). */
  seed?: number;
}

/** An HTTP error answer, served verbatim: JSON body unless it is a string/Buffer or headers set content-type. */
export interface FalError {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
  /**
   * Instead of answering, destroy the connection once the request was read (a connection lost after the
   * request reached fal); recorded with status 0. `status` is then unused.
   */
  dropConnection?: boolean;
}

export type FalJobState = 'IN_QUEUE' | 'IN_PROGRESS' | 'COMPLETED' | 'CANCELLED';

/** One accepted submission (a job). Live object: the fake updates it as the job moves. */
export interface FalSubmission {
  requestId: string;
  /** e.g. 'fal-ai/imagen4/preview/fast' */
  endpointId: string;
  input: Record<string, unknown>;
  /** Submit request headers, lower-cased (x-fal-queue-priority, x-fal-request-timeout, ...). */
  headers: Record<string, string>;
  plan: FalJobPlan;
  /** What the last status answer said (IN_QUEUE right after submit); CANCELLED once cancelled. */
  state: FalJobState;
  /** Status requests for this job, including ones answered with an injected error. */
  statusPolls: number;
  /** Result requests for this job, including ones answered with an error. */
  resultFetches: number;
  cancelled: boolean;
  submittedAt: number;
}

/** Every request the fake received, in arrival-of-answer order. */
export interface FalRecordedRequest {
  method: string;
  /** URL path without the query string. */
  path: string;
  query: URLSearchParams;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  /** Parsed JSON body, the raw text if it was not JSON, undefined if empty. */
  body: unknown;
  /** HTTP status the fake answered. */
  status: number;
  at: number;
}

/** One pydantic-v2-style validation error item, as FastAPI puts them in a 422 `detail` list. */
export interface FalFieldError {
  loc: (string | number)[];
  msg: string;
  type: string;
  input?: unknown;
  ctx?: Record<string, unknown>;
  url?: string;
}

interface RequestLog {
  message: string;
  level: 'INFO';
  source: 'USER';
  timestamp: string;
}

type Step = { kind: 'queue'; position: number } | { kind: 'progress'; index: number; of: number } | { kind: 'done' };

interface Job {
  submission: FalSubmission;
  timeline: Step[];
  cursor: number;
  /** Hold still in force. */
  held: boolean;
  /** Stopped at the last queue step because of the hold; release() moves it on. */
  parked: boolean;
  /** holdRunning still in force. */
  heldRunning: boolean;
  /** Stopped at the last progress step because of holdRunning; finish() moves it on. */
  parkedRunning: boolean;
  /** Image answers waiting for releaseImages() (plan.holdImages); undefined once released. */
  heldImages: Array<() => void> | undefined;
  logs: RequestLog[];
  statusErrorsLeft: number;
  resultErrorsLeft: number;
  numImages: number;
  image: { width: number; height: number; noise: boolean };
  seed: number;
  unsafe: boolean;
  syncMode: boolean;
  /** Wake-ups for streaming status listeners (release, cancel, close). */
  listeners: Set<() => void>;
}

interface Waiter {
  check(): void;
  fail(error: Error): void;
}

interface Exchange {
  res: ServerResponse;
  method: string;
  path: string;
  query: URLSearchParams;
  headers: Record<string, string>;
  body: unknown;
  rawBody: string;
}

/**
 * The fake fal queue. Start with {@link FakeFal.start}, always {@link FakeFal.close} (e.g. in afterEach).
 */
export class FakeFal {
  readonly baseUrl: string;
  readonly key: string;
  readonly requests: FalRecordedRequest[] = [];
  readonly submissions: FalSubmission[] = [];
  /** Plan used when no plan is queued with {@link enqueuePlan}. */
  defaultPlan: FalJobPlan = {};

  private readonly server: Server;
  private readonly plans: FalJobPlan[] = [];
  private readonly jobs = new Map<string, Job>();
  private readonly faults: { match: (method: string, path: string) => boolean; error: FalError; remaining: number }[] =
    [];
  private readonly streamCuts: { afterEvents: number; how: 'end' | 'drop'; remaining: number }[] = [];
  private readonly waiters = new Set<Waiter>();
  private closed = false;

  private constructor(server: Server, baseUrl: string, key: string) {
    this.server = server;
    this.baseUrl = baseUrl;
    this.key = key;
  }

  /** Starts a fake on an ephemeral 127.0.0.1 port. */
  static async start(options: { key?: string } = {}): Promise<FakeFal> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const { port } = server.address() as AddressInfo;
    const fake = new FakeFal(server, `http://127.0.0.1:${port}`, options.key ?? DEFAULT_FAKE_KEY);
    server.on('request', (req, res) => {
      fake.handle(req, res).catch((error: unknown) => {
        // A bug in the fake, not a protocol answer: make it loud.
        console.error('FakeFal internal error', error);
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ detail: `FakeFal internal error: ${String(error)}` }));
        } else {
          res.destroy();
        }
      });
    });
    return fake;
  }

  /** Plan for the next submission (FIFO; when empty, {@link defaultPlan} is used). */
  enqueuePlan(plan: FalJobPlan): void {
    this.plans.push(plan);
  }

  /** Answers the held image downloads of a job planned with `holdImages`, and any later ones at once. */
  releaseImages(requestId: string): void {
    const job = this.jobs.get(requestId);
    if (job === undefined) throw new Error(`FakeFal.releaseImages: no job ${requestId}`);
    const waiting = job.heldImages ?? [];
    job.heldImages = undefined;
    for (const answer of waiting) answer();
  }

  /** Lets a held job continue: its next status poll answers the step after its last IN_QUEUE. */
  release(requestId: string): void {
    const job = this.jobs.get(requestId);
    if (job === undefined) throw new Error(`FakeFal.release: no job ${requestId}`);
    job.held = false;
    if (job.parked) {
      job.parked = false;
      job.cursor++;
    }
    this.wake(job);
  }

  /** Lets a job planned with `holdRunning` complete: its next status answer (or its open stream) says COMPLETED. */
  finish(requestId: string): void {
    const job = this.jobs.get(requestId);
    if (job === undefined) throw new Error(`FakeFal.finish: no job ${requestId}`);
    job.heldRunning = false;
    if (job.parkedRunning) {
      job.parkedRunning = false;
      job.cursor++;
    }
    this.wake(job);
  }

  /**
   * The next `count` status streams are cut after `afterEvents` events (before COMPLETED): `end` finishes the
   * response cleanly (a proxy ending a long request), `drop` closes the connection in the middle of the
   * response (a lost connection: the client's read fails). The job itself goes on.
   */
  cutNextStream(options: { afterEvents: number; how: 'end' | 'drop' }, count = 1): void {
    this.streamCuts.push({ ...options, remaining: count });
  }

  /** Resolves with the n-th (1-based) submission once it exists, including ones that already exist. */
  waitForSubmission(n = 1, timeoutMs = DEFAULT_WAIT_MS): Promise<FalSubmission> {
    return this.waitFor(() => this.submissions[n - 1], timeoutMs, `submission #${n}`);
  }

  /**
   * Resolves with the first recorded request (already recorded or future) that matches.
   * To wait for a *new* request, match on something that distinguishes it (e.g. `r.at`, or count).
   */
  waitForRequest(match: (r: FalRecordedRequest) => boolean, timeoutMs = DEFAULT_WAIT_MS): Promise<FalRecordedRequest> {
    return this.waitFor(() => this.requests.find(match), timeoutMs, 'a matching request');
  }

  /**
   * The next `count` requests whose method and path (no query string) match are answered with
   * `error`, before auth or routing. Covers any path, including image downloads.
   */
  failNext(match: (method: string, path: string) => boolean, error: FalError, count = 1): void {
    this.faults.push({ match, error, remaining: count });
  }

  /** Where the fake serves image `index` (0-based) of a job: no auth needed, like fal's CDN. */
  imageUrl(requestId: string, index: number): string {
    return `${this.baseUrl}/files/${requestId}/${index}.png`;
  }

  /** Stops the server, drops open connections and rejects pending waits. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of [...this.waiters]) w.fail(new Error('FakeFal closed while waiting'));
    for (const job of this.jobs.values()) this.wake(job);
    const done = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await done;
  }

  // ---------------------------------------------------------------------------------------------
  // HTTP

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.baseUrl);
    const { text: rawBody, tooLarge } = await readBody(req);
    const ex: Exchange = {
      res,
      method: (req.method ?? 'GET').toUpperCase(),
      path: url.pathname,
      query: url.searchParams,
      headers: flattenHeaders(req),
      body: parseBodyForRecord(rawBody),
      rawBody,
    };
    if (tooLarge) {
      this.sendJson(ex, 413, { detail: 'Request body too large' });
      return;
    }

    const fault = this.faults.find((f) => f.remaining > 0 && f.match(ex.method, ex.path));
    if (fault !== undefined) {
      fault.remaining--;
      this.sendError(ex, fault.error);
      return;
    }

    const file = /^\/files\/([^/]+)\/(\d+)\.png$/.exec(ex.path);
    if (file !== null) {
      this.handleImage(ex, file[1]!, Number(file[2]));
      return;
    }

    if (ex.headers['authorization'] !== `Key ${this.key}`) {
      this.sendJson(ex, 401, { detail: BAD_KEY_DETAIL });
      return;
    }

    const queue = /^\/fal-ai\/imagen4\/requests\/([^/]+)(\/status|\/status\/stream|\/cancel)?$/.exec(ex.path);
    if (queue !== null) {
      const requestId = queue[1]!;
      const action = queue[2] ?? '';
      const expected = action === '/cancel' ? 'PUT' : 'GET';
      if (ex.method !== expected) {
        this.sendJson(ex, 405, { detail: 'Method Not Allowed' });
        return;
      }
      const job = this.jobs.get(requestId);
      if (action === '/cancel') {
        this.handleCancel(ex, job);
        return;
      }
      if (job === undefined) {
        // UNCONFIRMED: exact 404 body for an unknown request id.
        this.sendJson(ex, 404, { detail: 'Request not found' });
        return;
      }
      if (action === '/status') this.handleStatus(ex, job);
      else if (action === '/status/stream') await this.handleStatusStream(ex, job);
      else this.handleResult(ex, job);
      return;
    }

    const endpointId = ex.path.replace(/^\//, '');
    if ((IMAGEN4_ENDPOINTS as readonly string[]).includes(endpointId)) {
      if (ex.method !== 'POST') {
        this.sendJson(ex, 405, { detail: 'Method Not Allowed' });
        return;
      }
      this.handleSubmit(ex, endpointId as Imagen4EndpointId);
      return;
    }
    // Includes status/result URLs built on the full endpoint id (e.g. .../preview/fast/requests/{id}):
    // fal documents owner/alias only, so a bot doing that is caught here. UNCONFIRMED what fal answers.
    this.sendJson(ex, 404, { detail: ex.method === 'POST' ? 'Application not found' : 'Not Found' });
  }

  private handleSubmit(ex: Exchange, endpointId: Imagen4EndpointId): void {
    let input: unknown;
    if (ex.rawBody.length === 0) {
      input = undefined;
    } else {
      try {
        input = JSON.parse(ex.rawBody);
      } catch (error) {
        this.sendJson(ex, 422, {
          detail: [{ type: 'json_invalid', loc: ['body', 0], msg: 'JSON decode error', input: {}, ctx: { error: String(error) } }],
        });
        return;
      }
    }
    const errors = validateImagen4Input(endpointId, input);
    if (errors.length > 0) {
      this.sendJson(ex, 422, { detail: errors });
      return;
    }
    const body = input as Record<string, unknown>;
    const prompt = body['prompt'] as string;
    if (prompt.includes(UNSAFE_AT_SUBMIT_MARKER)) {
      this.sendJson(ex, 422, contentPolicyBody(prompt));
      return;
    }

    const plan = this.plans.shift() ?? this.defaultPlan;
    if (plan.submitError !== undefined) {
      this.sendError(ex, plan.submitError);
      return;
    }

    const requestId = randomUUID();
    const queuePositions = plan.queuePositions ?? [0];
    const positions = plan.hold === true && queuePositions.length === 0 ? [0] : queuePositions;
    const progressPolls = plan.progressPolls ?? 1;
    const timeline: Step[] = [
      ...positions.map((position): Step => ({ kind: 'queue', position })),
      ...Array.from({ length: progressPolls }, (_, index): Step => ({ kind: 'progress', index, of: progressPolls })),
      { kind: 'done' },
    ];
    const inputSeed = body['seed'];
    const submission: FalSubmission = {
      requestId,
      endpointId,
      input: body,
      headers: ex.headers,
      plan,
      state: 'IN_QUEUE',
      statusPolls: 0,
      resultFetches: 0,
      cancelled: false,
      submittedAt: Date.now(),
    };
    const job: Job = {
      submission,
      timeline,
      cursor: 0,
      held: plan.hold === true,
      heldRunning: plan.holdRunning === true,
      parkedRunning: false,
      heldImages: plan.holdImages === true ? [] : undefined,
      parked: false,
      logs: [],
      statusErrorsLeft: plan.statusError ? (plan.statusError.times ?? Infinity) : 0,
      resultErrorsLeft: plan.resultError ? (plan.resultError.times ?? Infinity) : 0,
      numImages: typeof body['num_images'] === 'number' ? body['num_images'] : 1,
      image: { width: plan.images?.width ?? 64, height: plan.images?.height ?? 64, noise: plan.images?.noise ?? false },
      seed: plan.seed ?? (typeof inputSeed === 'number' ? inputSeed : randomInt(0, 2 ** 31 - 1)),
      unsafe: prompt.includes(UNSAFE_MARKER),
      syncMode: body['sync_mode'] === true,
      listeners: new Set(),
    };
    this.jobs.set(requestId, job);
    this.submissions.push(submission);
    this.sendJson(
      ex,
      200,
      {
        status: 'IN_QUEUE',
        request_id: requestId,
        ...this.urls(requestId),
        queue_position: positions[0] ?? 0,
      },
      { 'x-fal-request-id': requestId },
    );
  }

  private handleStatus(ex: Exchange, job: Job): void {
    job.submission.statusPolls++;
    if (this.consumeStatusError(ex, job)) return;
    const { status, body } = this.advance(job, ex.query.get('logs') === '1');
    this.sendJson(ex, status, body, { 'x-fal-request-id': job.submission.requestId });
  }

  /**
   * Streaming status (`mode: "streaming"` in the client, or `queue.streamStatus`): one SSE `data:` event per
   * step, exactly the answers polling would give, then the server closes after COMPLETED. A held step is
   * pushed the moment it is let go (release, finish, cancel): nothing waits for a timer.
   */
  private async handleStatusStream(ex: Exchange, job: Job): Promise<void> {
    job.submission.statusPolls++;
    if (this.consumeStatusError(ex, job)) return;
    const cut = this.streamCuts.find((c) => c.remaining > 0);
    if (cut !== undefined) cut.remaining--;
    const withLogs = ex.query.get('logs') === '1';
    this.record(ex, 200);
    ex.res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      'x-fal-request-id': job.submission.requestId,
    });
    let gone = false;
    ex.res.on('close', () => {
      gone = true;
      this.wake(job);
    });
    let events = 0;
    for (;;) {
      const before = job.cursor;
      const { body } = this.advance(job, withLogs);
      const written = new Promise<void>((resolve) => ex.res.write(`data: ${JSON.stringify(body)}\n\n`, () => resolve()));
      events++;
      if (body['status'] === 'COMPLETED') break;
      if (cut !== undefined && events >= cut.afterEvents) {
        // Cut once the events are on their way, so the client has seen them before the connection goes.
        await written;
        if (cut.how === 'drop') ex.res.socket?.destroy();
        else ex.res.end();
        return;
      }
      if (job.cursor === before) {
        await new Promise<void>((resolve) => {
          const wake = (): void => {
            job.listeners.delete(wake);
            resolve();
          };
          job.listeners.add(wake);
        });
      }
      if (gone || this.closed) return;
    }
    ex.res.end();
  }

  private consumeStatusError(ex: Exchange, job: Job): boolean {
    const error = job.submission.plan.statusError;
    if (error === undefined || job.statusErrorsLeft <= 0) return false;
    job.statusErrorsLeft--;
    this.sendError(ex, error);
    return true;
  }

  /** Answers the current step and moves the job one step on (unless held or finished). */
  private advance(job: Job, withLogs: boolean): { status: number; body: Record<string, unknown> } {
    const s = job.submission;
    const base = { request_id: s.requestId, ...this.urls(s.requestId) };
    const logs = withLogs ? [...job.logs] : null;
    if (s.state === 'CANCELLED') {
      // UNCONFIRMED: fal's status for a cancelled request. COMPLETED (so every client stops polling)
      // carrying an error, like failed requests do.
      return {
        status: 200,
        body: {
          status: 'COMPLETED',
          ...base,
          queue_position: null,
          logs,
          metrics: { inference_time: null },
          error: 'Request was cancelled',
          error_type: 'request_cancelled',
        },
      };
    }
    const step = job.timeline[job.cursor]!;
    if (step.kind === 'done') {
      s.state = 'COMPLETED';
      return { status: 200, body: { status: 'COMPLETED', ...base, queue_position: null, logs, metrics: { inference_time: INFERENCE_TIME } } };
    }
    if (step.kind === 'queue') {
      s.state = 'IN_QUEUE';
      const isLastQueueStep = job.timeline[job.cursor + 1]?.kind !== 'queue';
      if (isLastQueueStep && job.held) job.parked = true;
      else job.cursor++;
      return { status: 202, body: { status: 'IN_QUEUE', ...base, queue_position: step.position, logs: null } };
    }
    s.state = 'IN_PROGRESS';
    const isLastProgressStep = job.timeline[job.cursor + 1]?.kind === 'done';
    job.logs.push({
      message: `Generating ${job.numImages} image(s): step ${step.index + 1}/${step.of}`,
      level: 'INFO',
      source: 'USER',
      timestamp: new Date().toISOString(),
    });
    if (isLastProgressStep && job.heldRunning) job.parkedRunning = true;
    else job.cursor++;
    // UNCONFIRMED: queue_position while running; null here (the key is always present).
    return { status: 202, body: { status: 'IN_PROGRESS', ...base, queue_position: null, logs: withLogs ? [...job.logs] : null } };
  }

  private handleResult(ex: Exchange, job: Job): void {
    const s = job.submission;
    s.resultFetches++;
    const idHeader = { 'x-fal-request-id': s.requestId };
    if (s.state === 'CANCELLED') {
      // UNCONFIRMED: fal's result answer for a cancelled request.
      this.sendJson(ex, 400, { detail: 'Request was cancelled', error_type: 'request_cancelled' }, {
        ...idHeader,
        'x-fal-error-type': 'request_cancelled',
      });
      return;
    }
    if (s.state !== 'COMPLETED') {
      this.sendJson(ex, 400, { detail: 'Request is still in progress' }, idHeader);
      return;
    }
    const resultError = s.plan.resultError;
    if (resultError !== undefined && job.resultErrorsLeft > 0) {
      job.resultErrorsLeft--;
      this.sendError(ex, resultError);
      return;
    }
    if (job.unsafe) {
      this.sendJson(ex, 422, contentPolicyBody(s.input['prompt'] as string), idHeader);
      return;
    }
    const images = Array.from({ length: job.numImages }, (_, index) => {
      const png = this.png(job, index);
      return {
        url: job.syncMode ? `data:image/png;base64,${png.toString('base64')}` : this.imageUrl(s.requestId, index),
        content_type: 'image/png',
        file_name: `${s.requestId}_${index}.png`,
        file_size: png.length,
        width: job.image.width,
        height: job.image.height,
      };
    });
    this.sendJson(ex, 200, { images, seed: job.seed }, idHeader);
  }

  private handleCancel(ex: Exchange, job: Job | undefined): void {
    if (job === undefined) {
      this.sendJson(ex, 404, { status: 'NOT_FOUND' });
      return;
    }
    const s = job.submission;
    // UNCONFIRMED: HTTP codes per cancel status. A second cancel (already CANCELLED) answers like a
    // completed request, since its status already says COMPLETED.
    if (s.state === 'COMPLETED' || s.state === 'CANCELLED') {
      this.sendJson(ex, 400, { status: 'ALREADY_COMPLETED' });
      return;
    }
    s.state = 'CANCELLED';
    s.cancelled = true;
    this.wake(job);
    this.sendJson(ex, 202, { status: 'CANCELLATION_REQUESTED' });
  }

  private handleImage(ex: Exchange, requestId: string, index: number): void {
    const job = this.jobs.get(requestId);
    if (job === undefined || index >= job.numImages || (ex.method !== 'GET' && ex.method !== 'HEAD')) {
      this.sendRaw(ex, 404, 'Not Found', { 'content-type': 'text/plain' });
      return;
    }
    const imageError = job.submission.plan.imageError;
    if (imageError !== undefined && (imageError.indexes === undefined || imageError.indexes.includes(index))) {
      this.sendRaw(ex, imageError.status, `Error ${imageError.status}`, { 'content-type': 'text/plain' });
      return;
    }
    const answer = () => this.sendRaw(ex, 200, this.png(job, index), { 'content-type': 'image/png', 'cache-control': 'public, max-age=3600' });
    if (job.heldImages) job.heldImages.push(answer);
    else answer();
  }

  // ---------------------------------------------------------------------------------------------
  // helpers

  private png(job: Job, index: number): Buffer {
    return testPng(job.image.width, job.image.height, { noise: job.image.noise, variant: index });
  }

  private urls(requestId: string): { response_url: string; status_url: string; cancel_url: string } {
    const base = `${this.baseUrl}${APP_PREFIX}/requests/${requestId}`;
    return { response_url: base, status_url: `${base}/status`, cancel_url: `${base}/cancel` };
  }

  private wake(job: Job): void {
    for (const listener of [...job.listeners]) listener();
  }

  private sendError(ex: Exchange, error: FalError): void {
    if (error.dropConnection === true) {
      this.record(ex, 0);
      ex.res.socket?.destroy();
      return;
    }
    const headers: Record<string, string> = { ...error.headers };
    const hasType = Object.keys(headers).some((h) => h.toLowerCase() === 'content-type');
    if (error.body === undefined) {
      this.sendRaw(ex, error.status, '', headers);
    } else if (typeof error.body === 'string' || Buffer.isBuffer(error.body)) {
      this.sendRaw(ex, error.status, error.body, hasType ? headers : { 'content-type': 'text/plain', ...headers });
    } else {
      this.sendRaw(
        ex,
        error.status,
        JSON.stringify(error.body),
        hasType ? headers : { 'content-type': 'application/json', ...headers },
      );
    }
  }

  private sendJson(ex: Exchange, status: number, body: unknown, headers: Record<string, string> = {}): void {
    this.sendRaw(ex, status, JSON.stringify(body), { 'content-type': 'application/json', ...headers });
  }

  private sendRaw(ex: Exchange, status: number, body: string | Buffer, headers: OutgoingHttpHeaders): void {
    this.record(ex, status);
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    ex.res.writeHead(status, { ...headers, 'content-length': bytes.length });
    ex.res.end(ex.method === 'HEAD' ? undefined : bytes);
  }

  private record(ex: Exchange, status: number): void {
    this.requests.push({
      method: ex.method,
      path: ex.path,
      query: ex.query,
      headers: ex.headers,
      body: ex.body,
      status,
      at: Date.now(),
    });
    for (const w of [...this.waiters]) w.check();
  }

  private waitFor<T>(probe: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.closed) {
        reject(new Error('FakeFal is closed'));
        return;
      }
      const timer = setTimeout(() => {
        waiter.fail(
          new Error(
            `FakeFal: timed out after ${timeoutMs} ms waiting for ${what}. Requests so far:\n` +
              this.requests.map((r) => `  ${r.method} ${r.path} -> ${r.status}`).join('\n'),
          ),
        );
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      const waiter: Waiter = {
        check: () => {
          let found: T | undefined;
          try {
            found = probe();
          } catch (error) {
            done();
            reject(error instanceof Error ? error : new Error(String(error)));
            return;
          }
          if (found !== undefined) {
            done();
            resolve(found);
          }
        },
        fail: (error) => {
          done();
          reject(error);
        },
      };
      this.waiters.add(waiter);
      waiter.check();
    });
  }
}

// -----------------------------------------------------------------------------------------------
// Input validation

const ASPECT_RATIOS = ['1:1', '16:9', '9:16', '3:4', '4:3'] as const;
const RESOLUTIONS = ['1K', '2K'] as const;
const OUTPUT_FORMATS = ['png', 'jpeg', 'webp'] as const;
const SAFETY_TOLERANCES = ['1', '2', '3', '4', '5', '6'] as const;

function expectedList(values: readonly string[]): string {
  const quoted = values.map((v) => `'${v}'`);
  return `${quoted.slice(0, -1).join(', ')} or ${quoted[quoted.length - 1]}`;
}

/**
 * Validates an Imagen 4 input like fal's pydantic model would, returning FastAPI-style 422 items
 * (all problems, schema order). Deliberately stricter than pydantic's lax mode in three ways, so bot
 * bugs surface: unknown fields are `extra_forbidden` (fal probably ignores them), numeric strings are
 * not coerced to integers, and `null` is only accepted for `seed`.
 * `resolution` is not part of the fast endpoint's schema, so sending it there is `extra_forbidden`.
 * `output_format` is validated but the fake always serves PNG (content_type says so).
 */
export function validateImagen4Input(endpointId: Imagen4EndpointId, input: unknown): FalFieldError[] {
  if (input === undefined) return [{ type: 'missing', loc: ['body'], msg: 'Field required', input: null }];
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return [
      {
        type: 'model_attributes_type',
        loc: ['body'],
        msg: 'Input should be a valid dictionary or object to extract fields from',
        input,
      },
    ];
  }
  const body = input as Record<string, unknown>;
  const errors: FalFieldError[] = [];
  const has = (field: string): boolean => Object.prototype.hasOwnProperty.call(body, field);

  const str = (field: string, minLength = 0): void => {
    if (!has(field)) return;
    const v = body[field];
    if (typeof v !== 'string') errors.push({ type: 'string_type', loc: ['body', field], msg: 'Input should be a valid string', input: v });
    else if (v.length < minLength) {
      errors.push({
        type: 'string_too_short',
        loc: ['body', field],
        msg: `String should have at least ${minLength} character${minLength === 1 ? '' : 's'}`,
        input: v,
        ctx: { min_length: minLength },
      });
    }
  };
  const oneOf = (field: string, values: readonly string[], type: 'enum' | 'literal_error'): void => {
    if (!has(field)) return;
    const v = body[field];
    if (typeof v !== 'string' || !values.includes(v)) {
      const expected = expectedList(values);
      errors.push({ type, loc: ['body', field], msg: `Input should be ${expected}`, input: v, ctx: { expected } });
    }
  };
  const int = (field: string, range?: { ge: number; le: number }, nullable = false): void => {
    if (!has(field)) return;
    const v = body[field];
    if (v === null && nullable) return;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      errors.push({ type: 'int_type', loc: ['body', field], msg: 'Input should be a valid integer', input: v });
    } else if (!Number.isInteger(v)) {
      errors.push({
        type: 'int_from_float',
        loc: ['body', field],
        msg: 'Input should be a valid integer, got a number with a fractional part',
        input: v,
      });
    } else if (range !== undefined && v < range.ge) {
      errors.push({ type: 'greater_than_equal', loc: ['body', field], msg: `Input should be greater than or equal to ${range.ge}`, input: v, ctx: { ge: range.ge } });
    } else if (range !== undefined && v > range.le) {
      errors.push({ type: 'less_than_equal', loc: ['body', field], msg: `Input should be less than or equal to ${range.le}`, input: v, ctx: { le: range.le } });
    }
  };

  if (!has('prompt')) errors.push({ type: 'missing', loc: ['body', 'prompt'], msg: 'Field required', input: body });
  else str('prompt', 1);
  str('negative_prompt');
  oneOf('aspect_ratio', ASPECT_RATIOS, 'enum');
  int('num_images', { ge: 1, le: 4 });
  int('seed', undefined, true);
  const allowed = new Set([
    'prompt',
    'negative_prompt',
    'aspect_ratio',
    'num_images',
    'seed',
    'output_format',
    'safety_tolerance',
    'sync_mode',
  ]);
  if (endpointId !== 'fal-ai/imagen4/preview/fast') {
    allowed.add('resolution');
    oneOf('resolution', RESOLUTIONS, 'enum');
  }
  oneOf('output_format', OUTPUT_FORMATS, 'literal_error');
  oneOf('safety_tolerance', SAFETY_TOLERANCES, 'literal_error');
  if (has('sync_mode') && typeof body['sync_mode'] !== 'boolean') {
    errors.push({ type: 'bool_type', loc: ['body', 'sync_mode'], msg: 'Input should be a valid boolean', input: body['sync_mode'] });
  }
  for (const field of Object.keys(body)) {
    if (!allowed.has(field)) {
      errors.push({ type: 'extra_forbidden', loc: ['body', field], msg: 'Extra inputs are not permitted', input: body[field] });
    }
  }
  return errors;
}

function contentPolicyBody(prompt: string): { detail: FalFieldError[] } {
  return {
    detail: [
      {
        loc: ['body', 'prompt'],
        msg: CONTENT_POLICY_MESSAGE,
        type: 'content_policy_violation',
        input: prompt,
        url: 'https://docs.fal.ai/errors#content_policy_violation',
      },
    ],
  };
}

// -----------------------------------------------------------------------------------------------
// plumbing

async function readBody(req: IncomingMessage): Promise<{ text: string; tooLarge: boolean }> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of req) {
    const buf = part as Buffer;
    size += buf.length;
    if (size <= MAX_BODY_BYTES) parts.push(buf);
  }
  return { text: Buffer.concat(parts).toString('utf8'), tooLarge: size > MAX_BODY_BYTES };
}

function parseBodyForRecord(raw: string): unknown {
  if (raw.length === 0) return undefined;
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}

function flattenHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}
