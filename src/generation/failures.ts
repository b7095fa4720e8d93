import { classifyFalError, describeFalError } from '../fal/errors.js';
import { maybeReceivedByFal } from '../fal/submit.js';
import { errorContext, type LogContext, type Logger } from '../logger.js';
import type { GenerationAction } from '../models/operations.js';
import type { Failure } from './types.js';

/** Why a job's abort signal fired: the requester cancelled, the time limit passed, or the bot is stopping. */
export class JobStopped extends Error {
  constructor(readonly reason: 'cancelled' | 'timeout' | 'shutdown') {
    super(`job stopped: ${reason}`);
    this.name = 'JobStopped';
  }
}

/** The generation's model is not in the catalog (a row from a version that had it). */
export class ModelUnavailable extends Error {
  override readonly name = 'ModelUnavailable';
}

/** fal answered the submit with 404 / "application not found": it no longer serves this endpoint. */
export class ModelGone extends Error {
  override readonly name = 'ModelGone';
  constructor(
    readonly endpointId: string,
    cause: unknown,
  ) {
    super(`fal no longer serves ${endpointId}`, { cause });
  }
}

/** An image a generation starts from is not on Discord any more (e.g. its message was deleted). */
export class ImageUnavailable extends Error {
  override readonly name = 'ImageUnavailable';
}

/** None of the result's images could be downloaded from fal. */
export class DownloadFailed extends Error {
  override readonly name = 'DownloadFailed';
}

/** Discord did not take the result. */
export class DeliveryFailed extends Error {
  override readonly name = 'DeliveryFailed';
  constructor(cause: unknown) {
    super('Discord did not accept the result', { cause });
  }
}

/** Sorts whatever ended a job into the {@link Failure} the member is told about. */
export function failureOf(error: unknown, signal: AbortSignal, action: GenerationAction = 'imagine'): Failure {
  if (signal.aborted) {
    const reason: unknown = signal.reason;
    if (reason instanceof JobStopped) return { kind: reason.reason === 'cancelled' ? 'cancelled' : 'timeout' };
  }
  if (error instanceof ModelGone && action !== 'imagine') {
    return { kind: 'action_unavailable', action: action === 'upscale' ? 'upscale' : 'edit' };
  }
  if (error instanceof ModelUnavailable || error instanceof ModelGone) return { kind: 'model_unavailable' };
  if (error instanceof DownloadFailed) return { kind: 'download' };
  if (error instanceof ImageUnavailable) return { kind: 'image_unavailable' };
  if (error instanceof DeliveryFailed) return { kind: 'delivery' };
  return classifyFalError(error);
}

/** Failures after which fal may still have billed the images (a 422 can be billed; 5xx are not). */
const BILLED_FAILURES = new Set<Failure['kind']>(['safety', 'invalid_input', 'download', 'delivery']);

/**
 * Whether a failed job's cost stays counted against the budgets: fal may have billed it (`running`: fal had
 * started it), or fal may run a submission whose answer was lost.
 */
export function mayHaveBeenBilled(failure: Failure, error: unknown, running: boolean): boolean {
  return (
    BILLED_FAILURES.has(failure.kind) ||
    (running && (failure.kind === 'cancelled' || failure.kind === 'timeout')) ||
    maybeReceivedByFal(error)
  );
}

/** One log line per failure, at the level the operator should act on, with what fal or Discord said. */
export function logFailure(logger: Logger, failure: Failure, error: unknown, context: LogContext): void {
  if (error instanceof ModelGone) {
    const message =
      failure.kind === 'action_unavailable'
        ? `fal no longer serves the ${failure.action === 'upscale' ? 'upscaler' : "model's /edit endpoint"}: check its page on fal.ai (see README, Models)`
        : 'fal no longer serves this model: offer another with IMAGEN_MODELS and IMAGEN_MODEL (see README, Models)';
    logger.error(message, {
      ...context,
      endpoint: error.endpointId,
      detail: describeFalError(error.cause),
    });
    return;
  }
  const detail = {
    ...(error instanceof DeliveryFailed
      ? errorContext(error.cause)
      : { detail: describeFalError(error), ...errorContext(error) }),
    ...(maybeReceivedByFal(error) && { submitOutcome: 'unknown, not retried' }),
  };
  switch (failure.kind) {
    case 'unauthorized':
    case 'no_credit':
      logger.error(
        failure.kind === 'no_credit'
          ? 'fal refused the job: the account is out of credit (top up at https://fal.ai/dashboard/billing)'
          : 'fal refused the key: check FAL_KEY (https://fal.ai/dashboard/keys)',
        { ...context, ...detail },
      );
      return;
    case 'unknown':
    case 'delivery':
    case 'model_unavailable':
      logger.error(`generation failed: ${failure.kind}`, { ...context, ...detail });
      return;
    default:
      logger.warn(`generation failed: ${failure.kind}`, { ...context, ...detail });
  }
}
