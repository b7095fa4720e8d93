/**
 * The application-command routes (global and per guild): list, bulk overwrite, create, get, edit, delete
 * (https://discord.com/developers/docs/interactions/application-commands#endpoints).
 */
import type { DiscordModel } from './model.js';
import { isObject, snowflake, type Json } from './protocol.js';
import { apiError, missingAccess, type ApiError, type Reply } from './replies.js';
import type { AddRoute, RequestContext } from './router.js';
import { validateCommands } from './validation.js';

export function addCommandRoutes(model: DiscordModel, add: AddRoute): void {
  for (const scope of ['', '/guilds/{guild_id}']) {
    const list = `/applications/{application_id}${scope}/commands`;
    add('GET', list, 'bot', (ctx) =>
      withApp(model, ctx, () => ({ status: 200, body: commandPool(model, ctx.params) })),
    );
    add('PUT', list, 'bot', (ctx) => withApp(model, ctx, () => putCommands(model, ctx)));
    add('POST', list, 'bot', (ctx) => withApp(model, ctx, () => postCommand(model, ctx)));
    add('GET', `${list}/{command_id}`, 'bot', (ctx) => withApp(model, ctx, () => getCommand(model, ctx)));
    add('PATCH', `${list}/{command_id}`, 'bot', (ctx) => withApp(model, ctx, () => patchCommand(model, ctx)));
    add('DELETE', `${list}/{command_id}`, 'bot', (ctx) => withApp(model, ctx, () => deleteCommand(model, ctx)));
  }
}

function withApp(model: DiscordModel, ctx: RequestContext, run: () => Reply | ApiError): Reply | ApiError {
  if (ctx.params['application_id'] !== model.applicationId) return missingAccess();
  return run();
}

function commandPool(model: DiscordModel, params: Record<string, string>): unknown[] {
  const guildId = params['guild_id'];
  return guildId ? (model.commands.guilds.get(guildId) ?? []) : model.commands.global;
}

function setCommandPool(model: DiscordModel, params: Record<string, string>, commands: unknown[]): void {
  const guildId = params['guild_id'];
  if (guildId) model.commands.guilds.set(guildId, commands);
  else model.commands.global = commands;
}

function putCommands(model: DiscordModel, ctx: RequestContext): Reply | ApiError {
  const body = Array.isArray(ctx.record.body) ? ctx.record.body.filter(isObject) : [];
  const error = validateCommands(body);
  if (error) return error;
  const existing = commandPool(model, ctx.params).filter(isObject);
  const stored = body.map((definition) => storeCommand(model, definition, ctx.params['guild_id'], existing));
  setCommandPool(model, ctx.params, stored);
  return { status: 200, body: stored };
}

function postCommand(model: DiscordModel, ctx: RequestContext): Reply | ApiError {
  const definition = isObject(ctx.record.body) ? ctx.record.body : {};
  const pool = commandPool(model, ctx.params).filter(isObject);
  const others = pool.filter((c) => !(c['name'] === definition['name'] && c['type'] === (definition['type'] ?? 1)));
  const error = validateCommands([...others, definition]);
  if (error) return error;
  const stored = storeCommand(model, definition, ctx.params['guild_id'], pool);
  const replaced = others.length < pool.length;
  setCommandPool(model, ctx.params, [...others, stored]);
  return { status: replaced ? 200 : 201, body: stored };
}

function getCommand(model: DiscordModel, ctx: RequestContext): Reply | ApiError {
  const found = commandPool(model, ctx.params).find((c) => isObject(c) && c['id'] === ctx.params['command_id']);
  return found ? { status: 200, body: found } : apiError(404, 10063, 'Unknown application command');
}

function patchCommand(model: DiscordModel, ctx: RequestContext): Reply | ApiError {
  const pool = commandPool(model, ctx.params).filter(isObject);
  const index = pool.findIndex((c) => c['id'] === ctx.params['command_id']);
  const current = pool[index];
  if (!current) return apiError(404, 10063, 'Unknown application command');
  const merged = { ...current, ...(isObject(ctx.record.body) ? ctx.record.body : {}) };
  const error = validateCommands(pool.map((c, i) => (i === index ? merged : c)));
  if (error) return error;
  const stored = storeCommand(model, merged, ctx.params['guild_id'], pool);
  setCommandPool(
    model,
    ctx.params,
    pool.map((c, i) => (i === index ? stored : c)),
  );
  return { status: 200, body: stored };
}

function deleteCommand(model: DiscordModel, ctx: RequestContext): Reply | ApiError {
  const pool = commandPool(model, ctx.params).filter(isObject);
  if (!pool.some((c) => c['id'] === ctx.params['command_id']))
    return apiError(404, 10063, 'Unknown application command');
  setCommandPool(
    model,
    ctx.params,
    pool.filter((c) => c['id'] !== ctx.params['command_id']),
  );
  return { status: 204 };
}

function storeCommand(model: DiscordModel, definition: Json, guildId: string | undefined, existing: Json[]): Json {
  const type = typeof definition['type'] === 'number' ? definition['type'] : 1;
  const previous = existing.find((c) => c['name'] === definition['name'] && c['type'] === type);
  const permissions = definition['default_member_permissions'];
  return {
    id: typeof previous?.['id'] === 'string' ? previous['id'] : snowflake(),
    application_id: model.applicationId,
    version: snowflake(),
    type,
    name: definition['name'],
    name_localizations: definition['name_localizations'] ?? null,
    description: definition['description'] ?? '',
    description_localizations: definition['description_localizations'] ?? null,
    ...(Array.isArray(definition['options']) ? { options: definition['options'] } : {}),
    default_member_permissions:
      typeof permissions === 'string' || typeof permissions === 'number' ? String(permissions) : null,
    nsfw: definition['nsfw'] ?? false,
    ...(guildId
      ? { guild_id: guildId }
      : {
          dm_permission: definition['dm_permission'] ?? true,
          contexts: definition['contexts'] ?? null,
          integration_types: definition['integration_types'] ?? [0],
        }),
  };
}
