import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ProgressThrottle } from '../../src/generation/progressThrottle.js';

describe('ProgressThrottle', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const setup = () => {
    const sent: { value: number; at: number }[] = [];
    const throttle = new ProgressThrottle<number>(
      2000,
      (value) => {
        sent.push({ value, at: Date.now() });
        return Promise.resolve();
      },
      (a, b) => a === b,
    );
    return { sent, throttle };
  };

  it('sends the first value at once and then at most one per interval, newest wins', async () => {
    const { sent, throttle } = setup();
    throttle.push(1);
    await vi.advanceTimersByTimeAsync(0);
    for (let i = 2; i <= 30; i += 1) {
      throttle.push(i);
      await vi.advanceTimersByTimeAsync(100);
    }
    await vi.advanceTimersByTimeAsync(5000);
    expect(sent.map((s) => s.value)).toEqual([1, 21, 30]);
    for (let i = 1; i < sent.length; i += 1) {
      expect(sent[i]!.at - sent[i - 1]!.at).toBeGreaterThanOrEqual(2000);
    }
  });

  it('counts the interval from the end of the previous send, so slow sends never bunch up', async () => {
    const sent: { value: number; start: number; end: number }[] = [];
    const throttle = new ProgressThrottle<number>(
      2000,
      async (value) => {
        const start = Date.now();
        await new Promise((resolve) => setTimeout(resolve, 1500));
        sent.push({ value, start, end: Date.now() });
      },
      (a, b) => a === b,
    );
    for (let i = 1; i <= 10; i += 1) {
      throttle.push(i);
      await vi.advanceTimersByTimeAsync(1000);
    }
    await vi.advanceTimersByTimeAsync(10_000);
    expect(sent.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < sent.length; i += 1) {
      expect(sent[i]!.start - sent[i - 1]!.end).toBeGreaterThanOrEqual(2000);
    }
    expect(sent.at(-1)?.value).toBe(10);
  });

  it('skips values equal to the last one', async () => {
    const { sent, throttle } = setup();
    throttle.push(1);
    await vi.advanceTimersByTimeAsync(3000);
    throttle.push(1);
    await vi.advanceTimersByTimeAsync(3000);
    expect(sent).toHaveLength(1);
  });

  it('drops what is pending on stop, so the final message is never overwritten', async () => {
    const { sent, throttle } = setup();
    throttle.push(1);
    throttle.push(2);
    await throttle.stop();
    await vi.advanceTimersByTimeAsync(5000);
    throttle.push(3);
    expect(sent.map((s) => s.value)).toEqual([1]);
  });

  it('on stop, aborts the signal of the send in flight and waits for it', async () => {
    const signals: AbortSignal[] = [];
    let finish: () => void = () => undefined;
    const throttle = new ProgressThrottle<number>(
      2000,
      (_value, signal) => {
        signals.push(signal);
        return new Promise<void>((resolve) => (finish = resolve));
      },
      (a, b) => a === b,
    );
    throttle.push(1);
    await vi.advanceTimersByTimeAsync(0);
    expect(signals).toHaveLength(1);
    expect(signals[0]!.aborted).toBe(false);
    let stopped = false;
    const stopping = throttle.stop().then(() => (stopped = true));
    expect(signals[0]!.aborted).toBe(true);
    await vi.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(false);
    finish();
    await stopping;
    expect(stopped).toBe(true);
  });
});
