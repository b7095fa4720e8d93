import { ApiError, ValidationError } from '@fal-ai/client';

/**
 * What went wrong at fal, in the categories members and operators act on differently.
 * - `safety`: the model's safety filter refused the prompt (422 content_policy_violation).
 * - `invalid_input`: fal rejected a field (other 422s); `field` names it.
 * - `unauthorized` / `no_credit`: the operator's key is wrong or the account is out of money (401/403).
 * - `busy`: rate limited, overloaded, or unreachable (429, 5xx, network).
 * - `timeout`: the job took longer than the bot's limit (decided by the generation service, not by fal).
 * - `not_found`: fal no longer knows the request (results are kept for a limited time).
 * - `image_unavailable`: fal could not fetch or read an image it was given (422 file_download_error, ...).
 * - `unknown`: anything else; logged in full for the operator.
 */
export type FalFailure =
  | { kind: 'safety' }
  | { kind: 'invalid_input'; field: string | undefined }
  | { kind: 'unauthorized' }
  | { kind: 'no_credit' }
  | { kind: 'busy' }
  | { kind: 'timeout' }
  | { kind: 'not_found' }
  | { kind: 'image_unavailable' }
  | { kind: 'unknown' };

const SAFETY_WORDS = /content[_ ]policy|safety|flagged|nsfw|blocked/i;

/** Sorts any error thrown by the fal client into a {@link FalFailure}. Pure; never throws. */
export function classifyFalError(error: unknown): FalFailure {
  if (error instanceof ApiError) {
    const status = error.status;
    if (status === 422 || error instanceof ValidationError) {
      const details = detailList(error.body);
      if (
        details.some((d) => SAFETY_WORDS.test(`${d.type ?? ''} ${d.msg ?? ''}`)) ||
        SAFETY_WORDS.test(detailText(error.body))
      ) {
        return { kind: 'safety' };
      }
      // fal could not fetch or read an image it was given (https://docs.fal.ai/model-apis/errors).
      if (details.some((d) => /file_download|image_load|image_too_large/i.test(d.type ?? '')))
        return { kind: 'image_unavailable' };
      const loc = details.find((d) => Array.isArray(d.loc))?.loc;
      const field = loc
        ?.filter((part) => part !== 'body')
        .map(String)
        .join('.');
      return { kind: 'invalid_input', field: field || undefined };
    }
    if (status === 401) return { kind: 'unauthorized' };
    if (status === 403) {
      return /balance|credit|locked|billing/i.test(detailText(error.body))
        ? { kind: 'no_credit' }
        : { kind: 'unauthorized' };
    }
    if (status === 404) return { kind: 'not_found' };
    if (status === 408 || status === 429 || status >= 500) return { kind: 'busy' };
    return { kind: 'unknown' };
  }
  if (error instanceof Error) {
    if (error.name === 'TypeError' && /fetch failed/i.test(error.message)) return { kind: 'busy' };
    if (error.name === 'TimeoutError') return { kind: 'busy' };
  }
  return { kind: 'unknown' };
}

/**
 * Whether a submit failed because fal no longer serves the endpoint (a retired model): 404, or fal's
 * "application not found" under any status. Only meaningful for a submit: a 404 on a status or result call means
 * fal no longer has that request.
 */
export function isModelGone(error: unknown): boolean {
  if (!(error instanceof ApiError)) return false;
  return error.status === 404 || /application\b.*\bnot found/i.test(detailText(error.body));
}

/** A short description for logs: status and fal's error type, never the request body or credentials. */
export function describeFalError(error: unknown): string {
  if (error instanceof ApiError) {
    return `fal ${error.status}${error.requestId ? ` (request ${error.requestId})` : ''}: ${detailText(error.body).slice(0, 300)}`;
  }
  if (error instanceof Error) return `${error.name}: ${error.message}`.slice(0, 300);
  return String(error).slice(0, 300);
}

interface Detail {
  loc?: unknown[];
  msg?: string;
  type?: string;
}

function detailList(body: unknown): Detail[] {
  const detail = (body as { detail?: unknown } | undefined)?.detail;
  return Array.isArray(detail) ? (detail.filter((d) => typeof d === 'object' && d !== null) as Detail[]) : [];
}

function detailText(body: unknown): string {
  if (body === undefined || body === null) return '';
  if (typeof body === 'string') return body;
  const detail = (body as { detail?: unknown }).detail;
  if (typeof detail === 'string') return detail;
  try {
    return JSON.stringify(body);
  } catch {
    return '';
  }
}
