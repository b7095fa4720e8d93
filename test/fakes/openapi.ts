/**
 * Request-body validation against Discord's published OpenAPI 3.1 description of API v10
 * (https://github.com/discord/discord-api-spec), used by the fake Discord (`discord/requests.ts`).
 *
 * The spec is loaded once per process and each operation's validator is compiled on first use, because
 * compiling the whole spec up front takes seconds and a test touches a handful of routes.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import ajvFormats from 'ajv-formats';

/**
 * Where the spec may live: `DISCORD_OPENAPI_SPEC` (e.g. a newer snapshot of discord/discord-api-spec's
 * `specs/openapi.json`), else the copy vendored beside this file.
 */
function specCandidates(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  const fromEnv = process.env['DISCORD_OPENAPI_SPEC'];
  return [...(fromEnv ? [fromEnv] : []), join(here, 'discord-openapi.json')];
}

type JsonObject = Record<string, unknown>;

interface Operation {
  /** e.g. `PATCH /webhooks/{webhook_id}/{webhook_token}/messages/@original` */
  readonly name: string;
  readonly method: string;
  readonly template: string;
  readonly regex: RegExp;
  /** Number of `{param}` segments: literal segments win over parameters when both match. */
  readonly params: number;
  readonly requestBody: { required: boolean; content: Record<string, { schema?: unknown }> } | undefined;
}

interface LoadedSpec {
  readonly ajv: Ajv2020;
  readonly operations: Operation[];
  readonly validators: Map<string, ValidateFunction>;
  readonly schemas: JsonObject;
}

let loaded: LoadedSpec | undefined;

const SPEC_ID = 'https://discord.com/api/v10/openapi.json';
const METHODS = ['get', 'put', 'post', 'patch', 'delete'] as const;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Narrow corrections where the spec disagrees with what Discord accepts and discord.js sends.
 * Each one names the schema it touches; nothing else is loosened.
 */
function applyRelaxations(schemas: JsonObject): void {
  // Permission bitfields are strings on the wire (https://discord.com/developers/docs/topics/permissions):
  // discord.js sends `default_member_permissions: "32"` and Discord accepts it, but the spec types the field
  // as an integer. Accept a decimal string as well; the integer form stays valid.
  for (const name of [
    'ApplicationCommandCreateRequest',
    'ApplicationCommandUpdateRequest',
    'ApplicationCommandPatchRequestPartial',
  ]) {
    const schema = schemas[name];
    if (!isObject(schema) || !isObject(schema['properties'])) continue;
    const properties = schema['properties'];
    const original = properties['default_member_permissions'];
    if (original === undefined) continue;
    properties['default_member_permissions'] = {
      anyOf: [original, { type: 'string', pattern: '^(0|[1-9][0-9]{0,19})$' }],
    };
  }
}

/**
 * Rewrites `oneOf`/`anyOf` unions whose branches are all `$ref`s to objects tagged by a `type` enum into
 * `if type is X then branch X` clauses. Validation is unchanged, but ajv then reports only the errors of the
 * branch the body chose (a button with a 101-char custom_id yields one error, not one per component type).
 * ajv's own `discriminator` keyword needs string tags; Discord's are integers.
 */
function discriminateUnions(node: unknown, schemas: JsonObject): void {
  if (Array.isArray(node)) {
    for (const item of node) discriminateUnions(item, schemas);
    return;
  }
  if (!isObject(node)) return;
  for (const value of Object.values(node)) discriminateUnions(value, schemas);
  for (const keyword of ['oneOf', 'anyOf'] as const) {
    const branches: unknown = node[keyword];
    if (!Array.isArray(branches) || branches.length < 2) continue;
    const tags: unknown[][] = [];
    let allRequireType = true;
    for (const branch of branches) {
      const ref = isObject(branch) ? branch['$ref'] : undefined;
      const target =
        typeof ref === 'string' && ref.startsWith('#/components/schemas/') ? schemas[ref.slice(21)] : undefined;
      const properties = isObject(target) ? target['properties'] : undefined;
      const tag = isObject(properties) ? properties['type'] : undefined;
      const values = isObject(tag)
        ? Array.isArray(tag['enum'])
          ? tag['enum']
          : 'const' in tag
            ? [tag['const']]
            : undefined
        : undefined;
      if (!values) break;
      tags.push(values);
      const required = isObject(target) ? target['required'] : undefined;
      allRequireType &&= Array.isArray(required) && required.includes('type');
    }
    const all = tags.flat();
    if (tags.length !== branches.length || new Set(all).size !== all.length) continue;
    delete node[keyword];
    const clauses = (branches as unknown[]).map((branch, i) => ({
      if: { properties: { type: { enum: tags[i] } }, required: ['type'] },
      then: branch,
    }));
    const tagCheck = { properties: { type: { enum: all } }, ...(allRequireType ? { required: ['type'] } : {}) };
    const existing = Array.isArray(node['allOf']) ? (node['allOf'] as unknown[]) : [];
    node['allOf'] = [...existing, tagCheck, ...clauses];
  }
}

/** Rewrites local `#/components/...` refs of an operation schema so they resolve inside the registered spec. */
function rebaseRefs(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(rebaseRefs);
  if (!isObject(node)) return node;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(node)) {
    out[key] =
      key === '$ref' && typeof value === 'string' && value.startsWith('#/') ? `${SPEC_ID}${value}` : rebaseRefs(value);
  }
  return out;
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function load(): LoadedSpec {
  if (loaded) return loaded;
  const file = specCandidates().find((candidate) => existsSync(candidate));
  if (!file) {
    throw new Error(
      `discord-openapi.json not found (looked in ${specCandidates().join(', ')}); set DISCORD_OPENAPI_SPEC to its path`,
    );
  }
  const spec = JSON.parse(readFileSync(file, 'utf8')) as JsonObject;
  const components = spec['components'];
  const paths = spec['paths'];
  if (!isObject(components) || !isObject(components['schemas']) || !isObject(paths)) {
    throw new Error(`${file} does not look like Discord's OpenAPI description`);
  }
  applyRelaxations(components['schemas']);
  discriminateUnions(components['schemas'], components['schemas']);

  const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
  ajvFormats.default(ajv);
  // OpenAPI's own formats; Discord's snowflakes and nonces are already constrained by `pattern`/`maxLength`.
  ajv.addFormat('int32', {
    type: 'number',
    validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31,
  });
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isInteger(n) });
  ajv.addFormat('double', { type: 'number', validate: (n: number) => Number.isFinite(n) });
  ajv.addFormat('snowflake', /^(0|[1-9][0-9]*)$/);
  ajv.addFormat('nonce', true);
  ajv.addSchema({ $id: SPEC_ID, components: { schemas: components['schemas'] } });

  const operations: Operation[] = [];
  for (const [template, item] of Object.entries(paths)) {
    if (!isObject(item)) continue;
    const segments = template
      .split('/')
      .map((segment) => (/^\{[^}]+\}$/.test(segment) ? '[^/]+' : escapeRegex(segment)));
    const regex = new RegExp(`^${segments.join('/')}$`);
    const params = (template.match(/\{/g) ?? []).length;
    for (const method of METHODS) {
      const operation = item[method];
      if (!isObject(operation)) continue;
      const body = operation['requestBody'];
      operations.push({
        name: `${method.toUpperCase()} ${template}`,
        method: method.toUpperCase(),
        template,
        regex,
        params,
        requestBody: isObject(body)
          ? {
              required: body['required'] === true,
              content: (isObject(body['content']) ? body['content'] : {}) as Record<string, { schema?: unknown }>,
            }
          : undefined,
      });
    }
  }
  operations.sort((a, b) => a.params - b.params);
  loaded = { ajv, operations, validators: new Map(), schemas: components['schemas'] };
  return loaded;
}

/** The spec operation for a request, e.g. `POST /interactions/{interaction_id}/{interaction_token}/callback`. */
export function findOperation(method: string, path: string): string | undefined {
  return load().operations.find((op) => op.method === method && op.regex.test(path))?.name;
}

export interface BodyCheck {
  /** The matched operation. */
  readonly operation: string;
  /** ajv errors; empty when the body is valid. */
  readonly errors: ErrorObject[];
}

/**
 * Validates a request body against the matching operation's requestBody schema.
 * `kind` picks the `application/json` or `multipart/form-data` schema (for multipart, pass the parsed
 * `payload_json`). Returns undefined when no operation matches or the operation takes no body.
 */
export function checkRequestBody(
  method: string,
  path: string,
  body: unknown,
  kind: 'json' | 'multipart',
): BodyCheck | undefined {
  const spec = load();
  const operation = spec.operations.find((op) => op.method === method && op.regex.test(path));
  if (!operation?.requestBody) return undefined;
  if (body === undefined) {
    if (!operation.requestBody.required || kind === 'multipart') return { operation: operation.name, errors: [] };
    return {
      operation: operation.name,
      errors: [
        {
          instancePath: '',
          schemaPath: '#/required',
          keyword: 'required',
          params: {},
          message: 'a request body is required',
        },
      ],
    };
  }
  const mediaType = kind === 'json' ? 'application/json' : 'multipart/form-data';
  const key = `${operation.name} ${mediaType}`;
  let validate = spec.validators.get(key);
  if (!validate) {
    const schema =
      operation.requestBody.content[mediaType]?.schema ?? operation.requestBody.content['application/json']?.schema;
    if (schema === undefined) return undefined;
    const copy = structuredClone(schema);
    discriminateUnions(copy, spec.schemas);
    validate = spec.ajv.compile(rebaseRefs(copy) as JsonObject);
    spec.validators.set(key, validate);
  }
  const valid = validate(body);
  return { operation: operation.name, errors: valid ? [] : [...(validate.errors ?? [])] };
}

/** Discord's error code names for the ajv keywords that matter in practice. */
function discordError(error: ErrorObject): { code: string; message: string } {
  const limit = (error.params as { limit?: unknown }).limit;
  switch (error.keyword) {
    case 'maxLength':
    case 'maxItems':
      return { code: 'BASE_TYPE_MAX_LENGTH', message: `Must be ${String(limit)} or fewer in length.` };
    case 'minLength':
    case 'minItems':
      return { code: 'BASE_TYPE_MIN_LENGTH', message: `Must be ${String(limit)} or more in length.` };
    case 'required':
      return { code: 'BASE_TYPE_REQUIRED', message: 'This field is required' };
    case 'enum':
    case 'const':
      return {
        code: 'BASE_TYPE_CHOICES',
        message: `Value must be one of ${JSON.stringify((error.params as { allowedValues?: unknown }).allowedValues ?? (error.params as { allowedValue?: unknown }).allowedValue)}.`,
      };
    case 'maximum':
      return { code: 'NUMBER_TYPE_MAX', message: `int value should be less than or equal to ${String(limit)}.` };
    case 'minimum':
      return { code: 'NUMBER_TYPE_MIN', message: `int value should be greater than or equal to ${String(limit)}.` };
    case 'type':
      return {
        code: 'BASE_TYPE_INVALID',
        message: `Value must be ${String((error.params as { type?: unknown }).type)}.`,
      };
    default:
      return { code: 'BASE_TYPE_INVALID', message: error.message ?? 'Invalid value.' };
  }
}

/**
 * Turns ajv errors into Discord's nested Invalid Form Body shape:
 * `{ data: { content: { _errors: [{ code, message }] } } }`.
 * Union wrappers (anyOf/oneOf) are dropped when a branch reported something more specific.
 */
export function toDiscordFormErrors(errors: readonly ErrorObject[]): JsonObject {
  const specific = errors.filter((e) => e.keyword !== 'anyOf' && e.keyword !== 'oneOf' && e.keyword !== 'if');
  // `oneOf: [{type: 'null'}, {...}]` reports "must be null" beside the real error inside the object.
  const informative = specific.filter(
    (e) =>
      !(
        e.keyword === 'type' &&
        (e.params as { type?: unknown }).type === 'null' &&
        specific.some(
          (other) => other !== e && other.instancePath.startsWith(e.instancePath) && other.keyword !== 'type',
        )
      ),
  );
  const chosen = informative.length > 0 ? informative : specific.length > 0 ? specific : errors;
  const tree: JsonObject = {};
  for (const error of chosen) {
    const segments = error.instancePath
      .split('/')
      .filter(Boolean)
      .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
    if (error.keyword === 'required') {
      segments.push(String((error.params as { missingProperty?: unknown }).missingProperty));
    }
    let node = tree;
    for (const segment of segments) {
      const next = node[segment];
      if (isObject(next)) node = next;
      else {
        const created: JsonObject = {};
        node[segment] = created;
        node = created;
      }
    }
    const list = Array.isArray(node['_errors']) ? (node['_errors'] as unknown[]) : [];
    const entry = discordError(error);
    if (!list.some((e) => isObject(e) && e['code'] === entry.code && e['message'] === entry.message)) list.push(entry);
    node['_errors'] = list;
  }
  return tree;
}
