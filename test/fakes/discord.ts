/**
 * A loopback fake of Discord (REST API v10 and the gateway) that the real discord.js `Client` logs into:
 *
 * ```ts
 * const fake = await FakeDiscord.start();
 * const client = new Client({ intents: [], rest: { api: fake.apiUrl } });
 * await client.login(fake.token);
 * fake.dispatchInteraction(fake.chatInput({ name: 'imagine', options: [{ name: 'prompt', type: 3, value: 'a cat' }] }));
 * const edit = await fake.waitForRequest((r) => r.method === 'PATCH' && r.path.endsWith('/@original'));
 * ```
 *
 * It records every REST call, keeps the state Discord would keep (interactions and their acknowledgement,
 * messages, attachments, application commands) and is strict: request bodies are validated against Discord's
 * OpenAPI description (see `openapi.ts`) and against the rules the docs state but the schema cannot express
 * (https://discord.com/developers/docs/interactions/receiving-and-responding,
 * https://discord.com/developers/docs/components/reference, https://discord.com/developers/docs/reference#uploading-files).
 * What real Discord rejects, the fake rejects, with Discord's status, error code and body shape.
 *
 * This module is the entry point; the parts live in `discord/`: `fakeDiscord.ts` (the facade), `model.ts`
 * (the state), `http.ts`, `router.ts` and `requests.ts` (the REST side), the `*Routes.ts` handlers,
 * `messages.ts`, `validation.ts`, `gateway.ts`, `builders.ts` (interaction payloads), `types.ts`.
 */
export { FakeDiscord } from './discord/fakeDiscord.js';
export { guildOnShard } from './discord/gateway.js';
export { DEFAULT_APP_PERMISSIONS, DEFAULT_MEMBER_PERMISSIONS, DEFAULT_USER, snowflake } from './discord/protocol.js';
export type * from './discord/types.js';
