import { DEFAULT_BACKOFF, retryDelayMs } from './retry.js';

describe('retryDelayMs', () => {
  const schedule = (random: number): number[] => [1, 2, 3, 4, 5, 6, 7].map((a) => retryDelayMs(a, () => random));

  test('doubles from 0.5 s up to 10 s; half of each delay is fixed, half random', () => {
    expect(schedule(0)).toEqual([250, 500, 1000, 2000, 4000, 5000, 5000]);
    expect(schedule(0.5)).toEqual([375, 750, 1500, 3000, 6000, 7500, 7500]);
    expect(schedule(0.999999)).toEqual([500, 1000, 2000, 4000, 8000, 10000, 10000]);
  });

  test('stays within the cap however many attempts failed', () => {
    expect(retryDelayMs(1000, () => 0.999999)).toBe(DEFAULT_BACKOFF.maxMs);
  });

  test('takes another base and cap (tests use milliseconds)', () => {
    expect([1, 2, 3, 4].map((a) => retryDelayMs(a, () => 0, { baseMs: 2, maxMs: 8 }))).toEqual([1, 2, 4, 4]);
  });
});
