import { describe, expect, it } from 'vitest';
import { metricsPort } from '../src/bot.js';

const sharding = (shardIds: readonly number[] | undefined) => ({
  sharding: { count: shardIds ? 4 : undefined, shardIds, shardList: undefined, spawnDelayMs: 0 },
});

describe('the metrics port of a process', () => {
  it('is METRICS_PORT for one process, and METRICS_PORT plus its first shard under sharding', () => {
    expect(metricsPort(9464, sharding(undefined))).toBe(9464);
    expect(metricsPort(9464, sharding([0]))).toBe(9464);
    expect(metricsPort(9464, sharding([3]))).toBe(9467);
    expect(metricsPort(9464, sharding([2, 3]))).toBe(9466);
  });

  it('stays 0 (a free port, logged at start) whatever the shard', () => {
    expect(metricsPort(0, sharding([2]))).toBe(0);
  });
});
