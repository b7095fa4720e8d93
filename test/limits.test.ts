import { describe, expect, it } from 'vitest';
import { checkLimits, utcDayStart, type UsageSnapshot } from '../src/limits/admission.js';
import { estimateCost, parsePriceOverrides } from '../src/limits/pricing.js';

const limits = {
  userMaxActiveJobs: 2,
  userCooldownSeconds: 30,
  userDailyImages: 10,
  guildDailyImages: 100,
  guildDailyBudgetUsd: 5,
};
const idle: UsageSnapshot = {
  memberActiveJobs: 0,
  memberLastJobAt: null,
  memberImagesToday: 0,
  guildImagesToday: 0,
  guildCostTodayUsd: 0,
  globalCostTodayUsd: 0,
};
const now = Date.UTC(2026, 10, 26, 15, 30);
const tomorrow = Date.UTC(2026, 10, 27);

describe('checkLimits', () => {
  it('admits a request within every limit', () => {
    expect(checkLimits(idle, { images: 4, costUsd: 0.16, now }, limits, 20)).toBeUndefined();
  });

  it('names the limit that refuses, and when it frees up', () => {
    expect(checkLimits({ ...idle, memberActiveJobs: 2 }, { images: 1, costUsd: 0.04, now }, limits, 20)).toEqual({
      limit: 'member_jobs',
      max: 2,
    });
    expect(
      checkLimits({ ...idle, memberLastJobAt: now - 10_000 }, { images: 1, costUsd: 0.04, now }, limits, 20),
    ).toEqual({
      limit: 'cooldown',
      retryAt: now + 20_000,
    });
    expect(checkLimits({ ...idle, memberImagesToday: 8 }, { images: 4, costUsd: 0.16, now }, limits, 20)).toEqual({
      limit: 'member_daily_images',
      max: 10,
      remaining: 2,
      resetsAt: tomorrow,
    });
    expect(
      checkLimits({ ...idle, guildImagesToday: 100 }, { images: 1, costUsd: 0.04, now }, limits, 20),
    ).toMatchObject({
      limit: 'guild_daily_images',
      remaining: 0,
    });
    expect(checkLimits({ ...idle, guildCostTodayUsd: 4.9 }, { images: 4, costUsd: 0.16, now }, limits, 20)).toEqual({
      limit: 'guild_daily_budget',
      maxUsd: 5,
      resetsAt: tomorrow,
    });
    expect(checkLimits({ ...idle, globalCostTodayUsd: 19.9 }, { images: 4, costUsd: 0.16, now }, limits, 20)).toEqual({
      limit: 'global_daily_budget',
      resetsAt: tomorrow,
    });
  });

  it('lets a budget be used up exactly', () => {
    expect(
      checkLimits({ ...idle, guildCostTodayUsd: 4.84 }, { images: 4, costUsd: 0.16, now }, limits, 20),
    ).toBeUndefined();
  });

  it('counts days in UTC', () => {
    expect(utcDayStart(now)).toBe(Date.UTC(2026, 10, 26));
  });
});

describe('prices', () => {
  it('uses the registry’s prices, overridden per model and per resolution', () => {
    const parsed = parsePriceOverrides('imagen4=0.05, imagen4-ultra:2K=0.08');
    expect(parsed).toEqual({ ok: true, prices: { imagen4: 0.05, 'imagen4-ultra:2K': 0.08 } });
    if (!parsed.ok) return;
    expect(estimateCost(parsed.prices, 'imagen4', '1K', 4)).toBe(0.2);
    expect(estimateCost(parsed.prices, 'imagen4-ultra', '2K', 2)).toBe(0.16);
    expect(estimateCost(parsed.prices, 'imagen4-ultra', '1K', 1)).toBe(0.06);
    expect(estimateCost(parsed.prices, 'imagen4-fast', undefined, 3)).toBe(0.06);
  });

  it('prices each resolution as fal bills it, and an override of the model scales the same way', () => {
    expect(estimateCost({}, 'nano-banana-2', '0.5K', 4)).toBe(0.24);
    expect(estimateCost({}, 'nano-banana-2', '1K', 1)).toBe(0.08);
    expect(estimateCost({}, 'nano-banana-2', '2K', 1)).toBe(0.12);
    expect(estimateCost({}, 'nano-banana-2', '4K', 2)).toBe(0.32);
    expect(estimateCost({}, 'nano-banana-pro', '2K', 1)).toBe(0.15);
    expect(estimateCost({}, 'nano-banana-pro', '4K', 1)).toBe(0.3);
    expect(estimateCost({ 'nano-banana-2': 0.1 }, 'nano-banana-2', '4K', 1)).toBe(0.2);
    expect(estimateCost({ 'nano-banana-2': 0.1, 'nano-banana-2:4K': 0.25 }, 'nano-banana-2', '4K', 1)).toBe(0.25);
  });

  it('prices an Upscale at the upscaler, whatever model made the image', () => {
    expect(estimateCost({}, 'nano-banana-pro', '4K', 1, 'upscale')).toBe(0.002);
    const parsed = parsePriceOverrides('esrgan=0.01');
    expect(parsed).toEqual({ ok: true, prices: { esrgan: 0.01 } });
    if (parsed.ok) expect(estimateCost(parsed.prices, 'nano-banana-2', '1K', 1, 'upscale')).toBe(0.01);
    // The upscaler has one price: a per-resolution one would be silently ignored, so it is refused.
    expect(parsePriceOverrides('esrgan:1K=0.05').ok).toBe(false);
  });

  it('refuses malformed or unknown entries', () => {
    expect(parsePriceOverrides('imagen4').ok).toBe(false);
    expect(parsePriceOverrides('dalle=0.1').ok).toBe(false);
    expect(parsePriceOverrides('imagen4:8K=0.1').ok).toBe(false);
  });
});
