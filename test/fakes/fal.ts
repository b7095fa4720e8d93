/**
 * A loopback fake of fal's queue API (`https://queue.fal.run`) serving Google's image models (Nano Banana 2 and
 * Pro with their /edit endpoints, and the retired Imagen 4 endpoints) and the Real-ESRGAN upscaler, meant to be driven by
 * the REAL `@fal-ai/client` through a request middleware that rewrites the origin:
 *
 *     const fake = await FakeFal.start();
 *     const fal = createFalClient({
 *       credentials: fake.key,
 *       requestMiddleware: async (req) => ({ ...req, url: req.url.replace(/^https:\/\/(queue\.)?fal\.run(?=\/)/, fake.baseUrl) }),
 *     });
 *
 * Design rules:
 * - Strict: it rejects what fal would reject (auth, unknown or retired app, pydantic-style 422s), and on purpose
 *   a little more (unknown input fields, see {@link validateFalInput}), so a bot bug shows up here. Each
 *   endpoint's input is written here from fal's published types (@fal-ai/client's endpoint typings) and model
 *   pages, never from the bot's schemas.
 * - Each model's own output: `{images, description}` (no seed) for the Gemini models, `{images, seed}` for
 *   Imagen 4, with PNG, JPEG or WebP bytes as `output_format` asked.
 * - Deterministic: a job moves one step per status poll, never by wall-clock, so tests need no sleeps. A
 *   status stream pushes every step at once, and a held step the moment the test lets it go
 *   ({@link FakeFal.release}, {@link FakeFal.finish}).
 * - Real bytes: result image URLs point back at this server, which serves valid PNGs (./png.ts).
 * - Input images are fetched, as fal does: every `image_urls` entry of an /edit request and the upscaler's
 *   `image_url` is downloaded over real HTTP (or decoded from a `data:` URI) before the submit is accepted; a
 *   URL that cannot be fetched, or bytes that are not an image, fail the request with fal's 422 file errors
 *   ({@link FakeFal.imageFetchErrorAt}). What was fetched is kept on the submission (`fetchedImages`), so a
 *   test can check it is the image the member acted on. /edit results keep the first input image's aspect
 *   ratio unless `aspect_ratio` is given; the upscaler serves the input resized by `scale`.
 *
 * Protocol facts: https://docs.fal.ai/model-endpoints/queue and the @fal-ai/client 1.10 sources (`src/queue.ts`,
 * `src/request.ts`, `src/response.ts`).
 * Choices where upstream behaviour is unconfirmed are marked "UNCONFIRMED" below.
 */
import { randomInt, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, OutgoingHttpHeaders, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { testPng } from './png.js';

/** The endpoints this fake serves (and accepts at submit, unless {@link FakeFal.retire}d). */
export const FAL_ENDPOINTS = [
  'fal-ai/nano-banana-2',
  'fal-ai/nano-banana-2/edit',
  'fal-ai/nano-banana-pro',
  'fal-ai/nano-banana-pro/edit',
  'fal-ai/imagen4/preview',
  'fal-ai/imagen4/preview/fast',
  'fal-ai/imagen4/preview/ultra',
  'fal-ai/esrgan',
] as const;
export type FalEndpointId = (typeof FAL_ENDPOINTS)[number];

/** What fal answers for a submit to an app it does not (or no longer) serve. UNCONFIRMED: the exact text. */
export const APPLICATION_NOT_FOUND = 'Application not found';

/** Status, result and cancel URLs use only owner/alias of the endpoint id (fal-queue.md). */
function appOf(endpointId: string): string {
  return endpointId.split('/').slice(0, 2).join('/');
}

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
  /**
   * Size of the served images (default 64x64, solid colour); noise=true gives large incompressible PNGs. Without
   * it, an /edit result is 64 px on its long side at the first input image's (or the asked) aspect ratio, and the
   * upscaler serves its input resized by `scale`; with it, the upscaler serves a test image of this size.
   */
  images?: { width: number; height: number; noise?: boolean };
  /** Image downloads fail with this status, for the given indexes (default: all). */
  imageError?: { status: number; indexes?: number[] };
  /** Image downloads are answered only after {@link FakeFal.releaseImages} (a slow storage server). */
  holdImages?: boolean;
  /** Seed echoed in an Imagen 4 result (default: input.seed, else random); the Gemini models echo none. */
  seed?: number;
  /** The result holds only this many images when fewer than `num_images` (fal returns what it made). */
  imagesReturned?: number;
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
  /** The input images fal downloaded for this job, in input order ([] for endpoints that take none). */
  fetchedImages: FalImageFetch[];
}

/** One download of an input image (an `image_urls` entry or `image_url`), successful or not. */
export interface FalImageFetch {
  url: string;
  /** HTTP status of the download; 0 when it failed before an answer (refused, unsupported scheme); 200 for a data URI. */
  status: number;
  /** The bytes received on a 2xx answer. */
  bytes: Buffer | undefined;
  /** Set when the bytes decoded as an image (sharp). */
  width: number | undefined;
  height: number | undefined;
  /** sharp's name for the format: 'png', 'jpeg', 'webp', ... */
  format: string | undefined;
  at: number;
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
  format: ImageFormat;
  /** The upscaler's output (the fetched input resized), served instead of a test PNG. */
  upscaled: Buffer | undefined;
  /** Input images that could not be used, answered at result time when {@link FakeFal.imageFetchErrorAt} is 'result'. */
  imageErrors: FalFieldError[];
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
  /**
   * When an input image that cannot be fetched (or is not an image) fails the request: 'submit' (default) answers
   * the submit with the 422; 'result' accepts the job and answers its result call with it. Where real fal fails
   * a queued request is UNCONFIRMED (the download happens on the runner, so likely 'result'): test both.
   */
  imageFetchErrorAt: 'submit' | 'result' = 'submit';
  /** Every input image download, in order, including the failed ones and those of refused submits. */
  readonly imageFetches: FalImageFetch[] = [];

  private readonly server: Server;
  private readonly plans: FalJobPlan[] = [];
  private readonly jobs = new Map<string, Job>();
  private readonly faults: { match: (method: string, path: string) => boolean; error: FalError; remaining: number }[] =
    [];
  private readonly streamCuts: { afterEvents: number; how: 'end' | 'drop'; remaining: number }[] = [];
  private readonly waiters = new Set<Waiter>();
  private readonly retired = new Map<string, FalError>();
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

  /**
   * From now on, submits to this endpoint answer as fal does for an app it no longer serves (default: 404
   * "Application not found"); jobs already accepted keep working.
   */
  retire(endpointId: FalEndpointId, answer: FalError = { status: 404, body: { detail: APPLICATION_NOT_FOUND } }): void {
    this.retired.set(endpointId, answer);
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
    const format = this.jobs.get(requestId)?.format ?? 'png';
    return `${this.baseUrl}/files/${requestId}/${index}.${FORMATS[format].extension}`;
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

    const file = /^\/files\/([^/]+)\/(\d+)\.(png|jpg|webp)$/.exec(ex.path);
    if (file !== null) {
      await this.handleImage(ex, file[1]!, Number(file[2]), file[3]!);
      return;
    }

    if (ex.headers['authorization'] !== `Key ${this.key}`) {
      this.sendJson(ex, 401, { detail: BAD_KEY_DETAIL });
      return;
    }

    const queue = /^\/([^/]+\/[^/]+)\/requests\/([^/]+)(\/status|\/status\/stream|\/cancel)?$/.exec(ex.path);
    if (queue !== null) {
      const requestId = queue[2]!;
      const action = queue[3] ?? '';
      const expected = action === '/cancel' ? 'PUT' : 'GET';
      if (ex.method !== expected) {
        this.sendJson(ex, 405, { detail: 'Method Not Allowed' });
        return;
      }
      const found = this.jobs.get(requestId);
      // A request is known only under the app it was submitted to.
      const job = found && appOf(found.submission.endpointId) === queue[1] ? found : undefined;
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
      else await this.handleResult(ex, job);
      return;
    }

    const endpointId = ex.path.replace(/^\//, '');
    if ((FAL_ENDPOINTS as readonly string[]).includes(endpointId)) {
      if (ex.method !== 'POST') {
        this.sendJson(ex, 405, { detail: 'Method Not Allowed' });
        return;
      }
      const retired = this.retired.get(endpointId);
      if (retired) {
        this.sendError(ex, retired);
        return;
      }
      await this.handleSubmit(ex, endpointId as FalEndpointId);
      return;
    }
    // Includes status/result URLs built on the full endpoint id (e.g. .../preview/fast/requests/{id}):
    // fal documents owner/alias only, so a bot doing that is caught here. UNCONFIRMED what fal answers.
    this.sendJson(ex, 404, { detail: ex.method === 'POST' ? 'Application not found' : 'Not Found' });
  }

  private async handleSubmit(ex: Exchange, endpointId: FalEndpointId): Promise<void> {
    let input: unknown;
    if (ex.rawBody.length === 0) {
      input = undefined;
    } else {
      try {
        input = JSON.parse(ex.rawBody);
      } catch (error) {
        this.sendJson(ex, 422, {
          detail: [
            {
              type: 'json_invalid',
              loc: ['body', 0],
              msg: 'JSON decode error',
              input: {},
              ctx: { error: String(error) },
            },
          ],
        });
        return;
      }
    }
    const errors = validateFalInput(endpointId, input);
    if (errors.length > 0) {
      this.sendJson(ex, 422, { detail: errors });
      return;
    }
    const body = input as Record<string, unknown>;
    const prompt = typeof body['prompt'] === 'string' ? body['prompt'] : '';
    if (prompt.includes(UNSAFE_AT_SUBMIT_MARKER)) {
      this.sendJson(ex, 422, contentPolicyBody(prompt));
      return;
    }
    const spec = ENDPOINT_SPECS[endpointId];
    const { fetched, errors: imageErrors } = await this.fetchInputImages(spec, body);
    if (imageErrors.length > 0 && this.imageFetchErrorAt === 'submit') {
      this.sendJson(ex, 422, { detail: imageErrors });
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
      fetchedImages: fetched,
    };
    const format: ImageFormat =
      typeof body['output_format'] === 'string' ? (body['output_format'] as ImageFormat) : 'png';
    const image = outputSize(spec, body, plan, fetched[0]);
    const upscaled =
      spec.output === 'upscale' &&
      plan.images === undefined &&
      imageErrors.length === 0 &&
      fetched[0]?.bytes !== undefined
        ? await encode(
            sharp(fetched[0].bytes).resize(image.width, image.height, { fit: 'fill', kernel: 'nearest' }),
            format,
          )
        : undefined;
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
      numImages:
        spec.output === 'upscale'
          ? 1
          : Math.min(typeof body['num_images'] === 'number' ? body['num_images'] : 1, plan.imagesReturned ?? Infinity),
      image,
      seed: plan.seed ?? (typeof inputSeed === 'number' ? inputSeed : randomInt(0, 2 ** 31 - 1)),
      unsafe: prompt.includes(UNSAFE_MARKER),
      syncMode: body['sync_mode'] === true,
      format,
      upscaled,
      imageErrors,
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
        ...this.urls(endpointId, requestId),
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
      const written = new Promise<void>((resolve) =>
        ex.res.write(`data: ${JSON.stringify(body)}\n\n`, () => resolve()),
      );
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
    const base = { request_id: s.requestId, ...this.urls(s.endpointId, s.requestId) };
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
      return {
        status: 200,
        body: { status: 'COMPLETED', ...base, queue_position: null, logs, metrics: { inference_time: INFERENCE_TIME } },
      };
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
    return {
      status: 202,
      body: { status: 'IN_PROGRESS', ...base, queue_position: null, logs: withLogs ? [...job.logs] : null },
    };
  }

  private async handleResult(ex: Exchange, job: Job): Promise<void> {
    const s = job.submission;
    s.resultFetches++;
    const idHeader = { 'x-fal-request-id': s.requestId };
    if (s.state === 'CANCELLED') {
      // UNCONFIRMED: fal's result answer for a cancelled request.
      this.sendJson(
        ex,
        400,
        { detail: 'Request was cancelled', error_type: 'request_cancelled' },
        {
          ...idHeader,
          'x-fal-error-type': 'request_cancelled',
        },
      );
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
    if (job.imageErrors.length > 0) {
      this.sendJson(ex, 422, { detail: job.imageErrors }, idHeader);
      return;
    }
    if (job.unsafe) {
      this.sendJson(ex, 422, contentPolicyBody(s.input['prompt'] as string), idHeader);
      return;
    }
    const format = FORMATS[job.format];
    const count = job.numImages;
    const images = await Promise.all(
      Array.from({ length: count }, async (_, index) => {
        const bytes = await this.imageBytes(job, index);
        return {
          url: job.syncMode
            ? `data:${format.contentType};base64,${bytes.toString('base64')}`
            : this.imageUrl(s.requestId, index),
          content_type: format.contentType,
          file_name: `${s.requestId}_${index}.${format.extension}`,
          file_size: bytes.length,
          width: job.image.width,
          height: job.image.height,
        };
      }),
    );
    // Each model's own output shape: Imagen 4 echoes its seed; the Gemini models describe the images instead.
    const kind = ENDPOINT_SPECS[s.endpointId as FalEndpointId].output;
    const output =
      kind === 'upscale'
        ? { image: images[0] }
        : kind === 'imagen'
          ? { images, seed: job.seed }
          : { images, description: `Here ${count === 1 ? 'is the image' : 'are the images'} you asked for.` };
    this.sendJson(ex, 200, output, idHeader);
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

  private async handleImage(ex: Exchange, requestId: string, index: number, extension: string): Promise<void> {
    const job = this.jobs.get(requestId);
    const count = job?.numImages ?? 0;
    if (
      job === undefined ||
      index >= count ||
      FORMATS[job.format].extension !== extension ||
      (ex.method !== 'GET' && ex.method !== 'HEAD')
    ) {
      this.sendRaw(ex, 404, 'Not Found', { 'content-type': 'text/plain' });
      return;
    }
    const imageError = job.submission.plan.imageError;
    if (imageError !== undefined && (imageError.indexes === undefined || imageError.indexes.includes(index))) {
      this.sendRaw(ex, imageError.status, `Error ${imageError.status}`, { 'content-type': 'text/plain' });
      return;
    }
    const bytes = await this.imageBytes(job, index);
    const answer = () =>
      this.sendRaw(ex, 200, bytes, {
        'content-type': FORMATS[job.format].contentType,
        'cache-control': 'public, max-age=3600',
      });
    if (job.heldImages) job.heldImages.push(answer);
    else answer();
  }

  // ---------------------------------------------------------------------------------------------
  // helpers

  private png(job: Job, index: number): Buffer {
    return testPng(job.image.width, job.image.height, { noise: job.image.noise, variant: index });
  }

  /** Image `index` of a job in the format it asked for (PNG bytes converted by sharp for JPEG and WebP). */
  private async imageBytes(job: Job, index: number): Promise<Buffer> {
    if (job.upscaled !== undefined) return job.upscaled;
    const png = this.png(job, index);
    if (job.format === 'jpeg') return sharp(png).jpeg({ quality: 90 }).toBuffer();
    if (job.format === 'webp') return sharp(png).webp({ quality: 90 }).toBuffer();
    return png;
  }

  /**
   * Downloads the input images of a request, as fal does before running the model: each `image_urls` entry (or
   * `image_url`) over HTTP, or decoded from a `data:` URI. Returns what was fetched and fal's 422 items for
   * the ones that failed. UNCONFIRMED: fal's exact error types, texts and `loc` for these failures (written from
   * https://docs.fal.ai/model-apis/errors: `file_download_error`, `image_load_error`).
   */
  private async fetchInputImages(
    spec: EndpointSpec,
    body: Record<string, unknown>,
  ): Promise<{ fetched: FalImageFetch[]; errors: FalFieldError[] }> {
    if (spec.imageInput === undefined) return { fetched: [], errors: [] };
    const field = spec.imageInput;
    const value = body[field];
    const urls = Array.isArray(value) ? (value as string[]) : [value as string];
    const fetched = await Promise.all(urls.map((url) => fetchImage(url)));
    this.imageFetches.push(...fetched);
    const errors: FalFieldError[] = [];
    for (const [index, result] of fetched.entries()) {
      const loc = Array.isArray(value) ? ['body', field, index] : ['body', field];
      if (result.bytes === undefined) {
        errors.push({
          loc,
          msg: FILE_DOWNLOAD_MESSAGE,
          type: 'file_download_error',
          input: result.url,
          url: 'https://docs.fal.ai/errors#file_download_error',
        });
      } else if (result.width === undefined) {
        errors.push({
          loc,
          msg: IMAGE_LOAD_MESSAGE,
          type: 'image_load_error',
          input: result.url,
          url: 'https://docs.fal.ai/errors#image_load_error',
        });
      }
    }
    return { fetched, errors };
  }

  private urls(
    endpointId: string,
    requestId: string,
  ): { response_url: string; status_url: string; cancel_url: string } {
    const base = `${this.baseUrl}/${appOf(endpointId)}/requests/${requestId}`;
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
// Input validation, per endpoint, from fal's published input types (@fal-ai/client's endpoint typings) and
// model pages. Imagen 4 follows its API page (shared/reference), which still lists negative_prompt.

type ImageFormat = 'png' | 'jpeg' | 'webp';
const FORMATS: Record<ImageFormat, { contentType: string; extension: string }> = {
  png: { contentType: 'image/png', extension: 'png' },
  jpeg: { contentType: 'image/jpeg', extension: 'jpg' },
  webp: { contentType: 'image/webp', extension: 'webp' },
};

type FieldSpec =
  | { kind: 'string'; minLength?: number }
  | { kind: 'enum'; values: readonly string[]; error: 'enum' | 'literal_error' }
  | { kind: 'int'; ge?: number; le?: number; nullable?: boolean }
  | { kind: 'bool' }
  | { kind: 'string_list'; minItems: number }
  | { kind: 'number'; ge?: number; le?: number };

interface EndpointSpec {
  readonly required: readonly string[];
  readonly fields: Readonly<Record<string, FieldSpec>>;
  /** Which output shape the model returns. */
  readonly output: 'gemini' | 'imagen' | 'upscale';
  /** The field holding the input images fal downloads, if any. */
  readonly imageInput?: 'image_urls' | 'image_url';
}

const SAFETY = { kind: 'enum', values: ['1', '2', '3', '4', '5', '6'], error: 'literal_error' } as const;
const OUTPUT_FORMAT = { kind: 'enum', values: ['jpeg', 'png', 'webp'], error: 'literal_error' } as const;
const NUM_IMAGES = { kind: 'int', ge: 1, le: 4 } as const;
const SEED = { kind: 'int', nullable: true } as const;
const PROMPT = { kind: 'string', minLength: 1 } as const;
const BOOL = { kind: 'bool' } as const;

const IMAGEN4_FIELDS = {
  prompt: PROMPT,
  negative_prompt: { kind: 'string' },
  aspect_ratio: { kind: 'enum', values: ['1:1', '16:9', '9:16', '3:4', '4:3'], error: 'enum' },
  num_images: NUM_IMAGES,
  seed: SEED,
  output_format: OUTPUT_FORMAT,
  safety_tolerance: SAFETY,
  sync_mode: BOOL,
} as const satisfies Record<string, FieldSpec>;
const IMAGEN4_RESOLUTION = { kind: 'enum', values: ['1K', '2K'], error: 'enum' } as const;

const GEMINI_COMMON = {
  prompt: PROMPT,
  num_images: NUM_IMAGES,
  seed: SEED,
  output_format: OUTPUT_FORMAT,
  safety_tolerance: SAFETY,
  enable_web_search: BOOL,
  limit_generations: BOOL,
  system_prompt: { kind: 'string' },
  sync_mode: BOOL,
} as const satisfies Record<string, FieldSpec>;
const NANO_BANANA_2 = {
  ...GEMINI_COMMON,
  aspect_ratio: {
    kind: 'enum',
    values: [
      'auto',
      '21:9',
      '16:9',
      '3:2',
      '4:3',
      '5:4',
      '1:1',
      '4:5',
      '3:4',
      '2:3',
      '9:16',
      '4:1',
      '1:4',
      '8:1',
      '1:8',
    ],
    error: 'literal_error',
  },
  resolution: { kind: 'enum', values: ['0.5K', '1K', '2K', '4K'], error: 'literal_error' },
  thinking_level: { kind: 'enum', values: ['minimal', 'high'], error: 'literal_error' },
} as const satisfies Record<string, FieldSpec>;
const NANO_BANANA_PRO = {
  ...GEMINI_COMMON,
  aspect_ratio: {
    kind: 'enum',
    values: ['auto', '21:9', '16:9', '3:2', '4:3', '5:4', '1:1', '4:5', '3:4', '2:3', '9:16'],
    error: 'literal_error',
  },
  resolution: { kind: 'enum', values: ['1K', '2K', '4K'], error: 'literal_error' },
} as const satisfies Record<string, FieldSpec>;
const IMAGE_URLS = { kind: 'string_list', minItems: 1 } as const;

export const ENDPOINT_SPECS: Readonly<Record<FalEndpointId, EndpointSpec>> = {
  'fal-ai/nano-banana-2': { required: ['prompt'], fields: NANO_BANANA_2, output: 'gemini' },
  'fal-ai/nano-banana-2/edit': {
    required: ['prompt', 'image_urls'],
    fields: { ...NANO_BANANA_2, image_urls: IMAGE_URLS },
    output: 'gemini',
    imageInput: 'image_urls',
  },
  'fal-ai/nano-banana-pro': { required: ['prompt'], fields: NANO_BANANA_PRO, output: 'gemini' },
  'fal-ai/nano-banana-pro/edit': {
    required: ['prompt', 'image_urls'],
    fields: { ...NANO_BANANA_PRO, image_urls: IMAGE_URLS },
    output: 'gemini',
    imageInput: 'image_urls',
  },
  'fal-ai/imagen4/preview': {
    required: ['prompt'],
    fields: { ...IMAGEN4_FIELDS, resolution: IMAGEN4_RESOLUTION },
    output: 'imagen',
  },
  // The fast endpoint has no resolution: sending one is `extra_forbidden`.
  'fal-ai/imagen4/preview/fast': { required: ['prompt'], fields: IMAGEN4_FIELDS, output: 'imagen' },
  'fal-ai/imagen4/preview/ultra': {
    required: ['prompt'],
    fields: { ...IMAGEN4_FIELDS, resolution: IMAGEN4_RESOLUTION },
    output: 'imagen',
  },
  // From @fal-ai/client's `esrganInput` (https://fal.ai/models/fal-ai/esrgan/api). UNCONFIRMED: the bounds of
  // `scale` (the type says only "Rescaling factor", default 2; 1-8 here) and of `tile`.
  'fal-ai/esrgan': {
    required: ['image_url'],
    fields: {
      image_url: { kind: 'string', minLength: 1 },
      scale: { kind: 'number', ge: 1, le: 8 },
      tile: { kind: 'int', ge: 0 },
      face: BOOL,
      model: {
        kind: 'enum',
        values: [
          'RealESRGAN_x4plus',
          'RealESRGAN_x2plus',
          'RealESRGAN_x4plus_anime_6B',
          'RealESRGAN_x4_v3',
          'RealESRGAN_x4_wdn_v3',
          'RealESRGAN_x4_anime_v3',
        ],
        error: 'enum',
      },
      output_format: { kind: 'enum', values: ['png', 'jpeg'], error: 'enum' },
    },
    output: 'upscale',
    imageInput: 'image_url',
  },
};

function expectedList(values: readonly string[]): string {
  const quoted = values.map((v) => `'${v}'`);
  return `${quoted.slice(0, -1).join(', ')} or ${quoted[quoted.length - 1]}`;
}

/**
 * Validates an input like fal's pydantic model for that endpoint would, returning FastAPI-style 422 items
 * (all problems, field order). Deliberately stricter than pydantic's lax mode in three ways, so bot bugs
 * surface: unknown fields are `extra_forbidden` (fal probably ignores them), numeric strings are not coerced to
 * integers, and `null` is only accepted for `seed`.
 */
export function validateFalInput(endpointId: FalEndpointId, input: unknown): FalFieldError[] {
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
  const spec = ENDPOINT_SPECS[endpointId];
  const body = input as Record<string, unknown>;
  const errors: FalFieldError[] = [];
  for (const field of spec.required) {
    if (!Object.prototype.hasOwnProperty.call(body, field)) {
      errors.push({ type: 'missing', loc: ['body', field], msg: 'Field required', input: body });
    }
  }
  // Schema order first, as pydantic reports, then the fields the schema does not have.
  for (const [field, rule] of Object.entries(spec.fields)) {
    if (!Object.prototype.hasOwnProperty.call(body, field)) continue;
    const error = checkField(rule, body[field]);
    if (error) errors.push({ ...error, loc: ['body', field], input: body[field] });
  }
  for (const [field, value] of Object.entries(body)) {
    if (!Object.prototype.hasOwnProperty.call(spec.fields, field)) {
      errors.push({
        type: 'extra_forbidden',
        loc: ['body', field],
        msg: 'Extra inputs are not permitted',
        input: value,
      });
    }
  }
  return errors;
}

function checkField(rule: FieldSpec, v: unknown): Omit<FalFieldError, 'loc'> | undefined {
  switch (rule.kind) {
    case 'string': {
      if (typeof v !== 'string') return { type: 'string_type', msg: 'Input should be a valid string' };
      const min = rule.minLength ?? 0;
      return v.length < min
        ? {
            type: 'string_too_short',
            msg: `String should have at least ${min} character${min === 1 ? '' : 's'}`,
            ctx: { min_length: min },
          }
        : undefined;
    }
    case 'enum': {
      if (typeof v === 'string' && rule.values.includes(v)) return undefined;
      const expected = expectedList(rule.values);
      return { type: rule.error, msg: `Input should be ${expected}`, ctx: { expected } };
    }
    case 'int': {
      if (v === null && rule.nullable) return undefined;
      if (typeof v !== 'number' || !Number.isFinite(v))
        return { type: 'int_type', msg: 'Input should be a valid integer' };
      if (!Number.isInteger(v))
        return { type: 'int_from_float', msg: 'Input should be a valid integer, got a number with a fractional part' };
      if (rule.ge !== undefined && v < rule.ge) {
        return {
          type: 'greater_than_equal',
          msg: `Input should be greater than or equal to ${rule.ge}`,
          ctx: { ge: rule.ge },
        };
      }
      if (rule.le !== undefined && v > rule.le) {
        return {
          type: 'less_than_equal',
          msg: `Input should be less than or equal to ${rule.le}`,
          ctx: { le: rule.le },
        };
      }
      return undefined;
    }
    case 'number': {
      if (typeof v !== 'number' || !Number.isFinite(v))
        return { type: 'float_type', msg: 'Input should be a valid number' };
      if (rule.ge !== undefined && v < rule.ge) {
        return {
          type: 'greater_than_equal',
          msg: `Input should be greater than or equal to ${rule.ge}`,
          ctx: { ge: rule.ge },
        };
      }
      if (rule.le !== undefined && v > rule.le) {
        return {
          type: 'less_than_equal',
          msg: `Input should be less than or equal to ${rule.le}`,
          ctx: { le: rule.le },
        };
      }
      return undefined;
    }
    case 'bool':
      return typeof v === 'boolean' ? undefined : { type: 'bool_type', msg: 'Input should be a valid boolean' };
    case 'string_list': {
      if (!Array.isArray(v)) return { type: 'list_type', msg: 'Input should be a valid list' };
      if (v.length < rule.minItems) {
        return {
          type: 'too_short',
          msg: `List should have at least ${rule.minItems} item after validation, not ${v.length}`,
          ctx: { min_length: rule.minItems },
        };
      }
      return v.every((item) => typeof item === 'string')
        ? undefined
        : { type: 'string_type', msg: 'Input should be a valid string' };
    }
  }
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
// Input images

/** fal's message for an input URL it could not download. UNCONFIRMED: the exact text. */
export const FILE_DOWNLOAD_MESSAGE =
  'Failed to download the file. Please check if the URL is accessible and try again.';
/** fal's message for downloaded bytes that are not an image it can read. UNCONFIRMED: the exact text. */
export const IMAGE_LOAD_MESSAGE =
  'Failed to load the image. Please ensure the image file is not corrupted and is in a supported format.';
const IMAGE_FETCH_TIMEOUT_MS = 10_000;
/** Long side of generated test images when the size follows an input image or an aspect ratio. */
const TEST_IMAGE_LONG_SIDE = 64;

/** Downloads one input image (or decodes a data URI) and reads its size; never throws. */
async function fetchImage(url: string): Promise<FalImageFetch> {
  const at = Date.now();
  let status = 0;
  let bytes: Buffer | undefined;
  const dataUri = /^data:([^;,]*)(;base64)?,(.*)$/s.exec(url);
  if (dataUri !== null) {
    status = 200;
    bytes = dataUri[2] ? Buffer.from(dataUri[3]!, 'base64') : Buffer.from(decodeURIComponent(dataUri[3]!));
  } else if (/^https?:\/\//.test(url)) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(IMAGE_FETCH_TIMEOUT_MS), redirect: 'follow' });
      status = response.status;
      const received = Buffer.from(await response.arrayBuffer());
      if (response.ok) bytes = received;
    } catch {
      status = 0;
    }
  }
  let meta: { width: number | undefined; height: number | undefined; format: string | undefined } = {
    width: undefined,
    height: undefined,
    format: undefined,
  };
  if (bytes !== undefined && bytes.length > 0) {
    try {
      const m = await sharp(bytes).metadata();
      meta = { width: m.width, height: m.height, format: m.format };
    } catch {
      // Not an image: reported as image_load_error.
    }
  }
  return { url, status, bytes, ...meta, at };
}

/**
 * The size of a job's output images: the plan's when it sets one; the upscaler's input times `scale`; an /edit
 * result at `aspect_ratio` when given (not `auto`), else at the first input image's aspect ratio; else 64x64.
 */
function outputSize(
  spec: EndpointSpec,
  body: Record<string, unknown>,
  plan: FalJobPlan,
  first: FalImageFetch | undefined,
): { width: number; height: number; noise: boolean } {
  if (plan.images !== undefined)
    return { width: plan.images.width, height: plan.images.height, noise: plan.images.noise ?? false };
  const input =
    first?.width !== undefined && first.height !== undefined ? { width: first.width, height: first.height } : undefined;
  if (spec.output === 'upscale') {
    const scale = typeof body['scale'] === 'number' ? body['scale'] : 2;
    const source = input ?? { width: TEST_IMAGE_LONG_SIDE, height: TEST_IMAGE_LONG_SIDE };
    return {
      width: Math.max(1, Math.round(source.width * scale)),
      height: Math.max(1, Math.round(source.height * scale)),
      noise: false,
    };
  }
  if (spec.imageInput !== undefined) {
    const ratio =
      typeof body['aspect_ratio'] === 'string' && body['aspect_ratio'] !== 'auto'
        ? /^(\d+):(\d+)$/.exec(body['aspect_ratio'])
        : null;
    const shape = ratio !== null ? { width: Number(ratio[1]), height: Number(ratio[2]) } : input;
    if (shape !== undefined) {
      const k = TEST_IMAGE_LONG_SIDE / Math.max(shape.width, shape.height);
      return {
        width: Math.max(1, Math.round(shape.width * k)),
        height: Math.max(1, Math.round(shape.height * k)),
        noise: false,
      };
    }
  }
  return { width: TEST_IMAGE_LONG_SIDE, height: TEST_IMAGE_LONG_SIDE, noise: false };
}

function encode(image: sharp.Sharp, format: ImageFormat): Promise<Buffer> {
  if (format === 'jpeg') return image.jpeg({ quality: 90 }).toBuffer();
  if (format === 'webp') return image.webp({ quality: 90 }).toBuffer();
  return image.png().toBuffer();
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
