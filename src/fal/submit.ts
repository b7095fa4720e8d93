import { ApiError, type FalClient } from '@fal-ai/client';

/**
 * Network failures that happen before a request is written to the socket: fal cannot have seen the job, so
 * the client's own retry (1 s, 2 s, 4 s) is safe. Every other failure of a submit may come after fal stored it.
 */
const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/**
 * A submission fal may have received (an answer of 500 or more, or a connection lost after the request was
 * sent). Thrown by the fetch of {@link guardSubmitRetries} so that @fal-ai/client does not retry it: the client
 * retries a submit on 502/503/504 and on any network error, and a retry of a stored job is a second job, billed
 * twice. Deliberately not an `ApiError`, not a `TypeError` and with no `cause`: the client's retry test
 * (`isRetryableError` in its retry.ts) walks those. {@link submitJob} unwraps it again.
 */
export class SubmitOutcomeUnknown extends Error {
  override readonly name = 'SubmitOutcomeUnknown';
  constructor(readonly failure: unknown) {
    super('fal may have received this submission, so it is not retried');
  }
}

type Fetch = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/**
 * Wraps the fetch given to the fal client: a queue submit (the client's only POST) whose outcome at fal is
 * unknown fails at once instead of being retried; one that certainly did not reach fal (connection refused,
 * DNS) or that fal refused with 429 (rate limited, not queued) is still retried by the client.
 * Status, stream, result and cancel requests pass through untouched (reading twice is harmless).
 */
export function guardSubmitRetries(fetch: Fetch): Fetch {
  return async (input, init) => {
    if ((init?.method ?? 'GET').toUpperCase() !== 'POST') return fetch(input, init);
    let response: Response;
    try {
      response = await fetch(input, init);
    } catch (error) {
      if (init?.signal?.aborted || notSent(error)) throw error;
      throw new SubmitOutcomeUnknown(error);
    }
    if (response.status < 500) return response;
    throw new SubmitOutcomeUnknown(await apiErrorOf(response));
  };
}

/**
 * Submits a job to fal's queue and returns its request id. A submission whose outcome is unknown is not
 * retried (see {@link guardSubmitRetries}); it rejects with the error fal or the network gave, flagged with
 * `maybeReceived` so the caller can say so in its log.
 */
export async function submitJob(
  fal: FalClient,
  endpointId: string,
  input: Record<string, unknown>,
  signal: AbortSignal,
): Promise<string> {
  try {
    const submitted = await fal.queue.submit(endpointId, { input, abortSignal: signal });
    return submitted.request_id;
  } catch (error) {
    if (error instanceof SubmitOutcomeUnknown) {
      const failure = error.failure instanceof Error ? error.failure : new Error(String(error.failure));
      throw Object.assign(failure, { maybeReceived: true });
    }
    throw error;
  }
}

/** True for an error {@link submitJob} threw after a submission fal may have stored. */
export function maybeReceivedByFal(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { maybeReceived?: unknown }).maybeReceived === true;
}

function notSent(error: unknown): boolean {
  const seen = new Set<unknown>();
  for (let current = error; typeof current === 'object' && current !== null && !seen.has(current);) {
    seen.add(current);
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && NOT_SENT_CODES.has(code)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** The error the client itself would build from this answer (its response.ts), so classification is unchanged. */
async function apiErrorOf(response: Response): Promise<ApiError<unknown>> {
  const text = await response.text().catch(() => '');
  let body: unknown = text || undefined;
  if ((response.headers.get('content-type') ?? '').includes('application/json')) {
    try {
      body = JSON.parse(text) as unknown;
    } catch {
      // Not JSON after all: keep the text, as the client does for non-JSON bodies.
    }
  }
  const message = (body as { message?: unknown } | undefined)?.message;
  return new ApiError({
    message: typeof message === 'string' ? message : response.statusText,
    status: response.status,
    body,
    requestId: response.headers.get('x-fal-request-id') ?? undefined,
  } as ConstructorParameters<typeof ApiError>[0]);
}
