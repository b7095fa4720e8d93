import type { FalClient, QueueStatus } from '@fal-ai/client';
import { describeFalError, isModelGone } from '../fal/errors.js';
import { followStatus } from '../fal/followStatus.js';
import { submitJob } from '../fal/submit.js';
import { estimateCost, type PriceTable } from '../limits/pricing.js';
import { errorContext, type Logger } from '../logger.js';
import type { SafetyTolerance } from '../models/fields.js';
import { billedAs, falEndpoint, requestBody } from '../models/operations.js';
import type { GenerationMetrics } from '../metrics/botMetrics.js';
import type { Semaphore } from '../shared/semaphore.js';
import type { Generation, GenerationStore } from '../store/generations.js';
import { downloadResultImages, type DownloadLimits } from './downloads.js';
import {
  DeliveryFailed,
  DownloadFailed,
  JobStopped,
  ModelGone,
  ModelUnavailable,
  failureOf,
  logFailure,
  mayHaveBeenBilled,
} from './failures.js';
import type { ProgressThrottle } from './progressThrottle.js';
import type { ImageLocator, Progress, ReplyTarget } from './types.js';

/**
 * "Fetching the images" is shown only once fetching (or waiting for a delivery slot) takes this long. Shown at
 * once, that edit would usually still be in flight when the images are ready, and a reply's edits reach
 * Discord one at a time: every quick result would wait one more round trip.
 */
const DOWNLOAD_NOTICE_MS = 1000;

/** fal's own default safety tolerance, for rows that never stored one. */
const FAL_DEFAULT_TOLERANCE: SafetyTolerance = '4';

export interface PipelineOptions {
  readonly store: GenerationStore;
  readonly fal: FalClient;
  readonly logger: Logger;
  readonly target: ReplyTarget;
  /** Where the images an action starts from can be fetched by fal now. */
  readonly images: ImageLocator;
  readonly pollIntervalMs: number;
  readonly jobTimeoutMs: number;
  readonly download: DownloadLimits;
  readonly prices: PriceTable;
  /** Bounds how many jobs hold image bytes at once (the bot's memory peak). */
  readonly deliverySlots: Semaphore;
  readonly now: () => number;
  readonly metrics?: GenerationMetrics | undefined;
}

/** What the pipeline needs of one job: its row, the signal that stops it, and where its progress goes. */
export interface RunningJob {
  readonly generation: Generation;
  readonly controller: AbortController;
  readonly progress: ProgressThrottle<Progress>;
}

/**
 * One job at fal, from submit to posted images: submit (the request id saved at once), follow its status, fetch
 * the result, download the images and hand them to the reply target. Every ending, good or bad, reaches the
 * member and leaves the row in a final state, except a shutdown, which leaves it for the next start to resume.
 */
export async function runGeneration(job: RunningJob, options: PipelineOptions): Promise<void> {
  const { store, logger, fal, target, now } = options;
  const { generation, progress, controller } = job;
  const signal = controller.signal;
  const context = { generation: generation.id, model: generation.modelId };
  const timer = setTimeout(
    () => controller.abort(new JobStopped('timeout')),
    Math.max(0, (generation.submittedAt ?? now()) + options.jobTimeoutMs - now()),
  );
  let requestId = generation.falRequestId;
  let running = generation.status === 'running';
  let statusWrite: Promise<void> = Promise.resolve();
  let downloadNotice: NodeJS.Timeout | undefined;
  const endpoint = falEndpoint(generation.modelId, generation.action);
  // Metrics name what fal ran (the upscaler for an upscale), as pricing does.
  const metricsModel = billedAs(generation.modelId, generation.action);
  const falClock = options.metrics?.falClock(metricsModel, now);
  try {
    signal.throwIfAborted();
    if (!endpoint) throw new ModelUnavailable();
    if (!requestId) {
      progress.push({ phase: 'submitting' });
      if (generation.status === 'pending') {
        // A previous process sent this job and stopped before saving fal's answer: fal may already have it.
        logger.warn('resubmitting a job whose earlier submit got no saved answer: fal may run it twice', context);
      }
      const input = await falInput(generation, options);
      requestId = await submitJob(fal, endpoint.endpointId, input, signal).catch((error: unknown) => {
        // A 404 at submit means fal no longer serves the endpoint: the model is gone, not this job.
        throw isModelGone(error) ? new ModelGone(endpoint.endpointId, error) : error;
      });
      // Nothing else is awaited between fal's answer and this write: a crash between them is the only way to lose
      // the request id.
      await store.markSubmitted(generation.id, requestId, now());
      falClock?.submitted();
      logger.info('submitted to fal', { ...context, falRequestId: requestId });
    }
    await followStatus(fal, endpoint.endpointId, {
      requestId,
      pollIntervalMs: options.pollIntervalMs,
      signal,
      logger,
      context,
      onUpdate: (status: QueueStatus) => {
        falClock?.status(status.status);
        if (status.status === 'IN_QUEUE') {
          progress.push({ phase: 'queued', position: status.queue_position });
        } else if (status.status === 'IN_PROGRESS') {
          if (!running) {
            statusWrite = store.setStatus(generation.id, 'running').then(
              () => undefined,
              (error: unknown) => {
                logger.warn('could not record that fal started the job', { ...context, ...errorContext(error) });
              },
            );
          }
          running = true;
          progress.push({ phase: 'running' });
        }
      },
    });
    falClock?.status('COMPLETED');
    const result = await fal.queue.result(endpoint.endpointId, { requestId, abortSignal: signal });
    const output = { images: endpoint.readImages(result.data) };
    downloadNotice = setTimeout(() => {
      if (!signal.aborted) progress.push({ phase: 'downloading' });
    }, DOWNLOAD_NOTICE_MS);
    const delivered = await options.deliverySlots.run(async () => {
      const images = await downloadResultImages(generation.id, output.images, {
        limits: options.download,
        signal,
        logger,
        context,
      });
      if (images.length === 0) throw new DownloadFailed();
      await statusWrite;
      // Another process took the job over (this one stalled past its lease): it delivers, not this one.
      if (!(await store.setStatus(generation.id, 'delivering'))) {
        controller.abort(new JobStopped('shutdown'));
        signal.throwIfAborted();
      }
      clearTimeout(downloadNotice);
      await progress.stop();
      try {
        const messageId = await target.deliver(generation, images, output.images.length - images.length);
        return { messageId, count: images.length };
      } catch (error) {
        throw new DeliveryFailed(error);
      }
    });
    // fal bills the images it returned, which may be fewer than asked; the member's quota counts those delivered.
    const costUsd = estimateCost(
      options.prices,
      generation.modelId,
      generation.input.resolution,
      output.images.length,
      generation.action,
    );
    await store.markDone(generation.id, delivered.messageId, delivered.count, costUsd, now());
    options.metrics?.jobEnded(metricsModel, generation.action, 'done', costUsd);
    logger.info('generation delivered', { ...context, falRequestId: requestId, images: delivered.count });
  } catch (error) {
    await progress.stop();
    if (signal.reason instanceof JobStopped && signal.reason.reason === 'shutdown') {
      logger.info('left for the next start to resume', { ...context, falRequestId: requestId });
      return;
    }
    const failure = failureOf(error, signal, generation.action);
    if (requestId && (failure.kind === 'cancelled' || failure.kind === 'timeout')) {
      await fal.queue.cancel(endpoint?.endpointId ?? '', { requestId }).catch((cancelError: unknown) => {
        logger.warn('fal did not accept the cancel', {
          ...context,
          falRequestId: requestId,
          detail: describeFalError(cancelError),
        });
      });
    }
    // A submit fal may have stored is not retried (../fal/submit.ts); fal may still run and bill it.
    const billed = mayHaveBeenBilled(failure, error, running);
    // The row first: the log line then tells of a settled fact (an operator, or a test, may act on it at once).
    await statusWrite;
    await store.markFailed(
      generation.id,
      failure.kind === 'cancelled' ? 'cancelled' : 'failed',
      failure.kind,
      now(),
      billed,
    );
    logFailure(logger, failure, error, { ...context, falRequestId: requestId });
    options.metrics?.jobEnded(metricsModel, generation.action, failure.kind, billed ? generation.costUsd : 0);
    await target.fail(generation, failure).catch((replyError: unknown) => {
      logger.error('could not tell the member their generation failed', { ...context, ...errorContext(replyError) });
    });
  } finally {
    clearTimeout(timer);
    clearTimeout(downloadNotice);
  }
}

/**
 * The exact body sent to fal (models/operations.ts): the member's stored options checked against the endpoint's
 * schema, the output format that fits this destination, the safety tolerance stored when the job was admitted,
 * and fresh URLs of the images it starts from.
 */
async function falInput(generation: Generation, options: PipelineOptions): Promise<Record<string, unknown>> {
  const imageUrls = generation.imageRefs.length > 0 ? await options.images.urls(generation.imageRefs) : [];
  const source = generation.imageRefs[0];
  const recorded =
    generation.action === 'upscale' && source?.type === 'result'
      ? (await options.store.resultImages(source.generationId)).find((image) => image.index === source.index)
      : undefined;
  return requestBody(generation.modelId, generation.action, generation.input, {
    safetyTolerance: generation.safetyTolerance ?? FAL_DEFAULT_TOLERANCE,
    imageUrls,
    budget: options.target.uploadBudget?.(generation),
    source: recorded?.width && recorded.height ? { width: recorded.width, height: recorded.height } : undefined,
  });
}
