import type { FalClient, QueueStatus } from '@fal-ai/client';
import { describeFalError } from './errors.js';
import type { Logger, LogContext } from '../logger.js';

export interface FollowStatusOptions {
  readonly requestId: string;
  /** Status poll interval once the stream is refused or broken (FAL_POLL_INTERVAL_MS). */
  readonly pollIntervalMs: number;
  /** Stops following: the promise rejects with the signal's reason. */
  readonly signal: AbortSignal;
  readonly onUpdate: (status: QueueStatus) => void;
  readonly logger: Logger;
  readonly context: LogContext;
}

/** How the end of a job was learnt. */
export type FollowedBy = 'stream' | 'polling';

/**
 * Resolves once fal says the request is COMPLETED (which includes failed requests: the result call tells),
 * reporting every status on the way. It follows fal's status stream (`GET .../requests/{id}/status/stream`,
 * server-sent events): fal pushes each change, so a finished job is known at once instead of half a poll
 * interval later on average (500 ms at the default 1 s), with one request for the whole wait instead of one
 * per interval. When the stream is refused or ends before COMPLETED (a proxy that cuts long requests, a
 * restart at fal), it goes on by polling every `pollIntervalMs`, starting at once. Nothing is ever submitted
 * here: following a saved request id is what resume after a restart does.
 *
 * The stream is opened with `queue.streamStatus` rather than `subscribeToStatus({ mode: 'streaming' })`: the
 * latter ignores `abortSignal`, resolves as if done when the connection closes early, and its `timeout` throws
 * from a timer (see https://docs.fal.ai/model-endpoints/queue and @fal-ai/client's queue.ts).
 */
export async function followStatus(
  fal: FalClient,
  endpointId: string,
  options: FollowStatusOptions,
): Promise<FollowedBy> {
  const { requestId, signal, onUpdate, logger, context } = options;
  const streamed = await followStream(fal, endpointId, requestId, signal, onUpdate);
  if (streamed.completed) return 'stream';
  logger.info('fal status stream unavailable, polling instead', {
    ...context,
    falRequestId: requestId,
    detail: streamed.why,
  });
  await fal.queue.subscribeToStatus(endpointId, {
    requestId,
    pollInterval: options.pollIntervalMs,
    abortSignal: signal,
    logs: false,
    onQueueUpdate: onUpdate,
  });
  signal.throwIfAborted();
  return 'polling';
}

const STATUSES = new Set(['IN_QUEUE', 'IN_PROGRESS', 'COMPLETED']);

async function followStream(
  fal: FalClient,
  endpointId: string,
  requestId: string,
  signal: AbortSignal,
  onUpdate: (status: QueueStatus) => void,
): Promise<{ completed: true } | { completed: false; why: string }> {
  signal.throwIfAborted();
  let stream: Awaited<ReturnType<FalClient['queue']['streamStatus']>>;
  try {
    stream = await fal.queue.streamStatus(endpointId, { requestId, logs: false });
  } catch (error) {
    signal.throwIfAborted();
    return { completed: false, why: describeFalError(error) };
  }
  const abort = (): void => stream.abort();
  signal.addEventListener('abort', abort, { once: true });
  if (signal.aborted) abort();
  let completed = false;
  stream.on('data', (status: QueueStatus) => {
    // An event that is not a status (fal adding something) is not a reason to drop the stream.
    if (completed || typeof status !== 'object' || status === null || !STATUSES.has(status.status)) return;
    if (status.status === 'COMPLETED') completed = true;
    onUpdate(status);
  });
  try {
    await stream.done();
  } catch (error) {
    signal.throwIfAborted();
    if (completed) return { completed: true };
    return { completed: false, why: describeFalError(error) };
  } finally {
    signal.removeEventListener('abort', abort);
  }
  signal.throwIfAborted();
  return completed ? { completed: true } : { completed: false, why: 'the stream ended before COMPLETED' };
}
