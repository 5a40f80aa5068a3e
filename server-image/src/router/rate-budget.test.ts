import { RateBudget } from './rate-budget.js';

describe('RateBudget', () => {
  it('admits a second of burst, then as many per second as it allows', () => {
    let now = 0;
    const budget = new RateBudget(10, () => now);
    const admitted = (n: number): number => Array.from({ length: n }, () => budget.take()).filter(Boolean).length;
    expect(admitted(25)).toBe(10);
    now += 500;
    expect(admitted(25)).toBe(5);
    now += 10_000;
    expect(admitted(25)).toBe(10);
  });

  it('admits every one at 0', () => {
    const budget = new RateBudget(0, () => 0);
    expect(Array.from({ length: 1000 }, () => budget.take()).every(Boolean)).toBe(true);
  });
});
