/**
 * The router's recorder: it counts every proxied request into this process's stats document
 * (contract/stats.ts, which says what each figure means) and renders it for the stats writer and
 * `GET /router/stats`.
 */
import {
  countComparison,
  countRequest,
  emptyStatsDocument,
  statsSnapshot,
  type Outcome,
  type RouterStatsDocument,
  type TrafficKind,
} from '../../../contract/stats.js';

/** Accumulates statistics for one router process; {@link snapshot} renders the document. */
export class RouterStats {
  private readonly counts: RouterStatsDocument;
  private readonly models = new Map<string, unknown>();

  /**
   * @param pod the pod (or process) name the document is keyed by
   * @param startTime when counting began
   */
  constructor(
    readonly pod: string,
    readonly startTime: Date,
  ) {
    this.counts = emptyStatsDocument(pod, startTime);
  }

  /** Counts one finished request to `revision`. */
  record(revision: string, kind: TrafficKind, outcome: Outcome, latencyMs: number): void {
    countRequest(this.counts, revision, kind, outcome, latencyMs);
  }

  /** Counts one comparison of a served response with the copy `candidate` answered. */
  recordAgreement(candidate: string, agree: boolean, maxAbsDiff: number): void {
    countComparison(this.counts, candidate, agree, maxAbsDiff);
  }

  /** Records a revision's V2 model metadata (the body of its `GET /v2/models/{model}`). */
  setModelMetadata(revision: string, metadata: unknown): void {
    this.models.set(revision, metadata);
  }

  /** Forgets model metadata of revisions not in `keep` (they left the routes, or changed model or URL). */
  retainModels(keep: ReadonlySet<string>): void {
    for (const name of this.models.keys()) if (!keep.has(name)) this.models.delete(name);
  }

  /** The stats document as of `now` (a deep copy: later requests do not change it). */
  snapshot(now: Date, routesGeneration: number | null): RouterStatsDocument {
    const models =
      this.models.size > 0
        ? { models: Object.fromEntries([...this.models].map(([name, metadata]) => [name, { metadata }])) }
        : {};
    return statsSnapshot({ ...this.counts, ...models }, now, routesGeneration);
  }
}
