import type { Dispatch, WaitingJob } from '../store/jobClaims.js';

export type { Dispatch } from '../store/jobClaims.js';

const DM = '@dm';

/**
 * The order in which waiting jobs will be sent to fal: round-robin across guilds, then across members within a
 * guild. The guild (then member) served longest ago goes first; ties go to the oldest job. So one busy server,
 * or one busy member, cannot starve the others. Pure and derived from stored rows, so it survives restarts.
 *
 * Serving a guild (or member) makes it the one served most recently, so after its turn it simply goes to the
 * back of the line: the order is a rotation of the lines sorted once by (last served, oldest job). O(n log n),
 * which matters because it runs whenever a slot frees, with every waiting job in it.
 */
export function fairOrder(waiting: readonly WaitingJob[], dispatches: readonly Dispatch[]): WaitingJob[] {
  const served = new Map<string, number>();
  const markServed = (key: string, at: number) =>
    served.set(key, Math.max(served.get(key) ?? Number.NEGATIVE_INFINITY, at));
  for (const d of dispatches) {
    const guild = d.guildId ?? DM;
    markServed(guild, d.at);
    markServed(memberKey(guild, d.requesterId), d.at);
  }
  // guild -> member -> that member's jobs, oldest first.
  const byGuild = new Map<string, Map<string, WaitingJob[]>>();
  for (const job of [...waiting].sort((a, b) => a.id - b.id)) {
    const guild = job.guildId ?? DM;
    const members = byGuild.get(guild) ?? new Map<string, WaitingJob[]>();
    byGuild.set(guild, members);
    const jobs = members.get(job.requesterId) ?? [];
    members.set(job.requesterId, jobs);
    jobs.push(job);
  }
  // Map iteration follows insertion, and jobs were inserted oldest first: each guild's (and member's) first
  // job is its oldest, so the tie-break key is simply the first job's id.
  const guilds = line(
    [...byGuild].map(([guild, members]) => ({
      served: served.get(guild),
      oldest: [...members.values()][0]?.[0]?.id ?? 0,
      next: 0,
      members: line(
        [...members].map(([member, jobs]) => ({
          served: served.get(memberKey(guild, member)),
          oldest: jobs[0]?.id ?? 0,
          next: 0,
          jobs,
        })),
      ),
    })),
  );
  // The lines are arrays read from a moving head (`next`); a served entry is pushed to the back again.
  const order: WaitingJob[] = [];
  for (let head = 0; head < guilds.length; head += 1) {
    const guild = guilds[head];
    const member = guild?.members[guild.next];
    const job = member?.jobs[member.next];
    if (!guild || !member || !job) continue;
    order.push(job);
    guild.next += 1;
    member.next += 1;
    if (member.next < member.jobs.length) guild.members.push(member);
    if (guild.next < guild.members.length) guilds.push(guild);
  }
  return order;
}

function memberKey(guild: string, member: string): string {
  return `${guild}/${member}`;
}

/** Entries sorted by when they were last served (never first), then by their oldest job. */
function line<T extends { served: number | undefined; oldest: number }>(entries: T[]): T[] {
  const key = (e: T) => e.served ?? Number.NEGATIVE_INFINITY;
  return entries.sort((a, b) => key(a) - key(b) || a.oldest - b.oldest);
}
