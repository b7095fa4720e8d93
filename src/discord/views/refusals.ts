/** What a member reads when a limit refuses their request. */
import { TimestampStyles, time } from 'discord.js';
import type { Refusal } from '../../limits/admission.js';

/** Plain words for a refused request: which limit, and when it frees up (as a live Discord timestamp). */
export function refusalMessage(refusal: Refusal): string {
  const when = (at: number) => time(Math.ceil(at / 1000), TimestampStyles.RelativeTime);
  switch (refusal.limit) {
    case 'member_jobs':
      return refusal.max === 1
        ? 'You already have a job running. Please wait for it to finish (or cancel it) before starting another.'
        : `You already have ${refusal.max} jobs running, the most at once on this server. Please wait for one to finish.`;
    case 'cooldown':
      return `Please wait a moment between requests: you can use /imagine again ${when(refusal.retryAt)}.`;
    case 'member_daily_images':
      return refusal.remaining > 0
        ? `You have ${refusal.remaining} of your ${refusal.max} images left today: ask for fewer images. Your limit resets ${when(refusal.resetsAt)}.`
        : `You have used all ${refusal.max} of your images for today. Your limit resets ${when(refusal.resetsAt)}.`;
    case 'guild_daily_images':
      return refusal.remaining > 0
        ? `This server has ${refusal.remaining} of its ${refusal.max} images left today: ask for fewer images. It resets ${when(refusal.resetsAt)}.`
        : `This server has used all ${refusal.max} of its images for today. It resets ${when(refusal.resetsAt)}.`;
    case 'guild_daily_budget':
      return `This server has reached its daily spending limit ($${refusal.maxUsd.toFixed(2)}). It resets ${when(refusal.resetsAt)}.`;
    case 'global_daily_budget':
      return `The bot has reached its daily spending limit across all servers. It resets ${when(refusal.resetsAt)}.`;
  }
}
