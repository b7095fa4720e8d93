import { describe, expect, it } from 'vitest';
import { HISTORY_PAGE_SIZE, historyStatus, renderHistory } from '../../../src/discord/views/history.js';
import type { Generation } from '../../../src/store/generations.js';

function generation(id: number, overrides: Partial<Generation> = {}): Generation {
  return {
    id,
    status: 'done',
    modelId: 'nano-banana-pro',
    input: { prompt: 'a fox', aspect_ratio: 'auto', num_images: 4, seed: 1, resolution: '4K' },
    safetyTolerance: '4',
    requesterId: '20000000000000000001',
    guildId: '30000000000000000001',
    channelId: '30000000000000000002',
    applicationId: '30000000000000000003',
    interactionToken: null,
    tokenExpiresAt: null,
    parentId: null,
    falRequestId: null,
    messageId: '40000000000000000001',
    imageCount: 4,
    failureKind: null,
    createdAt: 1_700_000_000_000,
    submittedAt: null,
    finishedAt: null,
    appPermissions: null,
    attachmentSizeLimit: null,
    inThread: false,
    dispatchedAt: null,
    quotaImages: 4,
    costUsd: 0.3,
    ...overrides,
  };
}

describe('renderHistory', () => {
  it('fits a full page in Discord’s 2000 characters with the longest ids, links and prompts', () => {
    const prompt = '*_[x](y)_* '.repeat(200);
    const generations = Array.from({ length: HISTORY_PAGE_SIZE }, (_, i) =>
      generation(Number.MAX_SAFE_INTEGER - i, {
        input: { prompt, aspect_ratio: 'auto', num_images: 4, seed: 1 },
        ...(i % 2 === 1 && { status: 'failed', failureKind: 'model_unavailable', messageId: null }),
      }),
    );
    const view = renderHistory({ generations, newer: true, older: true });
    expect(view.content.length).toBeLessThanOrEqual(2000);
    expect(view.content.match(/^\*\*#\d+\*\*/gm)).toHaveLength(HISTORY_PAGE_SIZE);
    // Quoted: no masked link or markdown survives from the prompt.
    expect(view.content).not.toMatch(/(?<!\\)\[x\]\(y\)/);
  });

  it('names each way a job can stand', () => {
    expect(historyStatus(generation(1))).toBe('✅ 4 images');
    expect(historyStatus(generation(1, { imageCount: 1, messageId: null }))).toBe('✅ 1 image, message deleted');
    expect(historyStatus(generation(1, { status: 'failed', failureKind: 'timeout' }))).toBe('⚠️ failed: timed out');
    expect(historyStatus(generation(1, { status: 'cancelled', failureKind: 'cancelled' }))).toBe('✖️ cancelled');
    expect(historyStatus(generation(1, { status: 'queued' }))).toBe('⏳ in progress');
  });
});
