/**
 * The fake Discord's CDN: signed, expiring attachment URLs, the bytes behind them, and
 * `POST /attachments/refresh-urls`. {@link FakeDiscord} owns one and hooks it in (serving, attachment creation,
 * the refresh route, resolved attachments of command options); tests reach it as `fake.cdn`.
 *
 * What Discord does (https://discord.com/developers/docs/reference#signed-attachment-cdn-urls): every
 * attachment URL carries `ex` (expiry, hex unix seconds), `is` (issued, hex unix seconds) and `hm` (a hex
 * signature over the URL); an unexpired signed URL serves the file, an expired or unsigned one does not. Every
 * payload Discord sends (a fetched message, an interaction) carries freshly signed URLs, and
 * `POST /attachments/refresh-urls` renews URLs the app kept.
 *
 * Choices where Discord's behaviour is unconfirmed (design so that either answer works):
 * - UNCONFIRMED: the CDN's answer to an expired, unsigned or tampered URL. Here 404 with the text
 *   {@link CDN_UNAVAILABLE_TEXT}, which is what browsers show for old links.
 * - UNCONFIRMED: the lifetime of a signed URL. Here 24 h ({@link ATTACHMENT_URL_LIFETIME_SECONDS}).
 * - refresh-urls is not in Discord's OpenAPI snapshot (test/fakes/discord-openapi.json) nor in its docs; its
 *   body `{attachment_urls: string[]}` and answer `{refreshed_urls: [{original, refreshed}]}` are as apps use it.
 *   UNCONFIRMED: the limit of 50 URLs per request ({@link REFRESH_URLS_MAX}); that a URL which is not a Discord
 *   attachment is left out of `refreshed_urls` (rather than echoed or refused); the error for a bad body (here
 *   Discord's usual 400 50035 Invalid Form Body).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { ServerResponse } from 'node:http';

/** How long a signed URL stays valid. UNCONFIRMED (Discord says "a preset expiry time"; about 24 h is observed). */
export const ATTACHMENT_URL_LIFETIME_SECONDS = 24 * 60 * 60;
/** What the CDN answers, with 404, for a URL that expired or was never signed. UNCONFIRMED: exact status and text. */
export const CDN_UNAVAILABLE_TEXT = 'This content is no longer available.';
/** The most URLs one refresh-urls request takes. UNCONFIRMED. */
export const REFRESH_URLS_MAX = 50;

/** Why a CDN URL does not serve its file. */
export type CdnUrlProblem = 'unknown' | 'unsigned' | 'forged' | 'expired';

/** One request the CDN answered (file downloads only; refresh-urls is recorded as an API request). */
export interface CdnRecordedRequest {
  method: string;
  /** The full URL as requested, query included. */
  url: string;
  status: number;
  /** Why it was not served; undefined when it was (200). */
  problem: CdnUrlProblem | undefined;
  at: number;
}

/** A file a member attached to a command option, as the test describes it. */
export interface InteractionAttachmentInput {
  filename: string;
  data: Buffer;
  contentType?: string;
  /** Discord sets width and height for images; give them for an image, leave them out for other files. */
  width?: number;
  height?: number;
  description?: string;
}

/** An attachment object as Discord puts it in `data.resolved.attachments` (https://discord.com/developers/docs/resources/message#attachment-object). */
export type ResolvedAttachment = Record<string, unknown> & { id: string; filename: string; url: string; size: number };

interface StoredFile {
  data: Buffer;
  contentType: string | undefined;
}

interface RouteReply {
  status: number;
  body?: unknown;
}

/** Discord's 400 50035 with one field error, as the REST routes answer it. */
function invalidFormBody(path: Array<string | number>, code: string, message: string): RouteReply {
  const errors: Record<string, unknown> = {};
  let node = errors;
  for (const segment of path) {
    const next: Record<string, unknown> = {};
    node[String(segment)] = next;
    node = next;
  }
  node['_errors'] = [{ code, message }];
  return { status: 400, body: { message: 'Invalid Form Body', code: 50035, errors } };
}

export class FakeDiscordCdn {
  /** Scheme, host and port every CDN URL starts with (the fake Discord's own loopback origin). */
  readonly origin: string;
  readonly lifetimeSeconds: number;
  /** Every file download, in order. */
  readonly requests: CdnRecordedRequest[] = [];

  readonly #secret = randomBytes(32);
  /** Stored files by URL path (`/attachments/{channel}/{id}/{name}`), which is what a signature covers. */
  readonly #files = new Map<string, StoredFile>();
  #clockOffsetMs = 0;

  constructor(origin: string, options: { lifetimeSeconds?: number } = {}) {
    this.origin = origin;
    this.lifetimeSeconds = options.lifetimeSeconds ?? ATTACHMENT_URL_LIFETIME_SECONDS;
  }

  /** The CDN's clock (ms): wall time plus what tests moved it on. Signing and expiry both follow it. */
  now(): number {
    return Date.now() + this.#clockOffsetMs;
  }

  /** Moves the CDN's clock forward: URLs signed more than their lifetime before the new time expire. */
  advanceClock(ms: number): void {
    if (ms < 0) throw new Error('FakeDiscordCdn.advanceClock: the clock only moves forward');
    this.#clockOffsetMs += ms;
  }

  /** Every URL signed so far expires (the clock moves one lifetime and a second on); new signatures are valid. */
  expireAttachmentUrls(): void {
    this.advanceClock((this.lifetimeSeconds + 1) * 1000);
  }

  /** Stores a message attachment's bytes and returns its signed URL. */
  storeAttachment(
    channelId: string,
    attachmentId: string,
    filename: string,
    data: Buffer,
    contentType: string | undefined,
  ): string {
    return this.#store(`/attachments/${channelId}/${attachmentId}/${encodeURIComponent(filename)}`, data, contentType);
  }

  /**
   * A file a member put in a command's attachment option: stored where Discord keeps those
   * (`/ephemeral-attachments/{application}/{id}/{name}`), returned as the `resolved.attachments` entry. Its id
   * is the option's value.
   */
  interactionAttachment(
    applicationId: string,
    attachmentId: string,
    file: InteractionAttachmentInput,
  ): ResolvedAttachment {
    const url = this.#store(
      `/ephemeral-attachments/${applicationId}/${attachmentId}/${encodeURIComponent(file.filename)}`,
      file.data,
      file.contentType,
    );
    return {
      id: attachmentId,
      filename: file.filename,
      size: file.data.length,
      url,
      proxy_url: url,
      ...(file.contentType !== undefined ? { content_type: file.contentType } : {}),
      ...(file.width !== undefined ? { width: file.width } : {}),
      ...(file.height !== undefined ? { height: file.height } : {}),
      ...(file.description !== undefined ? { description: file.description } : {}),
      ephemeral: true,
    };
  }

  /** The same URL freshly signed (what Discord puts in every payload it sends), or undefined for a URL that is not ours. */
  resign(url: string): string | undefined {
    const parsed = this.#parse(url);
    if (parsed === undefined || !this.#files.has(parsed.pathname)) return undefined;
    return this.#sign(parsed.pathname);
  }

  /** Whether a URL would serve its file now, and if not, why. */
  check(url: string): { ok: true } | { ok: false; problem: CdnUrlProblem } {
    const parsed = this.#parse(url);
    if (parsed === undefined || !this.#files.has(parsed.pathname)) return { ok: false, problem: 'unknown' };
    const ex = parsed.searchParams.get('ex');
    const is = parsed.searchParams.get('is');
    const hm = parsed.searchParams.get('hm');
    if (ex === null || is === null || hm === null) return { ok: false, problem: 'unsigned' };
    const expected = Buffer.from(this.#signature(parsed.pathname, ex, is), 'hex');
    const given = /^[0-9a-f]+$/.test(hm) ? Buffer.from(hm, 'hex') : Buffer.alloc(0);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, problem: 'forged' };
    if (Number.parseInt(ex, 16) * 1000 <= this.now()) return { ok: false, problem: 'expired' };
    return { ok: true };
  }

  /** Whether a request path is the CDN's (file downloads are served by {@link serve}, without /api). */
  isCdnPath(pathname: string): boolean {
    return pathname.startsWith('/attachments/') || pathname.startsWith('/ephemeral-attachments/');
  }

  /** Answers a file download: the bytes while the URL is signed and unexpired, else 404. */
  serve(method: string, url: URL, res: ServerResponse): void {
    const full = `${this.origin}${url.pathname}${url.search}`;
    const at = Date.now();
    if (method !== 'GET' && method !== 'HEAD') {
      this.requests.push({ method, url: full, status: 405, problem: undefined, at });
      res.writeHead(405).end();
      return;
    }
    const verdict = this.check(full);
    if (!verdict.ok) {
      this.requests.push({ method, url: full, status: 404, problem: verdict.problem, at });
      const text = verdict.problem === 'unknown' ? 'Not Found' : CDN_UNAVAILABLE_TEXT;
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end(method === 'HEAD' ? undefined : text);
      return;
    }
    const file = this.#files.get(url.pathname)!;
    this.requests.push({ method, url: full, status: 200, problem: undefined, at });
    res
      .writeHead(200, {
        'Content-Type': file.contentType ?? 'application/octet-stream',
        'Content-Length': file.data.length,
      })
      .end(method === 'HEAD' ? undefined : file.data);
  }

  /**
   * `POST /attachments/refresh-urls` (bot auth is checked by the route): each URL of ours, expired or not and
   * signed or not, comes back freshly signed; others are left out.
   */
  refreshUrls(body: unknown): RouteReply {
    const urls =
      typeof body === 'object' && body !== null ? (body as Record<string, unknown>)['attachment_urls'] : undefined;
    if (urls === undefined) return invalidFormBody(['attachment_urls'], 'BASE_TYPE_REQUIRED', 'This field is required');
    if (!Array.isArray(urls)) return invalidFormBody(['attachment_urls'], 'BASE_TYPE_ARRAY', 'Must be an array.');
    if (urls.length > REFRESH_URLS_MAX) {
      return invalidFormBody(
        ['attachment_urls'],
        'BASE_TYPE_MAX_LENGTH',
        `Must be ${REFRESH_URLS_MAX} or fewer in length.`,
      );
    }
    const bad = urls.findIndex((u) => typeof u !== 'string');
    if (bad >= 0) return invalidFormBody(['attachment_urls', bad], 'BASE_TYPE_STRING', 'Must be a string.');
    const refreshed_urls = (urls as string[]).flatMap((original) => {
      const refreshed = this.resign(original);
      return refreshed === undefined ? [] : [{ original, refreshed }];
    });
    return { status: 200, body: { refreshed_urls } };
  }

  #store(path: string, data: Buffer, contentType: string | undefined): string {
    this.#files.set(path, { data, contentType });
    return this.#sign(path);
  }

  #sign(path: string): string {
    const issued = Math.floor(this.now() / 1000);
    const is = issued.toString(16);
    const ex = (issued + this.lifetimeSeconds).toString(16);
    return `${this.origin}${path}?ex=${ex}&is=${is}&hm=${this.#signature(path, ex, is)}&`;
  }

  #signature(path: string, ex: string, is: string): string {
    return createHmac('sha256', this.#secret).update(`${path}\n${ex}\n${is}`).digest('hex');
  }

  #parse(url: string): URL | undefined {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      return undefined;
    }
    return parsed.origin === this.origin ? parsed : undefined;
  }
}

/**
 * `data.resolved` of a chat-input interaction with the given attachments added under `attachments` (keyed by
 * id, as Discord sends them). Throws when an attachment option (type 11) names an id that is not resolved:
 * Discord always resolves the file an option carries.
 */
export function resolvedWithAttachments(
  options: ReadonlyArray<{ name: string; type: number; value?: unknown }>,
  resolved: Record<string, unknown> | undefined,
  attachments: readonly ResolvedAttachment[],
): Record<string, unknown> | undefined {
  const given = resolved?.['attachments'];
  const merged: Record<string, unknown> = {
    ...(typeof given === 'object' && given !== null ? (given as Record<string, unknown>) : {}),
    ...Object.fromEntries(attachments.map((a) => [a.id, structuredClone(a)])),
  };
  for (const option of options) {
    if (option.type === 11 && (typeof option.value !== 'string' || !Object.hasOwn(merged, option.value))) {
      throw new Error(
        `FakeDiscord: attachment option ${option.name} names ${JSON.stringify(option.value)}, which is not in resolved.attachments`,
      );
    }
  }
  if (Object.keys(merged).length === 0) return resolved;
  return { ...resolved, attachments: merged };
}
