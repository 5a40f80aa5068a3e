import { evictionVictims, type CachedEntry } from './lru.js';

const entry = (sha256: string, bytes: number, lastUsed: number, busy = false): CachedEntry => ({
  sha256,
  bytes,
  lastUsed,
  busy,
});

describe('evictionVictims', () => {
  it('evicts nothing under the limit, or without one', () => {
    const entries = [entry('a', 10, 1), entry('b', 10, 2)];
    expect(evictionVictims(entries, 20)).toEqual([]);
    expect(evictionVictims(entries, 0)).toEqual([]);
  });

  it('evicts the least recently used until the rest fits', () => {
    const entries = [entry('new', 10, 30), entry('old', 10, 10), entry('mid', 10, 20)];
    expect(evictionVictims(entries, 15)).toEqual(['old', 'mid']);
    expect(evictionVictims(entries, 25)).toEqual(['old']);
  });

  it('never evicts a busy entry, even the oldest, and stays over the limit if it must', () => {
    const entries = [entry('served', 10, 1, true), entry('idle', 10, 5), entry('recent', 10, 9)];
    expect(evictionVictims(entries, 15)).toEqual(['idle', 'recent']);
    expect(evictionVictims([entry('served', 100, 1, true)], 15)).toEqual([]);
  });
});
