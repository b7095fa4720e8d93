/**
 * The HTTP side of the fake: reads and parses each request (JSON, or multipart with `payload_json` and
 * `files[n]`), serves stored attachments, records the request, routes it and writes Discord's answer.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { DiscordModel } from './model.js';
import type { Json } from './protocol.js';
import { apiError, type ApiError, type Reply } from './replies.js';
import type { RequestLog } from './requests.js';
import type { Router } from './router.js';
import type { RecordedFile, RecordedRequest } from './types.js';

export interface ParsedBody {
  body: unknown;
  files: RecordedFile[];
  kind: 'json' | 'multipart' | 'none';
  error: ApiError | undefined;
}

/** Answers the server's HTTP requests; an error in the fake itself is recorded and answered 500. */
export function serveHttp(server: Server, model: DiscordModel, log: RequestLog, router: Router): void {
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    onHttp(model, log, router, req, res).catch((error: unknown) => {
      log.internalErrors.push(error);
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
}

async function onHttp(
  model: DiscordModel,
  log: RequestLog,
  router: Router,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const at = Date.now();
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const method = (req.method ?? 'GET').toUpperCase();
  const { data, size } = await readBody(req, model.requestSizeLimit * 4);

  if (model.cdn.isCdnPath(url.pathname)) {
    model.cdn.serve(method, url, res);
    return;
  }

  const rawPath = url.pathname.startsWith('/api/v10/') ? url.pathname.slice('/api/v10'.length) : url.pathname;
  const segments = rawPath.split('/').slice(1).map(safeDecode);
  const record: RecordedRequest = {
    method,
    path: `/${segments.join('/')}`,
    query: url.searchParams,
    auth: req.headers.authorization,
    body: undefined,
    files: [],
    status: 0,
    at,
    route: undefined,
    response: undefined,
  };
  const truncated = size > data.length;
  const parsed = truncated ? undefined : await parseBody(req.headers['content-type'], data);
  if (parsed) {
    record.body = parsed.body;
    record.files = parsed.files;
  }

  const held = log.hold(record);
  if (held && !(await held)) {
    res.destroy();
    return;
  }

  let reply: Reply | ApiError;
  try {
    reply = router.route(record, url.pathname.startsWith('/api/v10/'), segments, size, parsed);
  } catch (error) {
    log.internalErrors.push(error);
    reply = { status: 500, body: { message: '500: Internal Server Error', code: 0 } };
  }
  record.status = reply.status;
  record.response = reply.body;
  log.add(record);

  const headers: Record<string, string> = { ...('headers' in reply ? reply.headers : {}) };
  if (reply.body === undefined || reply.status === 204) {
    res.writeHead(reply.status, headers).end();
  } else {
    res.writeHead(reply.status, { ...headers, 'Content-Type': 'application/json' }).end(JSON.stringify(reply.body));
  }
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function readBody(req: IncomingMessage, keepAtMost: number): Promise<{ data: Buffer; size: number }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let kept = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (kept + chunk.length <= keepAtMost) {
        chunks.push(chunk);
        kept += chunk.length;
      }
    });
    req.on('end', () => resolve({ data: Buffer.concat(chunks), size }));
    req.on('error', reject);
  });
}

async function parseBody(contentType: string | undefined, data: Buffer): Promise<ParsedBody> {
  if (data.length === 0) return { body: undefined, files: [], kind: 'none', error: undefined };
  if (contentType?.startsWith('multipart/form-data')) {
    let form: FormData;
    try {
      form = await new Response(data, { headers: { 'content-type': contentType } }).formData();
    } catch {
      return { body: undefined, files: [], kind: 'multipart', error: apiError(400, 50035, 'Invalid Form Body') };
    }
    const files: RecordedFile[] = [];
    const fields: Json = {};
    let body: unknown;
    let error: ApiError | undefined;
    for (const [field, value] of form.entries()) {
      if (typeof value === 'string') {
        if (field === 'payload_json') {
          try {
            body = JSON.parse(value) as unknown;
          } catch {
            error = apiError(400, 50109, 'The request body contains invalid JSON.');
          }
        } else {
          fields[field] = value;
        }
      } else {
        files.push({
          field,
          filename: value.name,
          contentType: value.type === '' ? undefined : value.type,
          data: Buffer.from(await value.arrayBuffer()),
        });
      }
    }
    if (body === undefined && Object.keys(fields).length > 0) body = fields;
    return { body, files, kind: 'multipart', error };
  }
  try {
    return { body: JSON.parse(data.toString('utf8')) as unknown, files: [], kind: 'json', error: undefined };
  } catch {
    return {
      body: undefined,
      files: [],
      kind: 'json',
      error: apiError(400, 50109, 'The request body contains invalid JSON.'),
    };
  }
}
