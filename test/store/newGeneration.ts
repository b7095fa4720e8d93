import type { NewGeneration } from '../../src/store/generations.js';

/** A job as /imagine would save it, for tests that need rows without running one; `overrides` set what matters. */
export function newGeneration(overrides: Partial<NewGeneration> = {}): NewGeneration {
  return {
    modelId: 'nano-banana-2',
    input: { prompt: 'a fox', aspect_ratio: 'auto', num_images: 1, seed: 3, resolution: '1K' },
    safetyTolerance: '4',
    action: 'imagine',
    imageRefs: [],
    requesterId: '200000000000000001',
    guildId: '300000000000000001',
    channelId: '300000000000000002',
    applicationId: '300000000000000003',
    interactionToken: 'token',
    tokenExpiresAt: 1,
    parentId: null,
    createdAt: 1,
    appPermissions: null,
    attachmentSizeLimit: null,
    inThread: false,
    quotaImages: 1,
    costUsd: 0.08,
    ...overrides,
  };
}
