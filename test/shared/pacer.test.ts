import { describe, expect, it } from 'vitest';
import { LoopPacer } from '../../src/shared/pacer.js';

/** Counts event-loop turns: an immediate that queues itself again runs once per turn. */
function turnCounter(): { read(): number; stop(): void } {
  let turns = 0;
  let running = true;
  const tick = () => {
    turns += 1;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  return { read: () => turns, stop: () => (running = false) };
}

describe('LoopPacer', () => {
  it('starts tasks in order, each in a later event-loop turn than the one before', async () => {
    const pacer = new LoopPacer();
    const turns = turnCounter();
    const started: Array<[string, number]> = [];
    const task = (name: string) => () => {
      started.push([name, turns.read()]);
      return Promise.resolve(name);
    };
    const results = await Promise.all(['a', 'b', 'c', 'd'].map((name) => pacer.run(task(name))));
    turns.stop();
    expect(results).toEqual(['a', 'b', 'c', 'd']);
    expect(started.map(([name]) => name)).toEqual(['a', 'b', 'c', 'd']);
    const at = started.map(([, turn]) => turn);
    for (let i = 1; i < at.length; i += 1) expect(at[i]).toBeGreaterThan(at[i - 1]!);
  });

  it('starts urgent tasks before routine ones still waiting', async () => {
    const pacer = new LoopPacer();
    const started: string[] = [];
    const task = (name: string) => () => Promise.resolve(void started.push(name));
    await Promise.all([
      pacer.run(task('progress 1')),
      pacer.run(task('progress 2')),
      pacer.run(task('progress 3')),
      pacer.run(task('result'), 'urgent'),
    ]);
    // All four were queued before the first turn came: the urgent one goes first, then the rest in order.
    expect(started).toEqual(['result', 'progress 1', 'progress 2', 'progress 3']);
  });

  it('drops a task at once when its signal is aborted, without waiting for the tasks ahead of it', async () => {
    const pacer = new LoopPacer();
    const started: string[] = [];
    const controller = new AbortController();
    const ahead = Array.from({ length: 5 }, (_, i) =>
      pacer.run(() => Promise.resolve(void started.push(`ahead ${i}`))),
    );
    const dropped = pacer.run(() => Promise.resolve(void started.push('dropped')), 'routine', controller.signal);
    controller.abort();
    await expect(dropped).rejects.toThrow(/abort/i);
    expect(started).toEqual([]);
    await Promise.all(ahead);
    expect(started).toEqual(['ahead 0', 'ahead 1', 'ahead 2', 'ahead 3', 'ahead 4']);
    await expect(pacer.run(() => Promise.resolve('late'), 'routine', controller.signal)).rejects.toThrow(/abort/i);
  });

  it('passes a failure to its caller, even a synchronous throw, and keeps going', async () => {
    const pacer = new LoopPacer();
    const failing = pacer.run(() => Promise.reject(new Error('boom')));
    const throwing = pacer.run(() => {
      throw new Error('sync boom');
    });
    const next = pacer.run(() => Promise.resolve('next'));
    await expect(failing).rejects.toThrow('boom');
    await expect(throwing).rejects.toThrow('sync boom');
    await expect(next).resolves.toBe('next');
  });

  it('lets started tasks run side by side', async () => {
    const pacer = new LoopPacer();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow = pacer.run(() => gate.then(() => 'slow'));
    const quick = await pacer.run(() => Promise.resolve('quick'));
    expect(quick).toBe('quick');
    release();
    await expect(slow).resolves.toBe('slow');
  });
});
