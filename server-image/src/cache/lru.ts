/**
 * Which cached models to evict when the node cache holds more than its limit: the least recently
 * used first, never one that is being served, downloaded or re-hashed.
 */

/** What eviction needs to know of one cached model. */
export interface CachedEntry {
  sha256: string;
  bytes: number;
  /** When it was last served (ms since the epoch). */
  lastUsed: number;
  /** Being read or written right now: never evicted. */
  busy: boolean;
}

/**
 * The digests to evict, oldest use first, until the total fits `maxBytes` (0: no limit). When the
 * busy entries alone exceed the limit, every idle one goes and the cache stays over it until they
 * are released.
 */
export function evictionVictims(entries: readonly CachedEntry[], maxBytes: number): string[] {
  if (maxBytes === 0) return [];
  let total = entries.reduce((sum, e) => sum + e.bytes, 0);
  const victims: string[] = [];
  const idle = entries.filter((e) => !e.busy).sort((a, b) => a.lastUsed - b.lastUsed || (a.sha256 < b.sha256 ? -1 : 1));
  for (const entry of idle) {
    if (total <= maxBytes) break;
    victims.push(entry.sha256);
    total -= entry.bytes;
  }
  return victims;
}
