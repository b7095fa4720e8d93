import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorld, type World } from './world.js';

let world: World;
const problems: unknown[] = [];
const onProblem = (e: unknown) => problems.push(e);
beforeAll(async () => {
  process.on('unhandledRejection', onProblem);
  process.on('uncaughtException', onProblem);
  world = await startWorld();
});
afterAll(async () => {
  await world.close();
});

describe('explore', () => {
  it('probes', async () => {
    const d = world.discord;
    const good = () => d.chatInput({ name: 'imagine', options: [{ name: 'prompt', type: 3, value: 'x' }] });
    const cases: Record<string, () => Record<string, unknown>> = {
      userNoMemberGuild: () => { const p = d.chatInput({ name: 'imagine', options: [{ name: 'prompt', type: 3, value: 'x' }, { name: 'num_images', type: 4, value: 0 }] }); p['user'] = (p['member'] as Record<string, unknown>)['user']; delete p['member']; return p; },
      msgCtx: () => { const p = good(); return { ...p, data: { ...(p['data'] as object), type: 3, target_id: '1', resolved: { messages: {} } } }; },
      modalCompsBad: () => ({ ...d.modalSubmit({ customId: 'imagine:edit-submit:1', fields: {} }), data: { custom_id: 'imagine:edit-submit:1', components: 'x' } }),
      modalCompsNull: () => ({ ...d.modalSubmit({ customId: 'imagine:edit-submit:1', fields: {} }), data: { custom_id: 'imagine:edit-submit:1' } }),
      badId: () => ({ ...good(), id: 'abc' }),
      emptyToken: () => ({ ...good(), token: '' }),
      typeStr: () => ({ ...good(), type: '2' }),
      optNull: () => { const p = good(); return { ...p, data: { ...(p['data'] as object), options: [{ name: 'prompt', type: 3, value: null }] } }; },
      optNoValue: () => { const p = good(); return { ...p, data: { ...(p['data'] as object), options: [{ name: 'prompt', type: 3 }] } }; },
      optEvil: () => { const p = good(); return { ...p, data: { ...(p['data'] as object), options: [{ name: 'prompt', type: 3, value: 'x' }, { name: '@everyone <@&1> **x**', type: 3, value: 'y' }] } }; },
      optObj: () => { const p = good(); return { ...p, data: { ...(p['data'] as object), options: [{ name: 'prompt', type: 3, value: { a: 1 } }] } }; },
      subcmd: () => { const p = good(); return { ...p, data: { ...(p['data'] as object), options: [{ name: 'prompt', type: 1, options: [] }] } }; },
      memberNull: () => { const p = good(); p['member'] = null; return p; },
      customIdNum: () => { const p = d.button({ customId: 'x', message: { id: '300000000000000001' } }); return { ...p, data: { custom_id: 12345, component_type: 2 } }; },
      customIdMissing: () => { const p = d.button({ customId: 'x', message: { id: '300000000000000001' } }); return { ...p, data: { component_type: 2 } }; },
      noMessageButton: () => { const p = d.button({ customId: 'imagine:delete:1', message: { id: '300000000000000001' } }); delete p['message']; return p; },
      dataArray: () => ({ ...good(), data: [] }),
      dataString: () => ({ ...good(), data: 'x' }),
      badPerms: () => ({ ...good(), app_permissions: 'lots' }),
      badMemberPerms: () => { const p = d.button({ customId: 'imagine:delete:1', message: { id: '300000000000000001' } }); (p['member'] as Record<string, unknown>)['permissions'] = 'zzz'; return p; },
      hugeTypeNum: () => { const p = good(); return { ...p, data: { ...(p['data'] as object), options: [{ name: 'prompt', type: 3, value: 'x' }, { name: 'seed', type: 4, value: 1e300 }] } }; },
      nameNum: () => { const p = good(); return { ...p, data: { ...(p['data'] as object), name: 5 } }; },
    };
    for (const [name, make] of Object.entries(cases)) {
      const p = make();
      const before = world.logs.length;
      const n = d.requests.length;
      try { d.dispatchInteraction(p); } catch (e) { console.log(name, 'dispatch threw', e); continue; }
      await new Promise((r) => setTimeout(r, 700));
      const reqs = d.requests.slice(n).map((r) => `${r.method} ${r.path.slice(0, 40)} ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
      console.log(`== ${name}\n  reqs: ${reqs.join('\n        ')}\n  logs: ${world.logs.slice(before).join('\n        ')}\n  problems: ${problems.length}`);
    }
    console.log(problems);
    expect(1).toBe(1);
  });
});
