/**
 * Every REST request the fake received, as tests read it, and what the fake does to a request before a
 * handler sees it: failures a test injected, requests a test holds in flight, and validation (size limits,
 * authorization, snowflake parameters, attachments, and the body against Discord's OpenAPI description,
 * see `openapi.ts`), answered with Discord's status, error code and body shape.
 */
import { checkRequestBody, toDiscordFormErrors } from '../openapi.js';
import type { ParsedBody } from './http.js';
import type { DiscordModel } from './model.js';
import { apiError, formError, type ApiError } from './replies.js';
import type { RequestContext, Route } from './router.js';
import type { FailureSpec, HeldRequest, RecordedRequest } from './types.js';

interface Waiter {
  match: (r: RecordedRequest) => boolean;
  resolve: (r: RecordedRequest) => void;
  cancel: (reason: Error) => void;
}

interface Failure {
  match: (method: string, path: string, request: RecordedRequest) => boolean;
  failure: FailureSpec;
  remaining: number;
}

export class RequestLog {
  readonly requests: RecordedRequest[] = [];
  readonly invalidBodies: Array<{ method: string; path: string; errors: unknown }> = [];
  /** Errors thrown by the fake itself while handling a request (answered 500); a test should expect none. */
  readonly internalErrors: unknown[] = [];

  readonly #failures: Failure[] = [];
  readonly #holds: Array<{ match: (request: RecordedRequest) => boolean; arrived: (held: HeldRequest) => void }> = [];
  /** Drops of the requests being held, run on close. */
  readonly #held = new Set<() => void>();
  readonly #waiters = new Set<Waiter>();

  /** Waits until a recorded request matches (already-recorded ones count). */
  waitForRequest(match: (r: RecordedRequest) => boolean, timeoutMs = 10_000): Promise<RecordedRequest> {
    const found = this.requests.find(match);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        match,
        resolve: (r) => {
          clearTimeout(timer);
          this.#waiters.delete(waiter);
          resolve(r);
        },
        cancel: (reason) => {
          clearTimeout(timer);
          this.#waiters.delete(waiter);
          reject(reason);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(waiter);
        const last = this.requests
          .slice(-15)
          .map((r) => `  ${r.method} ${r.path} -> ${r.status}`)
          .join('\n');
        reject(
          new Error(`FakeDiscord: no matching request within ${timeoutMs} ms. Last requests:\n${last || '  (none)'}`),
        );
      }, timeoutMs);
      this.#waiters.add(waiter);
    });
  }

  /**
   * Makes the next `count` matching requests fail with this status and Discord error body, e.g.
   * `{ status: 500 }`, `{ status: 429, retryAfter: 0.05 }`, `{ status: 403, code: 50013, message: 'Missing Permissions' }`.
   * `match` also sees the parsed request (body and files), e.g. to fail only an upload.
   */
  failNext(
    match: (method: string, path: string, request: RecordedRequest) => boolean,
    failure: FailureSpec,
    count = 1,
  ): void {
    this.#failures.push({ match, failure, remaining: count });
  }

  /**
   * Holds the next matching request as if it were still on its way: the fake neither acts on it nor answers it
   * until the test calls `release()` (then it is handled as usual) or `drop()` (the connection is cut and the
   * request never took effect). Resolves once the request has arrived. For crashing a client mid-request.
   */
  holdNext(match: (request: RecordedRequest) => boolean): Promise<HeldRequest> {
    return new Promise((arrived) => this.#holds.push({ match, arrived }));
  }

  /** Requests that hit no route (tests can assert this stays empty). */
  get unknownRequests(): RecordedRequest[] {
    return this.requests.filter((r) => r.route === undefined);
  }

  /**
   * Holds the request when a test asked to (see {@link holdNext}): resolves true once released, false once
   * dropped. Undefined when no hold matches, so an unheld request goes on without waiting.
   */
  hold(record: RecordedRequest): Promise<boolean> | undefined {
    const hold = this.#holds.find((h) => h.match(record));
    if (!hold) return undefined;
    this.#holds.splice(this.#holds.indexOf(hold), 1);
    return (async () => {
      let drop = () => {};
      const released = await new Promise<boolean>((resolve) => {
        drop = () => resolve(false);
        this.#held.add(drop);
        hold.arrived({ request: record, release: () => resolve(true), drop });
      });
      this.#held.delete(drop);
      return released;
    })();
  }

  /** The failure a test injected for this request, counted as used. */
  takeFailure(record: RecordedRequest): FailureSpec | undefined {
    const failure = this.#failures.find((f) => f.remaining > 0 && f.match(record.method, record.path, record));
    if (!failure) return undefined;
    failure.remaining -= 1;
    return failure.failure;
  }

  /** Records an answered request and wakes the waiters it matches. */
  add(record: RecordedRequest): void {
    this.requests.push(record);
    for (const waiter of [...this.#waiters]) {
      try {
        if (waiter.match(record)) waiter.resolve(record);
      } catch (error) {
        waiter.cancel(error instanceof Error ? error : new Error(String(error)));
      }
    }
  }

  /** Rejects every waiter and drops every held request. */
  close(): void {
    for (const waiter of [...this.#waiters])
      waiter.cancel(new Error('FakeDiscord: closed while waiting for a request'));
    for (const drop of this.#held) drop();
  }
}

/**
 * What Discord checks before the route's handler: limits, authorization, parameters, the body. Returns
 * Discord's error, or the context the handler runs with.
 */
export function validateRequest(
  model: DiscordModel,
  log: RequestLog,
  route: Route,
  record: RecordedRequest,
  params: Record<string, string>,
  size: number,
  parsed: ParsedBody | undefined,
): ApiError | RequestContext {
  // Cloudflare answers oversized requests before Discord looks at them.
  if (size > model.requestSizeLimit) return apiError(413, 40005, 'Request entity too large');
  if (parsed?.files.some((f) => f.data.length > model.fileSizeLimit))
    return apiError(413, 40005, 'Request entity too large');

  if (route.auth === 'bot' && record.auth !== `Bot ${model.token}`) return apiError(401, 0, '401: Unauthorized');

  for (const [name, value] of Object.entries(params)) {
    if (name.endsWith('_id') && !/^\d{1,20}$/.test(value) && !(name === 'message_id' && value === '@original')) {
      return formError([name], 'NUMBER_TYPE_COERCE', `Value "${value}" is not snowflake.`);
    }
  }

  if (!parsed) return apiError(400, 0, '400: Bad Request');
  if (parsed.error) return parsed.error;

  if (parsed.files.length > 10) return apiError(400, 30015, 'Maximum number of attachments in a message reached (10)');
  for (const [index, file] of parsed.files.entries()) {
    if (file.filename.length > 1024) {
      return formError(
        [file.field || `files[${index}]`, 'filename'],
        'BASE_TYPE_MAX_LENGTH',
        'Must be 1024 or fewer in length.',
      );
    }
  }

  if (parsed.kind !== 'none' || ['POST', 'PUT', 'PATCH'].includes(record.method)) {
    const check = checkRequestBody(
      record.method,
      record.path,
      parsed.body,
      parsed.kind === 'multipart' ? 'multipart' : 'json',
    );
    if (check && check.errors.length > 0) {
      log.invalidBodies.push({ method: record.method, path: record.path, errors: check.errors });
      return apiError(400, 50035, 'Invalid Form Body', toDiscordFormErrors(check.errors));
    }
  }

  return { record, params, kind: parsed.kind };
}
