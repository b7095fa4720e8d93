import type { WaitingJob } from '../store/generations.js';

/** When a (guild, member) last had a job sent to fal. */
export interface Dispatch {
  readonly guildId: string | null;
  readonly requesterId: string;
  readonly at: number;
}

const DM = '@dm';

/**
 * The order in which waiting jobs will be sent to fal: round-robin across guilds, then across members within a
 * guild. The guild (then member) served longest ago goes first; ties go to the oldest job. So one busy server,
 * or one busy member, cannot starve the others. Pure and derived from stored rows, so it survives restarts.
 */
export function fairOrder(waiting: readonly WaitingJob[], dispatches: readonly Dispatch[]): WaitingJob[] {
  const guildServed = new Map<string, number>();
  const memberServed = new Map<string, number>();
  for (const d of dispatches) {
    const guild = d.guildId ?? DM;
    guildServed.set(guild, Math.max(guildServed.get(guild) ?? Number.NEGATIVE_INFINITY, d.at));
    memberServed.set(`${guild}/${d.requesterId}`, Math.max(memberServed.get(`${guild}/${d.requesterId}`) ?? Number.NEGATIVE_INFINITY, d.at));
  }
  // guild -> member -> that member's jobs, oldest first (input is in id order).
  const byGuild = new Map<string, Map<string, WaitingJob[]>>();
  for (const job of [...waiting].sort((a, b) => a.id - b.id)) {
    const guild = job.guildId ?? DM;
    const members = byGuild.get(guild) ?? new Map<string, WaitingJob[]>();
    byGuild.set(guild, members);
    const jobs = members.get(job.requesterId) ?? [];
    members.set(job.requesterId, jobs);
    jobs.push(job);
  }
  const order: WaitingJob[] = [];
  let clock = Math.max(0, ...dispatches.map((d) => d.at)) + 1;
  while (byGuild.size > 0) {
    const guild = pickLeastRecent(byGuild, (g, members) => [guildServed.get(g), oldestId(members)]);
    const members = byGuild.get(guild);
    if (!members) break;
    const member = pickLeastRecent(members, (m, jobs) => [memberServed.get(`${guild}/${m}`), jobs[0]?.id ?? 0]);
    const jobs = members.get(member) ?? [];
    const job = jobs.shift();
    if (job) order.push(job);
    if (jobs.length === 0) members.delete(member);
    if (members.size === 0) byGuild.delete(guild);
    guildServed.set(guild, clock);
    memberServed.set(`${guild}/${member}`, clock);
    clock += 1;
  }
  return order;
}

function oldestId(members: Map<string, WaitingJob[]>): number {
  let oldest = Number.POSITIVE_INFINITY;
  for (const jobs of members.values()) oldest = Math.min(oldest, jobs[0]?.id ?? oldest);
  return oldest;
}

function pickLeastRecent<V>(entries: Map<string, V>, key: (name: string, value: V) => [number | undefined, number]): string {
  let best: string | undefined;
  let bestKey: [number, number] = [Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY];
  for (const [name, value] of entries) {
    const [served, oldest] = key(name, value);
    const candidate: [number, number] = [served ?? Number.NEGATIVE_INFINITY, oldest];
    if (best === undefined || candidate[0] < bestKey[0] || (candidate[0] === bestKey[0] && candidate[1] < bestKey[1])) {
      best = name;
      bestKey = candidate;
    }
  }
  if (best === undefined) throw new Error('nothing to pick from');
  return best;
}
