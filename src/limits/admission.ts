import type { DefaultLimits } from '../config.js';
import type { UsageSnapshot } from '../store/generations.js';

export type { UsageSnapshot } from '../store/generations.js';

/** Which limit refused a request, and when it frees up: enough for a plain-words answer. */
export type Refusal =
  | { readonly limit: 'member_jobs'; readonly max: number }
  | { readonly limit: 'cooldown'; readonly retryAt: number }
  | {
      readonly limit: 'member_daily_images';
      readonly max: number;
      readonly remaining: number;
      readonly resetsAt: number;
    }
  | {
      readonly limit: 'guild_daily_images';
      readonly max: number;
      readonly remaining: number;
      readonly resetsAt: number;
    }
  | { readonly limit: 'guild_daily_budget'; readonly maxUsd: number; readonly resetsAt: number }
  | { readonly limit: 'global_daily_budget'; readonly resetsAt: number };

/** Start of the UTC day that contains `now`; quotas and budgets count from there. */
export function utcDayStart(now: number): number {
  const day = new Date(now);
  return Date.UTC(day.getUTCFullYear(), day.getUTCMonth(), day.getUTCDate());
}

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Decides whether a request for `images` images costing `costUsd` may start, given the usage so far.
 * Pure: the caller runs it inside the transaction that inserts the job, so parallel requests cannot both pass.
 */
export function checkLimits(
  usage: UsageSnapshot,
  request: { images: number; costUsd: number; now: number },
  limits: DefaultLimits,
  globalDailyBudgetUsd: number,
): Refusal | undefined {
  const resetsAt = utcDayStart(request.now) + DAY_MS;
  if (usage.memberActiveJobs >= limits.userMaxActiveJobs) {
    return { limit: 'member_jobs', max: limits.userMaxActiveJobs };
  }
  if (usage.memberLastJobAt !== null && limits.userCooldownSeconds > 0) {
    const retryAt = usage.memberLastJobAt + limits.userCooldownSeconds * 1000;
    if (request.now < retryAt) return { limit: 'cooldown', retryAt };
  }
  if (usage.memberImagesToday + request.images > limits.userDailyImages) {
    const remaining = Math.max(0, limits.userDailyImages - usage.memberImagesToday);
    return { limit: 'member_daily_images', max: limits.userDailyImages, remaining, resetsAt };
  }
  if (usage.guildImagesToday + request.images > limits.guildDailyImages) {
    const remaining = Math.max(0, limits.guildDailyImages - usage.guildImagesToday);
    return { limit: 'guild_daily_images', max: limits.guildDailyImages, remaining, resetsAt };
  }
  if (usage.guildCostTodayUsd + request.costUsd > limits.guildDailyBudgetUsd + 1e-9) {
    return { limit: 'guild_daily_budget', maxUsd: limits.guildDailyBudgetUsd, resetsAt };
  }
  if (usage.globalCostTodayUsd + request.costUsd > globalDailyBudgetUsd + 1e-9) {
    return { limit: 'global_daily_budget', resetsAt };
  }
  return undefined;
}
