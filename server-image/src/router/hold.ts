/**
 * The hold queue: requests routed to a revision whose route says `hold` (no ready pod: scaled to
 * zero, or starting from it) wait here instead of failing, while the router's stats tell the
 * operator to start the revision (contract/routes.ts). One FIFO per router process across all
 * revisions, bounded by MODELSHIP_ROUTER_MAX_HELD, so release keeps arrival order and the bound is
 * per pod. It knows nothing of HTTP: the proxy puts its requests in, answers the ones that expire
 * and forwards the ones released. Every request that meets a hold ends here exactly once with one
 * outcome (released, timeout, full, cancelled), counted in its revision's load meter and reported
 * through {@link HoldEvents.ended}.
 */
import { performance } from 'node:perf_hooks';
import type { Clock, LoadMeter } from './load.js';

/** How a held request left the queue. */
export type HoldOutcome = 'released' | 'timeout' | 'full' | 'cancelled';

/** What the queue needs to know about a request: the revision it waits for (the queue updates it). */
export interface HeldRequest {
  revision: string;
}

/** Where a held request goes under the routes now in force: a revision, and whether that one holds. */
export interface Placement {
  revision: string;
  hold: boolean;
}

/** What the queue reports. */
export interface HoldEvents<T> {
  /** `revision`'s held count went from 0 to 1 (publish the stats now, so the operator reacts). */
  firstHeld(revision: string): void;
  /**
   * `request` is out of the queue without its revision having come up: its deadline passed, or the
   * router is shutting down. Answer it 503.
   */
  expired(request: T, reason: 'deadline' | 'shutdown'): void;
  /** A request met a hold for `revision` and left with `outcome` after `heldMs` (0 when refused at once). */
  ended(revision: string, outcome: HoldOutcome, heldMs: number): void;
}

interface Waiting {
  arrivedAt: number;
  timer: NodeJS.Timeout;
}

/** The hold queue of one router process (see the module doc). */
export class HoldQueue<T extends HeldRequest> {
  private readonly waiting = new Map<T, Waiting>();

  /**
   * @param maxHeld most requests held at once (MODELSHIP_ROUTER_MAX_HELD)
   * @param meter the load meter of a revision
   * @param now the monotonic clock the held times are measured with
   */
  constructor(
    readonly maxHeld: number,
    private readonly meter: (revision: string) => LoadMeter,
    private readonly events: HoldEvents<T>,
    private readonly now: Clock = () => performance.now(),
  ) {}

  /** Requests held right now. */
  get size(): number {
    return this.waiting.size;
  }

  /**
   * Holds `request` for `request.revision` until it is released, cancelled, or `timeoutMs` has
   * passed. False when the queue is full: the request is counted refused and not held (answer it
   * 503 at once). A held request counts as in flight at its revision from now on.
   */
  hold(request: T, timeoutMs: number): boolean {
    const meter = this.meter(request.revision);
    if (this.waiting.size >= this.maxHeld) {
      meter.refuse();
      this.events.ended(request.revision, 'full', 0);
      return false;
    }
    meter.start();
    const timer = setTimeout(() => this.expire(request, 'deadline'), timeoutMs);
    this.waiting.set(request, { arrivedAt: this.now(), timer });
    if (meter.hold()) this.events.firstHeld(request.revision);
    return true;
  }

  /** Takes `request` out of the queue because its caller went away; false if it was not held. */
  cancel(request: T): boolean {
    return this.leave(request, 'cancelled');
  }

  /**
   * After new routes: takes out, in arrival order, the requests whose placement no longer holds,
   * and returns them in that order for the caller to send. A request whose revision left the routes
   * is placed again (`place`), possibly on another held revision, where it waits on with its
   * original deadline. A released request stays in flight at the revision it is released to.
   */
  release(place: (request: T) => Placement): T[] {
    const released: T[] = [];
    for (const request of this.waiting.keys()) {
      const to = place(request);
      if (to.revision !== request.revision) this.move(request, to.revision);
      if (to.hold) continue;
      this.leave(request, 'released');
      released.push(request);
    }
    return released;
  }

  /** Expires every held request at once (the router is shutting down), oldest first. */
  expireAll(): void {
    for (const request of this.waiting.keys()) this.expire(request, 'shutdown');
  }

  private expire(request: T, reason: 'deadline' | 'shutdown'): void {
    if (this.leave(request, 'timeout')) this.events.expired(request, reason);
  }

  private move(request: T, revision: string): void {
    const from = this.meter(request.revision);
    from.unhold(false);
    from.finish();
    const to = this.meter(revision);
    to.start();
    request.revision = revision;
    if (to.hold()) this.events.firstHeld(revision);
  }

  /** Takes `request` out with `outcome`; false if it was not held. */
  private leave(request: T, outcome: Exclude<HoldOutcome, 'full'>): boolean {
    const w = this.waiting.get(request);
    if (!w) return false;
    this.waiting.delete(request);
    clearTimeout(w.timer);
    const meter = this.meter(request.revision);
    meter.unhold(outcome === 'timeout');
    if (outcome !== 'released') meter.finish();
    this.events.ended(request.revision, outcome, this.now() - w.arrivedAt);
    return true;
  }
}
