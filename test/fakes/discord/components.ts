/** Walking a message's or modal's component tree: visiting, finding by custom_id, numbering as Discord does. */
import { isObject, type Json } from './protocol.js';

/** Every component (depth-first), with nested rows, containers, sections and labels. */
export function walkComponents(components: unknown[], visit: (component: Json) => void): void {
  for (const component of components) {
    if (!isObject(component)) continue;
    visit(component);
    if (Array.isArray(component['components'])) walkComponents(component['components'], visit);
    if (isObject(component['accessory'])) walkComponents([component['accessory']], visit);
    if (isObject(component['component'])) walkComponents([component['component']], visit);
  }
}

export function findComponent(components: unknown[], customId: string): Json | undefined {
  let found: Json | undefined;
  walkComponents(components, (c) => {
    if (!found && c['custom_id'] === customId) found = c;
  });
  return found;
}

/** Discord numbers components that have no `id` (1, 2, ... in depth-first order, skipping taken ids). */
export function numberComponents(components: unknown[]): unknown[] {
  const taken = new Set<number>();
  walkComponents(components, (c) => {
    if (typeof c['id'] === 'number') taken.add(c['id']);
  });
  let next = 1;
  walkComponents(components, (c) => {
    if (typeof c['id'] === 'number') return;
    while (taken.has(next)) next += 1;
    c['id'] = next;
    taken.add(next);
  });
  return components;
}
