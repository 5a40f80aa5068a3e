/**
 * The router's recorder: it counts every proxied request into this process's stats document
 * (contract/stats.ts, which says what each figure means), keeps each revision's load meter
 * (load.ts), and renders both for the stats writer and `GET /router/stats`.
 */
import {
  countComparison,
  countRequest,
  emptyStatsDocument,
  emptyTraffic,
  statsSnapshot,
  type Outcome,
  type RouterStatsDocument,
  type TrafficKind,
} from '../../../contract/stats.js';
import { countLabels } from '../../../contract/accuracy.js';
import type { RevisionDrift } from '../../../contract/drift.js';
import { LoadMeter, type Clock } from './load.js';

/** Accumulates statistics for one router process; {@link snapshot} renders the document. */
export class RouterStats {
  private readonly counts: RouterStatsDocument;
  private readonly models = new Map<string, unknown>();
  private readonly meters = new Map<string, LoadMeter>();
  /** The drift part's figures per revision, read at each snapshot (monitoring sets it). */
  private driftSource?: () => Record<string, RevisionDrift>;

  /**
   * @param pod the pod (or process) name the document is keyed by
   * @param startTime when counting began
   * @param clock the load meters' monotonic clock in ms (performance.now unless a test fakes it)
   */
  constructor(
    readonly pod: string,
    readonly startTime: Date,
    private readonly clock?: Clock,
  ) {
    this.counts = emptyStatsDocument(pod, startTime);
  }

  /** The load meter of `revision` (made on first use; kept, like its counts, for the process' life). */
  load(revision: string): LoadMeter {
    let meter = this.meters.get(revision);
    if (!meter) {
      meter = new LoadMeter(this.clock);
      this.meters.set(revision, meter);
    }
    return meter;
  }

  /** Every revision's load meter so far, by revision (for the metrics). */
  loads(): ReadonlyMap<string, LoadMeter> {
    return this.meters;
  }

  /** Counts one finished request to `revision`. */
  record(revision: string, kind: TrafficKind, outcome: Outcome, latencyMs: number): void {
    countRequest(this.counts, revision, kind, outcome, latencyMs);
  }

  /** Counts one comparison of a served response with the copy `candidate` answered. */
  recordAgreement(candidate: string, agree: boolean, maxAbsDiff: number): void {
    countComparison(this.counts, candidate, agree, maxAbsDiff);
  }

  /** Counts `labelled` rows of `revision`'s predictions joined with their true labels, `correct` of them right. */
  recordLabels(revision: string, labelled: number, correct: number): void {
    const rev = (this.counts.revisions[revision] ??= { live: emptyTraffic(), mirror: emptyTraffic() });
    rev.accuracy = countLabels(rev.accuracy, labelled, correct);
  }

  /** Where the drift figures come from while drift is on; undefined turns them off. */
  setDriftSource(source: (() => Record<string, RevisionDrift>) | undefined): void {
    this.driftSource = source;
  }

  /** Records a revision's V2 model metadata (the body of its `GET /v2/models/{model}`). */
  setModelMetadata(revision: string, metadata: unknown): void {
    this.models.set(revision, metadata);
  }

  /** Forgets model metadata of revisions not in `keep` (they left the routes, or changed model or URL). */
  retainModels(keep: ReadonlySet<string>): void {
    for (const name of this.models.keys()) if (!keep.has(name)) this.models.delete(name);
  }

  /**
   * The stats document as of `now` (a deep copy: later requests do not change it), with the load of
   * every revision that has been routed or had a request, even one not answered yet (a held
   * request's revision), zero when idle.
   */
  snapshot(now: Date, routesGeneration: number | null): RouterStatsDocument {
    const models =
      this.models.size > 0
        ? { models: Object.fromEntries([...this.models].map(([name, metadata]) => [name, { metadata }])) }
        : {};
    const doc = statsSnapshot({ ...this.counts, ...models }, now, routesGeneration);
    for (const [revision, meter] of this.meters) {
      (doc.revisions[revision] ??= { live: emptyTraffic(), mirror: emptyTraffic() }).load = meter.read();
    }
    for (const [revision, drift] of Object.entries(this.driftSource?.() ?? {})) {
      (doc.revisions[revision] ??= { live: emptyTraffic(), mirror: emptyTraffic() }).drift = drift;
    }
    return doc;
  }
}
