/**
 * The load meter of one revision as this router process sees it: the figures of the stats
 * document's `revisions[rev].load` (contract/stats.ts says what each means), which the operator
 * autoscales on. Plain counters on the data path (two clock reads and a multiply-add per request),
 * read into a document only when the stats are published or scraped.
 */
import { performance } from 'node:perf_hooks';
import type { RevisionLoad } from '../../../contract/stats.js';

/** A monotonic clock in milliseconds (performance.now in the router; a fake one in tests). */
export type Clock = () => number;

/**
 * In-flight requests of one revision, held ones included, and the time integral of that count
 * (`busyMs`): each change first adds `inFlight × (now − last change)`, so reading the integral at
 * any moment is exact, with no sampling.
 */
export class LoadMeter {
  /** Live requests routed here and not yet answered (held ones included). */
  inFlight = 0;
  /** Of those, how many wait in the hold queue. */
  held = 0;
  /** Requests that met a hold here: held, or refused at once because the queue was full. */
  heldTotal = 0;
  /** Of those, how many were answered 503 (queue full, or their wait ran out). */
  heldRefused = 0;
  private busyMs = 0;
  private since: number;

  constructor(private readonly now: Clock = () => performance.now()) {
    this.since = now();
  }

  private advance(): void {
    const t = this.now();
    this.busyMs += this.inFlight * (t - this.since);
    this.since = t;
  }

  /** A request to this revision begins (it arrived, or moved here from another held revision). */
  start(): void {
    this.advance();
    this.inFlight++;
  }

  /** A request to this revision ends: answered, refused, or its caller went away. */
  finish(): void {
    this.advance();
    this.inFlight--;
  }

  /** A started request is put in the hold queue; true when it is the first one held here. */
  hold(): boolean {
    this.heldTotal++;
    return this.held++ === 0;
  }

  /** A held request leaves the queue; `refused` when it is answered 503 for it. */
  unhold(refused: boolean): void {
    this.held--;
    if (refused) this.heldRefused++;
  }

  /** A request met a hold but the queue was full: answered 503 at once, never started. */
  refuse(): void {
    this.heldTotal++;
    this.heldRefused++;
  }

  /** The figures as of now, `busyMs` rounded to µs. */
  read(): RevisionLoad {
    this.advance();
    return {
      inFlight: this.inFlight,
      held: this.held,
      busyMs: Math.round(this.busyMs * 1000) / 1000,
      heldTotal: this.heldTotal,
      heldRefused: this.heldRefused,
    };
  }
}
