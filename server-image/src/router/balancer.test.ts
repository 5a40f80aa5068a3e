import { Balancer, ShareSampler, WeightedPicker, hash32, stickyPick } from './balancer.js';
import type { Routes } from '../../../contract/routes.js';

const revs = (...weights: number[]) => weights.map((weight, i) => ({ name: `r${i}`, url: `http://r${i}`, weight }));

function countPicks(next: () => string, n: number): Record<string, number> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const k = next();
    counts[k] = (counts[k] ?? 0) + 1;
  }
  return counts;
}

describe('WeightedPicker', () => {
  it.each([
    [[10, 90], 100, { r0: 10, r1: 90 }],
    [[10, 90], 10_000, { r0: 1000, r1: 9000 }],
    [[1, 1, 1], 3, { r0: 1, r1: 1, r2: 1 }],
    [[5, 0, 3], 8, { r0: 5, r2: 3 }],
    [[100, 0], 7, { r0: 7 }],
    [[33, 67], 100, { r0: 33, r1: 67 }],
  ])('weights %j over %i picks are exact', (weights, n, expected) => {
    const p = new WeightedPicker(revs(...weights));
    expect(countPicks(() => p.next(), n)).toEqual(expected);
  });

  it('interleaves rather than bursting', () => {
    const p = new WeightedPicker(revs(10, 90));
    const seq = Array.from({ length: 20 }, () => p.next());
    expect(seq.filter((s) => s === 'r0')).toHaveLength(2);
    expect(seq.slice(0, 10).filter((s) => s === 'r0')).toHaveLength(1);
  });

  it('is exact in every window of sum(weights) picks', () => {
    const p = new WeightedPicker(revs(3, 7));
    const seq = Array.from({ length: 100 }, () => p.next());
    for (let start = 0; start + 10 <= seq.length; start += 10) {
      expect(seq.slice(start, start + 10).filter((s) => s === 'r0')).toHaveLength(3);
    }
  });

  it('refuses all-zero weights', () => {
    expect(() => new WeightedPicker(revs(0, 0))).toThrow(/no revision/);
  });
});

describe('ShareSampler', () => {
  it.each([
    [0, 100, 0],
    [10, 100, 10],
    [10, 1000, 100],
    [33, 300, 99],
    [100, 50, 50],
  ])('%i%% of %i calls is %i', (percent, n, expected) => {
    const s = new ShareSampler(percent);
    expect(Array.from({ length: n }, () => s.next()).filter(Boolean)).toHaveLength(expected);
  });
});

describe('stickyPick', () => {
  it('is stable for a key and spreads keys by weight', () => {
    const r = revs(10, 90);
    const counts: Record<string, number> = {};
    for (let i = 0; i < 20_000; i++) {
      const key = `user-${i}`;
      const a = stickyPick(r, key);
      expect(stickyPick(r, key)).toBe(a);
      counts[a] = (counts[a] ?? 0) + 1;
    }
    expect(counts.r0 / 20_000).toBeGreaterThan(0.09);
    expect(counts.r0 / 20_000).toBeLessThan(0.11);
  });

  it('only moves keys into the revision whose weight grows', () => {
    for (let i = 0; i < 5000; i++) {
      const key = `k${i}`;
      if (stickyPick(revs(10, 90), key) === 'r0') expect(stickyPick(revs(20, 80), key)).toBe('r0');
    }
  });

  it('never picks a zero-weight revision', () => {
    for (let i = 0; i < 1000; i++) expect(stickyPick(revs(0, 5, 0), `k${i}`)).toBe('r1');
  });

  it('hash32 is a fixed function (FNV-1a + fmix32)', () => {
    expect(hash32('')).toBe(hash32(''));
    expect(hash32('a')).not.toBe(hash32('b'));
    expect(hash32('user-1')).toBeGreaterThanOrEqual(0);
    expect(hash32('user-1')).toBeLessThan(2 ** 32);
  });
});

describe('Balancer', () => {
  const routes = (extra: Partial<Routes> = {}): Routes => ({
    version: 1,
    generation: 1,
    revisions: revs(90, 10),
    ...extra,
  });

  it('mirrors exactly the share of requests not already on the mirror revision', () => {
    const b = new Balancer(routes({ mirror: { revision: 'r1', percent: 50 } }));
    const decisions = Array.from({ length: 1000 }, () => b.decide());
    const onStable = decisions.filter((d) => d.revision === 'r0');
    expect(onStable).toHaveLength(900);
    expect(onStable.filter((d) => d.mirror === 'r1')).toHaveLength(450);
    expect(decisions.filter((d) => d.revision === 'r1' && d.mirror)).toHaveLength(0);
  });

  it('uses the sticky value only when the routes name a sticky header', () => {
    const sticky = new Balancer(routes({ stickyHeader: 'x-user' }));
    const first = sticky.decide('alice').revision;
    for (let i = 0; i < 50; i++) expect(sticky.decide('alice').revision).toBe(first);
    const plain = new Balancer(routes());
    const picks = Array.from({ length: 100 }, () => plain.decide('alice').revision);
    expect(picks.filter((p) => p === 'r1')).toHaveLength(10);
  });

  it('does not mirror when percent is 0', () => {
    const b = new Balancer(routes({ mirror: { revision: 'r1', percent: 0 } }));
    expect(Array.from({ length: 100 }, () => b.decide()).some((d) => d.mirror)).toBe(false);
  });
});
