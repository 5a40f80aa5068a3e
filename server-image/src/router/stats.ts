/**
 * Per-revision traffic statistics, and the stats document: the contract through which the operator
 * reads them via the API server, without network access to router pods.
 *
 * Every router pod writes its document as JSON under the key `<pod>.json` of the stats ConfigMap
 * (default name `<routes-configmap>-stats`), every few seconds, with a JSON merge patch that touches
 * only its own key, so replicas never conflict. The same document is served at `GET /router/stats`
 * on the metrics port.
 *
 * ```json
 * {
 *   "version": 1, "pod": "digits-router-7d9f-abcde",
 *   "startTime": "2026-11-21T06:00:00.000Z", "time": "2026-11-21T06:05:00.000Z",
 *   "routesGeneration": 7,
 *   "revisions": {
 *     "digits-a41b2": {
 *       "live":   {"requests": 120, "errors": 1, "codes": {"2xx": 119, "5xx": 1},
 *                  "latencyMs": {"le": [1, 2.5, ...], "counts": [3, 40, ...], "count": 120, "sum": 812.5}},
 *       "mirror": {"requests": 0, "errors": 0, "codes": {}, "latencyMs": {...}}
 *     }
 *   },
 *   "agreement": {"digits-a41b2": {"compared": 118, "agreed": 117, "maxAbsDiff": 0.0002}}
 * }
 * ```
 *
 * - All counters are cumulative since `startTime` (the router process start). To get a window,
 *   subtract two documents of the same `pod` and `startTime` ({@link subtractTraffic}); a new
 *   `startTime` means the pod restarted and its counters began again at zero.
 * - `live` counts requests the revision answered for a caller; `mirror` counts the copies it was
 *   sent by mirroring (their responses were discarded).
 * - `errors` = responses with status ≥ 500 plus timeouts and unreachable backends. `codes` splits
 *   all requests into `1xx`..`5xx`, `timeout` (no response in time) and `unreachable` (connection
 *   refused or reset).
 * - `latencyMs` is a cumulative histogram: `counts[i]` requests took ≤ `le[i]` ms; `count` is all
 *   of them (the +Inf bucket); `sum` the total ms. {@link quantileMs} estimates a percentile.
 * - `agreement[candidate]`: mirrored requests whose served and mirrored responses were both
 *   decodable inference responses (`compared`), how many agreed (same top class for class scores,
 *   max |a-b| within the routes' tolerance otherwise), and the largest |a-b| seen.
 * - `routesGeneration` is the `generation` of the Routes document in force (null before the first).
 * - `models` (present once known): for each listed revision whose route names a `model`, the body of
 *   that revision's `GET /v2/models/{model}` (V2 model metadata: name, versions, platform, inputs,
 *   outputs) as the router fetched it, for the operator's contract gate.
 */
export interface RouterStatsDocument {
  version: 1;
  pod: string;
  startTime: string;
  time: string;
  routesGeneration: number | null;
  revisions: Record<string, RevisionStats>;
  agreement: Record<string, AgreementStats>;
  models?: Record<string, { metadata: unknown }>;
}

/** The two kinds of traffic a revision receives. */
export interface RevisionStats {
  live: TrafficStats;
  mirror: TrafficStats;
}

/** Counts and latencies of one kind of traffic to one revision. */
export interface TrafficStats {
  requests: number;
  errors: number;
  codes: Record<string, number>;
  latencyMs: LatencyHistogram;
}

/** A cumulative latency histogram in milliseconds (Prometheus' shape). */
export interface LatencyHistogram {
  le: number[];
  counts: number[];
  count: number;
  sum: number;
}

/** Mirrored-response agreement for one candidate revision. */
export interface AgreementStats {
  compared: number;
  agreed: number;
  maxAbsDiff: number;
}

/** The kinds of traffic, as labelled in stats and metrics. */
export type TrafficKind = 'live' | 'mirror';

/** How a proxied request ended: an HTTP status, or no response at all. */
export type Outcome = number | 'timeout' | 'unreachable';

/** Latency bucket upper bounds in ms, shared by the stats document and the Prometheus histogram. */
export const LATENCY_BUCKETS_MS = [1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000];

function emptyTraffic(): TrafficStats {
  return {
    requests: 0,
    errors: 0,
    codes: {},
    latencyMs: { le: [...LATENCY_BUCKETS_MS], counts: LATENCY_BUCKETS_MS.map(() => 0), count: 0, sum: 0 },
  };
}

/** The `codes` key an outcome is counted under. */
export function outcomeClass(outcome: Outcome): string {
  return typeof outcome === 'number' ? `${Math.floor(outcome / 100)}xx` : outcome;
}

/** Whether an outcome counts as an error for analysis: 5xx, timeout or unreachable. */
export function isErrorOutcome(outcome: Outcome): boolean {
  return typeof outcome === 'number' ? outcome >= 500 : true;
}

/** Accumulates statistics for one router process; {@link snapshot} renders the document. */
export class RouterStats {
  private readonly revisions = new Map<string, RevisionStats>();
  private readonly agreement = new Map<string, AgreementStats>();
  private readonly models = new Map<string, unknown>();

  /**
   * @param pod the pod (or process) name the document is keyed by
   * @param startTime when counting began
   */
  constructor(
    readonly pod: string,
    readonly startTime: Date,
  ) {}

  private revision(name: string): RevisionStats {
    let r = this.revisions.get(name);
    if (!r) {
      r = { live: emptyTraffic(), mirror: emptyTraffic() };
      this.revisions.set(name, r);
    }
    return r;
  }

  /** Counts one finished request to `revision`. */
  record(revision: string, kind: TrafficKind, outcome: Outcome, latencyMs: number): void {
    const t = this.revision(revision)[kind];
    t.requests++;
    if (isErrorOutcome(outcome)) t.errors++;
    const cls = outcomeClass(outcome);
    t.codes[cls] = (t.codes[cls] ?? 0) + 1;
    const h = t.latencyMs;
    for (let i = 0; i < h.le.length; i++) if (latencyMs <= h.le[i]) h.counts[i]++;
    h.count++;
    h.sum += latencyMs;
  }

  /** Counts one comparison of a served response with the copy `candidate` answered. */
  recordAgreement(candidate: string, agree: boolean, maxAbsDiff: number): void {
    let a = this.agreement.get(candidate);
    if (!a) {
      a = { compared: 0, agreed: 0, maxAbsDiff: 0 };
      this.agreement.set(candidate, a);
    }
    a.compared++;
    if (agree) a.agreed++;
    a.maxAbsDiff = Math.max(a.maxAbsDiff, maxAbsDiff);
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
    const doc: RouterStatsDocument = {
      version: 1 as const,
      pod: this.pod,
      startTime: this.startTime.toISOString(),
      time: now.toISOString(),
      routesGeneration,
      revisions: Object.fromEntries(this.revisions),
      agreement: Object.fromEntries(this.agreement),
    };
    if (this.models.size > 0)
      doc.models = Object.fromEntries([...this.models].map(([name, metadata]) => [name, { metadata }]));
    return structuredClone(doc);
  }
}

/**
 * The traffic between two cumulative readings of the same pod and start time (`later - earlier`),
 * for analysis over a window. Throws when the histograms' buckets differ.
 */
export function subtractTraffic(later: TrafficStats, earlier: TrafficStats): TrafficStats {
  if (later.latencyMs.le.join() !== earlier.latencyMs.le.join()) {
    throw new Error('subtract traffic stats: latency buckets differ');
  }
  const codes: Record<string, number> = {};
  for (const [k, v] of Object.entries(later.codes)) {
    const d = v - (earlier.codes[k] ?? 0);
    if (d) codes[k] = d;
  }
  return {
    requests: later.requests - earlier.requests,
    errors: later.errors - earlier.errors,
    codes,
    latencyMs: {
      le: [...later.latencyMs.le],
      counts: later.latencyMs.counts.map((c, i) => c - earlier.latencyMs.counts[i]),
      count: later.latencyMs.count - earlier.latencyMs.count,
      sum: later.latencyMs.sum - earlier.latencyMs.sum,
    },
  };
}

/**
 * Estimates the q-quantile (0..1) in ms from a histogram, interpolating linearly inside the bucket
 * as Prometheus' histogram_quantile does. Undefined with no observations; the largest finite
 * bound when the quantile falls in the +Inf bucket.
 */
export function quantileMs(h: LatencyHistogram, q: number): number | undefined {
  if (h.count === 0) return undefined;
  const rank = q * h.count;
  for (let i = 0; i < h.le.length; i++) {
    if (h.counts[i] >= rank) {
      const lower = i === 0 ? 0 : h.le[i - 1];
      const below = i === 0 ? 0 : h.counts[i - 1];
      const inBucket = h.counts[i] - below;
      return inBucket === 0 ? h.le[i] : lower + ((h.le[i] - lower) * (rank - below)) / inBucket;
    }
  }
  return h.le[h.le.length - 1];
}
