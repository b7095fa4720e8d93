/**
 * What the fake answers with: a reply, or an error in Discord's shape (status, JSON error code, message and,
 * for 50035 Invalid Form Body, the nested field errors), including the failures a test injects.
 * https://discord.com/developers/docs/topics/opcodes-and-status-codes#json
 */
import { isObject, type Json } from './protocol.js';
import type { FailureSpec } from './types.js';

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

/** An error Discord would answer with. */
export interface ApiError {
  status: number;
  body: Json;
}

export function apiError(status: number, code: number, message: string, errors?: Json): ApiError {
  return { status, body: errors ? { message, code, errors } : { message, code } };
}

/** 400 50035 Invalid Form Body with one field error at `path` (e.g. ['data', 'content']). */
export function formError(path: Array<string | number>, code: string, message: string): ApiError {
  const errors: Json = {};
  let node = errors;
  for (const segment of path) {
    const next: Json = {};
    node[String(segment)] = next;
    node = next;
  }
  node['_errors'] = [{ code, message }];
  return apiError(400, 50035, 'Invalid Form Body', errors);
}

export const unknownInteraction = (): ApiError => apiError(404, 10062, 'Unknown interaction');
export const unknownWebhook = (): ApiError => apiError(404, 10015, 'Unknown Webhook');
export const invalidWebhookToken = (): ApiError => apiError(401, 50027, 'Invalid Webhook Token');
export const unknownMessage = (): ApiError => apiError(404, 10008, 'Unknown Message');
export const unknownChannel = (): ApiError => apiError(404, 10003, 'Unknown Channel');
export const missingAccess = (): ApiError => apiError(403, 50001, 'Missing Access');
export const missingPermissions = (): ApiError => apiError(403, 50013, 'Missing Permissions');

export function isErrorReply(value: unknown): value is ApiError {
  return isObject(value) && typeof value['status'] === 'number' && value['status'] >= 400 && isObject(value['body']);
}

/** Nests the `errors` of a form error under a prefix (`data` for interaction callbacks). */
export function prefixErrors(error: ApiError, prefix: string): ApiError {
  const errors = error.body['errors'];
  if (!isObject(errors)) return error;
  return { status: error.status, body: { ...error.body, errors: { [prefix]: errors } } };
}

export function failureReply(failure: FailureSpec): Reply {
  if (failure.status === 429) {
    const retryAfter = failure.retryAfter ?? 1;
    const global = failure.global ?? false;
    const body = {
      message: failure.message ?? 'You are being rate limited.',
      retry_after: retryAfter,
      global,
      code: failure.code ?? 0,
    };
    if (global) {
      // Discord's global 429 carries no bucket headers (https://discord.com/developers/docs/topics/rate-limits).
      return {
        status: 429,
        body,
        headers: { 'Retry-After': String(retryAfter), 'X-RateLimit-Global': 'true', 'X-RateLimit-Scope': 'global' },
      };
    }
    return {
      status: 429,
      body,
      headers: {
        'Retry-After': String(retryAfter),
        'X-RateLimit-Scope': 'user',
        'X-RateLimit-Limit': '5',
        'X-RateLimit-Remaining': '0',
        'X-RateLimit-Reset-After': String(retryAfter),
      },
    };
  }
  const defaultMessage =
    failure.status >= 500 ? `${failure.status}: Internal Server Error` : `${failure.status}: Error`;
  return { status: failure.status, body: { message: failure.message ?? defaultMessage, code: failure.code ?? 0 } };
}
