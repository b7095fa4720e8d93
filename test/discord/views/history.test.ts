import { describe, expect, it } from 'vitest';
import { HISTORY_PAGE_SIZE, historyStatus, renderHistory } from '../../../src/discord/views/history.js';
import { openSqlite } from '../../../src/store/database.js';
import { GenerationStore, type Generation } from '../../../src/store/generations.js';
import { newGeneration } from '../../store/newGeneration.js';

/** Rows go through the store, so they are what the store really returns. */
async function generation(id: number, overrides: Partial<Generation> = {}): Promise<Generation> {
  const database = openSqlite(':memory:');
  try {
    const store = new GenerationStore(database, { owner: 'test-process', leaseMs: 60_000 });
    const created = await store.create(
      newGeneration({
        modelId: 'nano-banana-pro',
        input: { prompt: 'a fox', aspect_ratio: 'auto', num_images: 4, seed: 1, resolution: '4K' },
        requesterId: '20000000000000000001',
        guildId: '30000000000000000001',
        channelId: '30000000000000000002',
        createdAt: 1_700_000_000_000,
      }),
    );
    await store.markDone(created.id, '40000000000000000001', 4, 0.3, 1_700_000_001_000);
    return { ...(await store.require(created.id)), id, ...overrides };
  } finally {
    await database.close();
  }
}

describe('renderHistory', () => {
  it('fits a full page in Discord’s 2000 characters with the longest ids, links and prompts', async () => {
    const prompt = '*_[x](y)_* '.repeat(200);
    const generations = await Promise.all(
      Array.from({ length: HISTORY_PAGE_SIZE }, (_, i) =>
        generation(Number.MAX_SAFE_INTEGER - i, {
          input: { prompt, aspect_ratio: 'auto', num_images: 4, seed: 1 },
          ...(i % 2 === 1 && { status: 'failed', failureKind: 'model_unavailable', messageId: null }),
        }),
      ),
    );
    const view = renderHistory({ generations, newer: true, older: true });
    expect(view.content.length).toBeLessThanOrEqual(2000);
    expect(view.content.match(/^\*\*#\d+\*\*/gm)).toHaveLength(HISTORY_PAGE_SIZE);
    // Quoted: no masked link or markdown survives from the prompt.
    expect(view.content).not.toMatch(/(?<!\\)\[x\]\(y\)/);
  });

  it('names each way a job can stand', async () => {
    expect(historyStatus(await generation(1))).toBe('✅ 4 images');
    expect(historyStatus(await generation(1, { imageCount: 1, messageId: null }))).toBe('✅ 1 image, message deleted');
    expect(historyStatus(await generation(1, { status: 'failed', failureKind: 'timeout' }))).toBe(
      '⚠️ failed: timed out',
    );
    expect(historyStatus(await generation(1, { status: 'cancelled', failureKind: 'cancelled' }))).toBe('✖️ cancelled');
    expect(historyStatus(await generation(1, { status: 'queued' }))).toBe('⏳ in progress');
  });
});
