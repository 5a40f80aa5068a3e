import type { RouteRevision, Routes } from '../../../contract/routes.js';

/**
 * Smooth weighted round-robin (nginx's algorithm). Deterministic and exact: over any window of
 * `sum(weights)` consecutive picks each revision is chosen exactly `weight` times, and the choices
 * are interleaved (10/90 gives one canary request in every ten, not ten in a row).
 */
export class WeightedPicker {
  private readonly names: string[];
  private readonly weights: number[];
  private readonly current: number[];
  private readonly total: number;

  /** @param revisions the candidates; revisions with weight 0 are never picked. */
  constructor(revisions: readonly RouteRevision[]) {
    const live = revisions.filter((r) => r.weight > 0);
    if (live.length === 0) throw new Error('weighted picker: no revision has a weight above 0');
    this.names = live.map((r) => r.name);
    this.weights = live.map((r) => r.weight);
    this.current = live.map(() => 0);
    this.total = this.weights.reduce((a, b) => a + b, 0);
  }

  /** The next revision name in the exact weighted sequence. */
  next(): string {
    let best = 0;
    for (let i = 0; i < this.weights.length; i++) {
      this.current[i] += this.weights[i];
      if (this.current[i] > this.current[best]) best = i;
    }
    this.current[best] -= this.total;
    return this.names[best];
  }
}

/**
 * Spreads `percent` of the calls over every 100 exactly and evenly (an error-diffusion counter),
 * so a 10 % mirror mirrors every tenth eligible request rather than a random tenth.
 */
export class ShareSampler {
  private acc = 0;

  /** @param percent 0..100 */
  constructor(private readonly percent: number) {}

  /** Whether this call falls inside the share. */
  next(): boolean {
    this.acc += this.percent;
    if (this.acc >= 100) {
      this.acc -= 100;
      return true;
    }
    return false;
  }
}

/** 32-bit FNV-1a over UTF-8 with murmur3's final mix, so short similar keys spread evenly. */
export function hash32(key: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(key, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * Maps a sticky key to a revision: the key's hash is a point in [0, 1) and each revision owns a
 * slice of that interval proportional to its weight, in document order. The same key always lands
 * on the same revision while the weights stay the same; when one revision's slice grows, keys only
 * move into it, never between the others.
 */
export function stickyPick(revisions: readonly RouteRevision[], key: string): string {
  const total = revisions.reduce((a, r) => a + r.weight, 0);
  if (total <= 0) throw new Error('sticky pick: no revision has a weight above 0');
  const point = (hash32(key) / 0x1_0000_0000) * total;
  let upper = 0;
  let last = revisions[0].name;
  for (const r of revisions) {
    if (r.weight === 0) continue;
    upper += r.weight;
    last = r.name;
    if (point < upper) return r.name;
  }
  return last;
}

/** Where one request goes: the revision that answers it, and the revision that gets a copy, if any. */
export interface RouteDecision {
  revision: string;
  mirror?: string;
}

/**
 * The routing decision for a Routes document: exact split, sticky header, mirror share. Holds the
 * round-robin and mirror counters, so one Balancer serves one generation of routes.
 */
export class Balancer {
  private readonly picker: WeightedPicker;
  private readonly sampler?: ShareSampler;

  /** @param routes a validated Routes document */
  constructor(readonly routes: Routes) {
    this.picker = new WeightedPicker(routes.revisions);
    if (routes.mirror && routes.mirror.percent > 0) this.sampler = new ShareSampler(routes.mirror.percent);
  }

  /**
   * Decides one request. `stickyValue` is the value of the sticky header when the routes name one
   * and the request carries it. Requests already headed to the mirror revision are not mirrored
   * and do not consume the mirror share.
   */
  decide(stickyValue?: string): RouteDecision {
    const revision =
      stickyValue !== undefined && this.routes.stickyHeader
        ? stickyPick(this.routes.revisions, stickyValue)
        : this.picker.next();
    const mirror = this.routes.mirror;
    if (!mirror || !this.sampler || mirror.revision === revision) return { revision };
    return this.sampler.next() ? { revision, mirror: mirror.revision } : { revision };
  }
}
