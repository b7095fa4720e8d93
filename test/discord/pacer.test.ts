import { describe, expect, it } from 'vitest';
import { LoopPacer } from '../../src/discord/pacer.js';

describe('LoopPacer', () => {
  it('starts tasks in order, one per event-loop turn, so other callbacks run in between', async () => {
    const pacer = new LoopPacer();
    const log: string[] = [];
    const task = (name: string) => async () => {
      log.push(name);
      // Stands for I/O that arrives while a task starts (an interaction to acknowledge).
      setImmediate(() => log.push(`after ${name}`));
      return name;
    };
    const results = await Promise.all([pacer.run(task('a')), pacer.run(task('b')), pacer.run(task('c'))]);
    expect(results).toEqual(['a', 'b', 'c']);
    expect(log.slice(0, 5)).toEqual(['a', 'after a', 'b', 'after b', 'c']);
  });

  it('passes a task’s failure to its caller and keeps going', async () => {
    const pacer = new LoopPacer();
    const failing = pacer.run(async () => {
      throw new Error('boom');
    });
    const next = pacer.run(async () => 'next');
    await expect(failing).rejects.toThrow('boom');
    await expect(next).resolves.toBe('next');
  });

  it('lets started tasks run side by side', async () => {
    const pacer = new LoopPacer();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow = pacer.run(() => gate.then(() => 'slow'));
    const quick = await pacer.run(async () => 'quick');
    expect(quick).toBe('quick');
    release();
    await expect(slow).resolves.toBe('slow');
  });
});
