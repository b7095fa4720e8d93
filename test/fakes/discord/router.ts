/**
 * The REST router: the route table (method and path template -> handler) of every endpoint the fake
 * serves, and the dispatch of a recorded request to its handler after the checks Discord makes first.
 */
import { randomBytes } from 'node:crypto';
import { addChannelRoutes } from './channelRoutes.js';
import { addCommandRoutes } from './commandRoutes.js';
import type { ParsedBody } from './http.js';
import { addInteractionRoutes } from './interactionRoutes.js';
import type { DiscordModel } from './model.js';
import type { Json } from './protocol.js';
import { apiError, failureReply, type ApiError, type Reply } from './replies.js';
import { validateRequest, type RequestLog } from './requests.js';
import type { RecordedRequest } from './types.js';

export interface RequestContext {
  record: RecordedRequest;
  params: Record<string, string>;
  kind: 'json' | 'multipart' | 'none';
}

export interface Route {
  method: string;
  template: string;
  segments: string[];
  auth: 'bot' | 'none';
  handle: (ctx: RequestContext) => Reply | ApiError;
}

/** Registers a handler for a method and a path template (`/channels/{channel_id}`) under `/api/v10`. */
export type AddRoute = (method: string, template: string, auth: Route['auth'], handle: Route['handle']) => void;

export class Router {
  readonly #model: DiscordModel;
  readonly #log: RequestLog;
  readonly #routes: Route[];

  /** `recommendedShards`: the `shards` GET /gateway/bot answers (the gateway holds it; tests may change it). */
  constructor(model: DiscordModel, log: RequestLog, gateway: { recommendedShards: () => number }) {
    this.#model = model;
    this.#log = log;
    this.#routes = buildRoutes(model, gateway.recommendedShards);
  }

  /** Discord's answer to a request (`segments`: the path after `/api/v10`, decoded); sets `record.route`. */
  route(
    record: RecordedRequest,
    versioned: boolean,
    segments: string[],
    size: number,
    parsed: ParsedBody | undefined,
  ): Reply | ApiError {
    const notFound: ApiError = apiError(404, 0, '404: Not Found');
    if (!versioned) return notFound;
    const candidates = this.#routes.filter((r) => matchSegments(r.segments, segments) !== undefined);
    const route = candidates.find((r) => r.method === record.method);
    if (!route) {
      return candidates.length > 0 ? apiError(405, 0, '405: Method Not Allowed') : notFound;
    }
    record.route = `${route.method} ${route.template}`;
    const params = matchSegments(route.segments, segments) ?? {};

    const failure = this.#log.takeFailure(record);
    if (failure) return failureReply(failure);

    const checked = validateRequest(this.#model, this.#log, route, record, params, size, parsed);
    return 'status' in checked ? checked : route.handle(checked);
  }
}

function buildRoutes(model: DiscordModel, recommendedShards: () => number): Route[] {
  const routes: Route[] = [];
  const add: AddRoute = (method, template, auth, handle) => {
    routes.push({ method, template, segments: template.split('/').slice(1), auth, handle });
  };
  add('GET', '/gateway', 'none', () => ({ status: 200, body: { url: model.gatewayUrl } }));
  add('GET', '/gateway/bot', 'bot', () => ({
    status: 200,
    body: {
      url: model.gatewayUrl,
      shards: recommendedShards(),
      session_start_limit: { total: 1000, remaining: 999, reset_after: 0, max_concurrency: 1 },
    },
  }));
  add('GET', '/users/@me', 'bot', () => ({ status: 200, body: model.botUser }));
  add('GET', '/applications/@me', 'bot', () => ({ status: 200, body: application(model) }));
  add('GET', '/oauth2/applications/@me', 'bot', () => ({ status: 200, body: application(model) }));
  addCommandRoutes(model, add);
  addInteractionRoutes(model, add);
  addChannelRoutes(model, add);
  return routes;
}

function application(model: DiscordModel): Json {
  return {
    id: model.applicationId,
    name: 'Fake Application',
    icon: null,
    description: '',
    summary: '',
    type: null,
    hook: true,
    bot_public: true,
    bot_require_code_grant: false,
    verify_key: randomBytes(32).toString('hex'),
    flags: 0,
    owner: {
      id: model.ownerId,
      username: 'app-owner',
      discriminator: '0',
      global_name: null,
      avatar: null,
      public_flags: 0,
      flags: 0,
    },
    team: null,
    bot: model.botUser,
    redirect_uris: [],
    interactions_endpoint_url: null,
    role_connections_verification_url: null,
    tags: [],
    approximate_guild_count: 1,
    approximate_user_install_count: 0,
    integration_types_config: { '0': {}, '1': {} },
  };
}

function matchSegments(template: string[], actual: string[]): Record<string, string> | undefined {
  if (template.length !== actual.length) return undefined;
  const params: Record<string, string> = {};
  for (const [i, part] of template.entries()) {
    const value = actual[i] ?? '';
    const param = /^\{(.+)\}$/.exec(part)?.[1];
    if (param) {
      if (value === '') return undefined;
      params[param] = value;
    } else if (part !== value) {
      return undefined;
    }
  }
  return params;
}
