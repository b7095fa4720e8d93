import { ApiError, ValidationError, createFalClient } from '@fal-ai/client';
import type { FalClient, QueueStatus } from '@fal-ai/client';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FILE_DOWNLOAD_MESSAGE, FakeFal } from './fal.js';
import { PNG_SIGNATURE, encodePng, inspectPng, noisePng, solidPng, testPng } from './png.js';

const PREVIEW = 'fal-ai/imagen4/preview';
const FAST = 'fal-ai/imagen4/preview/fast';

function clientFor(fake: FakeFal, key = fake.key): FalClient {
  return createFalClient({
    credentials: key,
    requestMiddleware: (req) =>
      Promise.resolve({ ...req, url: req.url.replace(/^https:\/\/(queue\.)?fal\.run(?=\/)/, fake.baseUrl) }),
  });
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

interface ImagenOutput {
  images: { url: string; content_type: string; file_name: string; file_size: number; width: number; height: number }[];
  seed: number;
}

/** The client types Imagen 4 output after a newer schema; the fake follows the model's API page. */
function imagen(data: unknown): ImagenOutput {
  return data as ImagenOutput;
}

let fake: FakeFal;
let fal: FalClient;

beforeEach(async () => {
  fake = await FakeFal.start();
  fal = clientFor(fake);
});

afterEach(async () => {
  await fake.close();
});

describe('FakeFal with the real @fal-ai/client', () => {
  it('runs submit -> status -> result, reporting queue positions in order, then serves valid PNGs', async () => {
    fake.enqueuePlan({ queuePositions: [2, 1, 0], progressPolls: 2, images: { width: 48, height: 32 } });
    const { request_id: requestId } = await fal.queue.submit(PREVIEW, {
      input: { prompt: 'a red fox in snow', num_images: 2, seed: 42, aspect_ratio: '16:9', resolution: '2K' },
    });

    const updates: QueueStatus[] = [];
    const done = await fal.queue.subscribeToStatus(PREVIEW, {
      requestId,
      logs: true,
      pollInterval: 5,
      onQueueUpdate: (u) => updates.push(u),
    });
    expect(done.status).toBe('COMPLETED');
    expect(updates.map((u) => u.status)).toEqual([
      'IN_QUEUE',
      'IN_QUEUE',
      'IN_QUEUE',
      'IN_PROGRESS',
      'IN_PROGRESS',
      'COMPLETED',
    ]);
    expect(updates.flatMap((u) => (u.status === 'IN_QUEUE' ? [u.queue_position] : []))).toEqual([2, 1, 0]);
    const lastProgress = updates[4];
    expect(lastProgress?.status === 'IN_PROGRESS' && lastProgress.logs.length).toBe(2);

    const result = await fal.queue.result(PREVIEW, { requestId });
    expect(result.requestId).toBe(requestId);
    const data = imagen(result.data);
    expect(data.seed).toBe(42);
    expect(data.images).toHaveLength(2);

    for (const [index, image] of data.images.entries()) {
      expect(image.url).toBe(fake.imageUrl(requestId, index));
      expect([image.width, image.height, image.content_type]).toEqual([48, 32, 'image/png']);
      const response = await fetch(image.url);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('image/png');
      const bytes = Buffer.from(await response.arrayBuffer());
      expect(Number(response.headers.get('content-length'))).toBe(bytes.length);
      expect(image.file_size).toBe(bytes.length);
      expect(bytes.subarray(0, 8).equals(PNG_SIGNATURE)).toBe(true);
      expect(bytes.readUInt32BE(16)).toBe(48); // IHDR width
      expect(bytes.readUInt32BE(20)).toBe(32); // IHDR height
      expect(inspectPng(bytes)).toMatchObject({ width: 48, height: 32, bitDepth: 8, colorType: 2 });
    }

    const submission = await fake.waitForSubmission(1);
    expect(submission).toMatchObject({
      requestId,
      endpointId: PREVIEW,
      state: 'COMPLETED',
      statusPolls: 6,
      resultFetches: 1,
    });
    expect(submission.headers['x-fal-queue-priority']).toBe('normal');
    expect(submission.input).toMatchObject({ prompt: 'a red fox in snow', num_images: 2 });
    const statusCalls = fake.requests.filter((r) => r.path.endsWith('/status'));
    expect(
      statusCalls.every(
        (r) => r.path === `/fal-ai/imagen4/requests/${requestId}/status` && r.query.get('logs') === '1',
      ),
    ).toBe(true);
  });

  it('supports subscribe() on the fast endpoint with the default plan and a random seed', async () => {
    let enqueued = '';
    const result = await fal.subscribe(FAST, {
      input: { prompt: 'a lighthouse' },
      pollInterval: 5,
      onEnqueue: (id) => {
        enqueued = id;
      },
    });
    expect(result.requestId).toBe(enqueued);
    const data = imagen(result.data);
    expect(data.images).toHaveLength(1);
    expect(data.images[0]).toMatchObject({ width: 64, height: 64 });
    expect(Number.isInteger(data.seed)).toBe(true);
    expect(fake.submissions[0]?.statusPolls).toBe(3); // IN_QUEUE, IN_PROGRESS, COMPLETED
  });

  it('answers a wrong key with 401', async () => {
    const error = await rejection(clientFor(fake, 'wrong:key').queue.submit(PREVIEW, { input: { prompt: 'x' } }));
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError<{ detail: string }>).status).toBe(401);
    expect((error as ApiError<{ detail: string }>).body.detail).toBe('No user found for Key ID and Secret');
    expect(fake.submissions).toHaveLength(0);
  });

  it('rejects resolution on the fast endpoint and other invalid input with pydantic-style 422s', async () => {
    const error = await rejection(fal.queue.submit(FAST, { input: { prompt: 'x', resolution: '2K' } as never }));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).fieldErrors).toEqual([
      expect.objectContaining({ loc: ['body', 'resolution'], type: 'extra_forbidden' }),
    ]);

    const many = (await rejection(
      fal.queue.submit(PREVIEW, {
        input: { num_images: 5, aspect_ratio: '2:1', safety_tolerance: 4, seed: 1.5, style: 'anime' } as never,
      }),
    )) as ValidationError;
    expect(many).toBeInstanceOf(ValidationError);
    expect(many.fieldErrors.map((e) => [e.loc[1], e.type])).toEqual([
      ['prompt', 'missing'],
      ['aspect_ratio', 'enum'],
      ['num_images', 'less_than_equal'],
      ['seed', 'int_from_float'],
      ['safety_tolerance', 'literal_error'],
      ['style', 'extra_forbidden'],
    ]);

    const empty = (await rejection(fal.queue.submit(PREVIEW, { input: { prompt: '' } }))) as ValidationError;
    expect(empty.getFieldErrors('prompt')[0]?.type).toBe('string_too_short');

    const unknown = (await rejection(
      fal.queue.submit('fal-ai/imagen3', { input: { prompt: 'x' } }),
    )) as ApiError<unknown>;
    expect(unknown.status).toBe(404);
    expect(fake.submissions).toHaveLength(0);
  });

  it('flags [[unsafe]] prompts at result time and [[unsafe-at-submit]] at submit', async () => {
    const atResult = (await rejection(
      fal.subscribe(PREVIEW, { input: { prompt: 'something [[unsafe]]' }, pollInterval: 5 }),
    )) as ValidationError;
    expect(atResult).toBeInstanceOf(ValidationError);
    expect(atResult.status).toBe(422);
    expect(atResult.fieldErrors[0]).toMatchObject({ loc: ['body', 'prompt'], type: 'content_policy_violation' });
    expect(fake.submissions[0]?.state).toBe('COMPLETED');

    const atSubmit = (await rejection(
      fal.queue.submit(PREVIEW, { input: { prompt: 'x [[unsafe-at-submit]]' } }),
    )) as ValidationError;
    expect(atSubmit).toBeInstanceOf(ValidationError);
    expect(atSubmit.fieldErrors[0]?.type).toBe('content_policy_violation');
    expect(fake.submissions).toHaveLength(1);
  });

  it('holds a job in the queue until cancelled', async () => {
    fake.enqueuePlan({ hold: true, queuePositions: [3, 1] });
    const { request_id: requestId } = await fal.queue.submit(PREVIEW, { input: { prompt: 'held' } });
    const positions: number[] = [];
    const watching = fal.queue.subscribeToStatus(PREVIEW, {
      requestId,
      pollInterval: 5,
      onQueueUpdate: (u) => {
        if (u.status === 'IN_QUEUE') positions.push(u.queue_position);
      },
    });
    const submission = await fake.waitForSubmission();
    await fake.waitForRequest(() => submission.statusPolls >= 4);
    expect(submission.state).toBe('IN_QUEUE');

    await fal.queue.cancel(PREVIEW, { requestId });
    expect(submission).toMatchObject({ state: 'CANCELLED', cancelled: true });
    const final = (await watching) as QueueStatus & { error?: string };
    expect(final.status).toBe('COMPLETED');
    expect(final.error).toBe('Request was cancelled');
    expect(positions.slice(0, 4)).toEqual([3, 1, 1, 1]);

    const result = (await rejection(fal.queue.result(PREVIEW, { requestId }))) as ApiError<unknown>;
    expect(result.status).toBe(400);
    const again = (await rejection(fal.queue.cancel(PREVIEW, { requestId }))) as ApiError<{ status: string }>;
    expect([again.status, again.body.status]).toEqual([400, 'ALREADY_COMPLETED']);
    const missing = (await rejection(fal.queue.cancel(PREVIEW, { requestId: 'nope' }))) as ApiError<{ status: string }>;
    expect([missing.status, missing.body.status]).toEqual([404, 'NOT_FOUND']);
  });

  it('lets a held job continue after release, and cannot cancel it once completed', async () => {
    fake.enqueuePlan({ hold: true });
    const { request_id: requestId } = await fal.queue.submit(PREVIEW, { input: { prompt: 'held' } });
    const watching = fal.queue.subscribeToStatus(PREVIEW, { requestId, pollInterval: 5 });
    const submission = await fake.waitForSubmission();
    await fake.waitForRequest(() => submission.statusPolls >= 3);
    fake.release(requestId);
    expect((await watching).status).toBe('COMPLETED');
    expect(imagen((await fal.queue.result(PREVIEW, { requestId })).data).images).toHaveLength(1);
    const late = (await rejection(fal.queue.cancel(PREVIEW, { requestId }))) as ApiError<{ status: string }>;
    expect([late.status, late.body.status]).toEqual([400, 'ALREADY_COMPLETED']);
  });

  it('recovers from one injected status 500 through the client retry (about 1 s of backoff)', async () => {
    fake.enqueuePlan({ statusError: { status: 500, body: { detail: 'Internal Server Error' }, times: 1 } });
    const result = await fal.subscribe(PREVIEW, { input: { prompt: 'retry me' }, pollInterval: 5 });
    expect(imagen(result.data).images).toHaveLength(1);
    const statuses = fake.requests.filter((r) => r.path.endsWith('/status')).map((r) => r.status);
    expect(statuses).toEqual([500, 202, 202, 200]);
  });

  it('serves plan and failNext errors verbatim', async () => {
    const locked = 'User is locked. Reason: Exhausted balance. Top up your balance at fal.ai/dashboard/billing.';
    fake.enqueuePlan({ submitError: { status: 403, body: { detail: locked } } });
    const forbidden = (await rejection(fal.queue.submit(PREVIEW, { input: { prompt: 'x' } }))) as ApiError<{
      detail: string;
    }>;
    expect([forbidden.status, forbidden.body.detail]).toEqual([403, locked]);
    expect(fake.submissions).toHaveLength(0);

    const { request_id: requestId } = await fal.queue.submit(PREVIEW, { input: { prompt: 'x' } });
    fake.failNext((method, path) => method === 'GET' && path.endsWith('/status'), {
      status: 401,
      body: { detail: 'injected' },
      headers: { 'X-Fal-Error-Type': 'test_error' },
    });
    const injected = (await rejection(fal.queue.status(PREVIEW, { requestId }))) as ApiError<{ detail: string }>;
    expect([injected.status, injected.body.detail]).toEqual([401, 'injected']);
    const recorded = await fake.waitForRequest((r) => r.status === 401 && r.path.endsWith('/status'));
    expect(recorded.query.get('logs')).toBe('0');
    expect((await fal.queue.status(PREVIEW, { requestId })).status).toBe('IN_QUEUE');
  });

  it('fails image downloads as planned, and answers result 400 before completion', async () => {
    fake.enqueuePlan({
      imageError: { status: 404, indexes: [1] },
      resultError: { status: 400, body: { detail: 'nope' }, times: 1 },
    });
    const { request_id: requestId } = await fal.queue.submit(PREVIEW, { input: { prompt: 'x', num_images: 2 } });
    const early = (await rejection(fal.queue.result(PREVIEW, { requestId }))) as ApiError<{ detail: string }>;
    expect([early.status, early.body.detail]).toEqual([400, 'Request is still in progress']);
    await fal.queue.subscribeToStatus(PREVIEW, { requestId, pollInterval: 5 });
    expect(((await rejection(fal.queue.result(PREVIEW, { requestId }))) as ApiError<unknown>).status).toBe(400);
    const data = imagen((await fal.queue.result(PREVIEW, { requestId })).data);
    expect((await fetch(data.images[0]!.url)).status).toBe(200);
    expect((await fetch(data.images[1]!.url)).status).toBe(404);
  });

  it('streams the same statuses in streaming mode', async () => {
    fake.enqueuePlan({ queuePositions: [1, 0], progressPolls: 1 });
    const { request_id: requestId } = await fal.queue.submit(PREVIEW, { input: { prompt: 'x' } });
    const seen: string[] = [];
    const done = await fal.queue.subscribeToStatus(PREVIEW, {
      requestId,
      mode: 'streaming',
      onQueueUpdate: (u) => seen.push(u.status),
    });
    expect(done.status).toBe('COMPLETED');
    expect(seen).toEqual(['IN_QUEUE', 'IN_QUEUE', 'IN_PROGRESS', 'COMPLETED']);
  });
});

describe('FakeFal status stream', () => {
  /** Resolves with the statuses seen so far once `count` have arrived. */
  function collect(stream: Awaited<ReturnType<FalClient['queue']['streamStatus']>>) {
    const seen: string[] = [];
    const waiters: Array<{ count: number; resolve: () => void }> = [];
    stream.on('data', (status: QueueStatus) => {
      seen.push(status.status);
      for (const w of waiters.filter((w) => seen.length >= w.count)) w.resolve();
    });
    return {
      seen,
      until: (count: number) =>
        new Promise<void>((resolve) => (seen.length >= count ? resolve() : waiters.push({ count, resolve }))),
    };
  }

  it('pushes a held job the moment it is released, and a holdRunning job the moment it is finished', async () => {
    fake.enqueuePlan({ queuePositions: [1], hold: true, holdRunning: true, progressPolls: 1 });
    const { request_id: requestId } = await fal.queue.submit(PREVIEW, { input: { prompt: 'x' } });
    const stream = await fal.queue.streamStatus(PREVIEW, { requestId });
    const events = collect(stream);
    await events.until(1);
    expect(events.seen).toEqual(['IN_QUEUE']);
    fake.release(requestId);
    await events.until(2);
    expect(events.seen).toEqual(['IN_QUEUE', 'IN_PROGRESS']);
    fake.finish(requestId);
    const done = await stream.done();
    expect(done.status).toBe('COMPLETED');
    expect(events.seen).toEqual(['IN_QUEUE', 'IN_PROGRESS', 'COMPLETED']);
    expect(fake.submissions[0]?.statusPolls).toBe(1);
  });

  it('parks a holdRunning job at IN_PROGRESS for polls too, until finished', async () => {
    fake.enqueuePlan({ queuePositions: [0], holdRunning: true, progressPolls: 1 });
    const { request_id: requestId } = await fal.queue.submit(PREVIEW, { input: { prompt: 'x' } });
    const statuses = [];
    for (let i = 0; i < 4; i += 1) statuses.push((await fal.queue.status(PREVIEW, { requestId })).status);
    expect(statuses).toEqual(['IN_QUEUE', 'IN_PROGRESS', 'IN_PROGRESS', 'IN_PROGRESS']);
    fake.finish(requestId);
    expect((await fal.queue.status(PREVIEW, { requestId })).status).toBe('COMPLETED');
  });

  it("ends a cancelled job's stream with COMPLETED at once", async () => {
    fake.enqueuePlan({ queuePositions: [2], hold: true });
    const { request_id: requestId } = await fal.queue.submit(PREVIEW, { input: { prompt: 'x' } });
    const stream = await fal.queue.streamStatus(PREVIEW, { requestId });
    const events = collect(stream);
    await events.until(1);
    await fal.queue.cancel(PREVIEW, { requestId });
    expect((await stream.done()).status).toBe('COMPLETED');
  });

  it.each(['end', 'drop'] as const)('cuts a stream (%s) after the planned events; the job goes on', async (how) => {
    fake.enqueuePlan({ queuePositions: [1], hold: true });
    fake.cutNextStream({ afterEvents: 1, how });
    const { request_id: requestId } = await fal.queue.submit(PREVIEW, { input: { prompt: 'x' } });
    const stream = await fal.queue.streamStatus(PREVIEW, { requestId });
    const events = collect(stream);
    if (how === 'end') expect((await stream.done()).status).toBe('IN_QUEUE');
    else await expect(stream.done()).rejects.toBeInstanceOf(ApiError);
    expect(events.seen).toEqual(['IN_QUEUE']);
    fake.release(requestId);
    const again = await fal.queue.streamStatus(PREVIEW, { requestId });
    expect((await again.done()).status).toBe('COMPLETED');
  });
});

describe('png', () => {
  it('encodes valid PNGs of the requested size', () => {
    const gradient = encodePng(7, 5, (x, y) => [x * 30, y * 50, 128]);
    expect(inspectPng(gradient)).toEqual({
      width: 7,
      height: 5,
      bitDepth: 8,
      colorType: 2,
      chunks: ['IHDR', 'IDAT', 'IEND'],
    });
    expect(inspectPng(solidPng(1, 1, [0, 0, 0])).width).toBe(1);
    const corrupt = Buffer.from(gradient);
    corrupt.writeUInt8(corrupt[corrupt.length - 13]! ^ 0xff, corrupt.length - 13);
    expect(() => inspectPng(corrupt)).toThrow();
  });

  it('makes noise incompressible and caches test images', () => {
    const noise = noisePng(128, 128);
    expect(noise.length).toBeGreaterThan(128 * 128 * 3);
    expect(inspectPng(noise).width).toBe(128);
    expect(testPng(300, 200, { noise: true })).toBe(testPng(300, 200, { noise: true }));
    expect(testPng(64, 64, { variant: 1 }).equals(testPng(64, 64, { variant: 2 }))).toBe(false);
  });
});

describe('FakeFal serves the Gemini models as fal publishes them', () => {
  const NB2 = 'fal-ai/nano-banana-2';
  const PRO = 'fal-ai/nano-banana-pro';

  it("validates each endpoint's own input: enums, ranges and fields differ per model", async () => {
    const pro = (await rejection(
      fal.queue.submit(PRO, {
        input: { prompt: 'x', resolution: '0.5K', aspect_ratio: '8:1', thinking_level: 'high', num_images: 0 } as never,
      }),
    )) as ValidationError;
    expect(pro.fieldErrors.map((e) => [e.loc[1], e.type])).toEqual([
      ['num_images', 'greater_than_equal'],
      ['aspect_ratio', 'literal_error'],
      ['resolution', 'literal_error'],
      ['thinking_level', 'extra_forbidden'],
    ]);
    const nb2 = (await rejection(
      fal.queue.submit(NB2, { input: { prompt: 'x', negative_prompt: 'y', enable_web_search: 'yes' } as never }),
    )) as ValidationError;
    expect(nb2.fieldErrors.map((e) => [e.loc[1], e.type])).toEqual([
      ['enable_web_search', 'bool_type'],
      ['negative_prompt', 'extra_forbidden'],
    ]);
    const edit = (await rejection(
      fal.queue.submit('fal-ai/nano-banana-2/edit', { input: { prompt: 'x' } as never }),
    )) as ValidationError;
    expect(edit.fieldErrors.map((e) => [e.loc[1], e.type])).toEqual([['image_urls', 'missing']]);
    // What the Gemini models take and Imagen 4 does not: 0.5K and 4K, the extreme ratios, thinking.
    const ok = await fal.queue.submit(NB2, {
      input: { prompt: 'x', resolution: '0.5K', aspect_ratio: '8:1', thinking_level: 'high' },
    });
    expect(ok.request_id).toBeTruthy();
    expect(fake.submissions).toHaveLength(1);
  });

  it('returns {images, description} without a seed, under the model’s own app path', async () => {
    const { data } = await fal.subscribe(NB2, { input: { prompt: 'x', num_images: 2, seed: 3 }, pollInterval: 5 });
    expect(Object.keys(data).sort()).toEqual(['description', 'images']);
    expect(data.images).toHaveLength(2);
    const statusPaths = fake.requests.filter((r) => r.path.endsWith('/status')).map((r) => r.path);
    expect(statusPaths.every((path) => path.startsWith('/fal-ai/nano-banana-2/requests/'))).toBe(true);
    // A request is known only under the app it was submitted to.
    const id = fake.submissions[0]!.requestId;
    expect(
      ((await rejection(fal.queue.status('fal-ai/imagen4/preview', { requestId: id }))) as ApiError<unknown>).status,
    ).toBe(404);
  });

  it('serves PNG, JPEG or WebP bytes as output_format asks, with fewer images than asked when planned', async () => {
    for (const [format, contentType, magic] of [
      ['jpeg', 'image/jpeg', (b: Buffer) => b[0] === 0xff && b[1] === 0xd8],
      ['webp', 'image/webp', (b: Buffer) => b.toString('latin1', 8, 12) === 'WEBP'],
      ['png', 'image/png', (b: Buffer) => b.subarray(0, 8).equals(PNG_SIGNATURE)],
    ] as const) {
      fake.enqueuePlan({ imagesReturned: 1 });
      const { data } = await fal.subscribe(PRO, {
        input: { prompt: 'x', num_images: 3, output_format: format },
        pollInterval: 5,
      });
      expect(data.images).toHaveLength(1);
      expect(data.images[0]?.content_type).toBe(contentType);
      const bytes = Buffer.from(await (await fetch(data.images[0]!.url)).arrayBuffer());
      expect(magic(bytes), format).toBe(true);
      expect(bytes.length).toBe(data.images[0]?.file_size);
    }
  });

  it('answers a submit to a retired endpoint with 404 "Application not found", and keeps the others', async () => {
    fake.retire(PREVIEW);
    const gone = (await rejection(fal.queue.submit(PREVIEW, { input: { prompt: 'x' } }))) as ApiError<{
      detail: string;
    }>;
    expect(gone.status).toBe(404);
    expect(gone.body.detail).toBe('Application not found');
    expect((await fal.queue.submit(NB2, { input: { prompt: 'x' } })).request_id).toBeTruthy();
  });
});

describe('FakeFal fetches input images like fal: the /edit endpoints and the upscaler', () => {
  const EDIT = 'fal-ai/nano-banana-2/edit';
  const ESRGAN = 'fal-ai/esrgan';
  let images: Server;
  let imagesBase: string;
  /** What the loopback image host serves, by path; anything else is a 404. */
  const served = new Map<string, { type: string; bytes: Buffer }>();

  beforeEach(async () => {
    served.clear();
    images = createServer((req, res) => {
      const file = served.get(req.url ?? '');
      if (file === undefined)
        res.writeHead(404, { 'content-type': 'text/plain' }).end('This content is no longer available.');
      else res.writeHead(200, { 'content-type': file.type }).end(file.bytes);
    });
    await new Promise<void>((resolve) => images.listen(0, '127.0.0.1', () => resolve()));
    imagesBase = `http://127.0.0.1:${(images.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    images.closeAllConnections();
    await new Promise<void>((resolve) => images.close(() => resolve()));
  });

  function host(path: string, bytes: Buffer, type = 'image/png'): string {
    served.set(path, { type, bytes });
    return `${imagesBase}${path}`;
  }

  it("downloads every image_urls entry before accepting the submit, keeps the bytes, and answers at the first image's aspect ratio", async () => {
    const wide = testPng(96, 48, { variant: 1 });
    const square = testPng(40, 40, { variant: 2 });
    const urls = [host('/wide.png', wide), host('/square.png', square)];
    const { data, requestId } = await fal.subscribe(EDIT, {
      input: { prompt: 'make the sky purple', image_urls: urls },
      pollInterval: 5,
    });

    const submission = fake.submissions[0]!;
    expect(submission.requestId).toBe(requestId);
    expect(submission.fetchedImages.map((f) => [f.url, f.status, f.width, f.height, f.format])).toEqual([
      [urls[0], 200, 96, 48, 'png'],
      [urls[1], 200, 40, 40, 'png'],
    ]);
    expect(submission.fetchedImages[0]!.bytes!.equals(wide)).toBe(true);
    expect(submission.fetchedImages[1]!.bytes!.equals(square)).toBe(true);
    expect(Object.keys(data).sort()).toEqual(['description', 'images']);
    expect([data.images[0]!.width, data.images[0]!.height]).toEqual([64, 32]);
    const served64 = inspectPng(Buffer.from(await (await fetch(data.images[0]!.url)).arrayBuffer()));
    expect([served64.width, served64.height]).toEqual([64, 32]);

    // An aspect ratio the member asked for wins over the image's.
    const { data: tall } = await fal.subscribe('fal-ai/nano-banana-pro/edit', {
      input: { prompt: 'x', image_urls: [urls[0]!], aspect_ratio: '9:16' },
      pollInterval: 5,
    });
    expect([tall.images[0]!.width, tall.images[0]!.height]).toEqual([36, 64]);
  });

  it('accepts the bytes as a data URI, which needs no download', async () => {
    const png = testPng(30, 60, { variant: 3 });
    const { data } = await fal.subscribe(EDIT, {
      input: { prompt: 'x', image_urls: [`data:image/png;base64,${png.toString('base64')}`] },
      pollInterval: 5,
    });
    expect(fake.submissions[0]!.fetchedImages[0]!.bytes!.equals(png)).toBe(true);
    expect([data.images[0]!.width, data.images[0]!.height]).toEqual([32, 64]);
  });

  it('refuses a submit whose image cannot be downloaded or is not an image, with file errors per image', async () => {
    const good = host('/ok.png', testPng(8, 8));
    const text = host('/notes.txt', Buffer.from('not an image'), 'text/plain');
    const error = (await rejection(
      fal.queue.submit(EDIT, {
        input: { prompt: 'x', image_urls: [good, `${imagesBase}/expired.png`, text, 'ftp://example.com/a.png'] },
      }),
    )) as ValidationError;
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.status).toBe(422);
    expect(error.fieldErrors.map((e) => [e.loc, e.type])).toEqual([
      [['body', 'image_urls', 1], 'file_download_error'],
      [['body', 'image_urls', 2], 'image_load_error'],
      [['body', 'image_urls', 3], 'file_download_error'],
    ]);
    expect(error.fieldErrors[0]?.msg).toBe(FILE_DOWNLOAD_MESSAGE);
    expect(fake.submissions).toHaveLength(0);
    expect(fake.imageFetches.map((f) => f.status)).toEqual([200, 404, 200, 0]);
    // The plan was not used up by the refused attempt.
    fake.enqueuePlan({ imagesReturned: 1 });
    await fal.queue.submit(EDIT, { input: { prompt: 'x', image_urls: [good], num_images: 2 } });
    expect(fake.submissions[0]!.plan.imagesReturned).toBe(1);
  });

  it("can instead accept the job and fail its result, as fal's runner may", async () => {
    fake.imageFetchErrorAt = 'result';
    const { request_id: requestId } = await fal.queue.submit(ESRGAN, {
      input: { image_url: `${imagesBase}/gone.png` },
    });
    await fal.queue.subscribeToStatus(ESRGAN, { requestId, pollInterval: 5 });
    const error = (await rejection(fal.queue.result(ESRGAN, { requestId }))) as ValidationError;
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.fieldErrors.map((e) => [e.loc, e.type])).toEqual([[['body', 'image_url'], 'file_download_error']]);
    expect(fake.submissions[0]!.fetchedImages[0]!.status).toBe(404);
  });

  it('upscales the fetched image by scale, in the requested format, as {image}', async () => {
    const source = testPng(50, 30, { variant: 4 });
    const url = host('/source.png', source);
    const { data } = await fal.subscribe(ESRGAN, {
      input: { image_url: url, scale: 2, output_format: 'jpeg' },
      pollInterval: 5,
    });
    expect(Object.keys(data)).toEqual(['image']);
    expect(data.image).toMatchObject({ width: 100, height: 60, content_type: 'image/jpeg' });
    const bytes = Buffer.from(await (await fetch(data.image.url)).arrayBuffer());
    const meta = await sharp(bytes).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 100, 60]);
    expect(bytes.length).toBe(data.image.file_size);
    expect(fake.submissions[0]!.fetchedImages[0]!.bytes!.equals(source)).toBe(true);

    // fal's defaults: scale 2, PNG.
    const { data: byDefault } = await fal.subscribe(ESRGAN, { input: { image_url: url }, pollInterval: 5 });
    expect(byDefault.image).toMatchObject({ width: 100, height: 60, content_type: 'image/png' });
    const png = inspectPng(Buffer.from(await (await fetch(byDefault.image.url)).arrayBuffer()));
    expect([png.width, png.height]).toEqual([100, 60]);
  });

  it("validates the upscaler's input as fal publishes it: no WebP, no prompt, a number scale", async () => {
    const url = host('/source.png', testPng(8, 8));
    const error = (await rejection(
      fal.queue.submit(ESRGAN, {
        input: { image_url: url, output_format: 'webp', scale: 'big', prompt: 'x' } as never,
      }),
    )) as ValidationError;
    expect(error.fieldErrors.map((e) => [e.loc[1], e.type])).toEqual([
      ['scale', 'float_type'],
      ['output_format', 'enum'],
      ['prompt', 'extra_forbidden'],
    ]);
    const missing = (await rejection(fal.queue.submit(ESRGAN, { input: {} as never }))) as ValidationError;
    expect(missing.fieldErrors.map((e) => [e.loc[1], e.type])).toEqual([['image_url', 'missing']]);
    expect(fake.imageFetches).toHaveLength(0);
  });
});
