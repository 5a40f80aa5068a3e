/**
 * Part of the cross-process contract (contract/): the router stats document, which router pods write
 * and the operator reads, with the rules by which a request is counted in it and the math that
 * turns two readings into a window. The router's recorder (server-image/src/router/stats.ts) counts
 * with these functions; the operator's analysis reads with them.
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
 *       "mirror": {"requests": 0, "errors": 0, "codes": {}, "latencyMs": {...}},
 *       "load":   {"inFlight": 3, "held": 0, "busyMs": 51200.5, "heldTotal": 4, "heldRefused": 0}
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
 * - `load` (optional; routers before autoscaling omit it) is the revision's live demand as this pod
 *   sees it, the signal the operator autoscales on. `inFlight`: live requests routed to the revision
 *   and not yet answered, held ones included (a gauge at `time`). `held`: of those, how many wait in
 *   the hold queue because the route says `hold` (a gauge). `busyMs`: the integral of `inFlight`
 *   over time in ms since `startTime` (cumulative), so the mean concurrency over a window is
 *   `Δ busyMs / Δ time` ({@link meanConcurrency}); `heldTotal`: requests that met a hold (held,
 *   or refused at once because the queue was full); `heldRefused`: of those, the ones answered 503
 *   because the queue was full or their wait ran out (both cumulative, so heldRefused ≤ heldTotal).
 *   A router pod publishes at once (not waiting for its interval) when a revision's `held` turns
 *   from 0 to more, so the operator can start the revision within a watch event.
 * - `drift` and `accuracy` (optional; only while the routes turn them on): the revision's drift
 *   figures (contract/drift.ts, gauges at `time`) and its joined labels (contract/accuracy.ts,
 *   cumulative like the counters).
 * - `routesGeneration` is the `generation` of the Routes document in force (null before the first).
 * - `models` (present once known): for each listed revision whose route names a `model`, the body of
 *   that revision's `GET /v2/models/{model}` (V2 model metadata: name, versions, platform, inputs,
 *   outputs) as the router fetched it, for the operator's contract gate.
 */
import type { RevisionAccuracy } from './accuracy.js';
import type { RevisionDrift } from './drift.js';
import { isStatsKey } from './keys.js';

/** The stats document of one router pod (see above). */
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
  load?: RevisionLoad;
  /** With the route's `monitoring.drift`: the revision's drift against its reference. */
  drift?: RevisionDrift;
  /** With the route's `monitoring.accuracy`: labels joined with the revision's predictions. */
  accuracy?: RevisionAccuracy;
}

/** A revision's live demand as one router pod sees it (see the module doc). */
export interface RevisionLoad {
  inFlight: number;
  held: number;
  busyMs: number;
  heldTotal: number;
  heldRefused: number;
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

/**
 * Traffic with nothing counted yet, in latency buckets `le`: this release's by default, or those of
 * a document another release of the router wrote.
 */
export function emptyTraffic(le: readonly number[] = LATENCY_BUCKETS_MS): TrafficStats {
  return { requests: 0, errors: 0, codes: {}, latencyMs: { le: [...le], counts: le.map(() => 0), count: 0, sum: 0 } };
}

/** The `codes` key an outcome is counted under. */
export function outcomeClass(outcome: Outcome): string {
  return typeof outcome === 'number' ? `${Math.floor(outcome / 100)}xx` : outcome;
}

/** Whether an outcome counts as an error for analysis: 5xx, timeout or unreachable. */
export function isErrorOutcome(outcome: Outcome): boolean {
  return typeof outcome === 'number' ? outcome >= 500 : true;
}

/**
 * A document with nothing counted yet, for the router pod (or process) `pod` counting since
 * `startTime`; {@link countRequest} and {@link countComparison} count into it.
 */
export function emptyStatsDocument(pod: string, startTime: Date): RouterStatsDocument {
  return {
    version: 1,
    pod,
    startTime: startTime.toISOString(),
    time: startTime.toISOString(),
    routesGeneration: null,
    revisions: {},
    agreement: {},
  };
}

/** Counts one finished request to `revision` into `doc`: the rules every figure of the document follows. */
export function countRequest(
  doc: RouterStatsDocument,
  revision: string,
  kind: TrafficKind,
  outcome: Outcome,
  latencyMs: number,
): void {
  const t = (doc.revisions[revision] ??= { live: emptyTraffic(), mirror: emptyTraffic() })[kind];
  t.requests++;
  if (isErrorOutcome(outcome)) t.errors++;
  const cls = outcomeClass(outcome);
  t.codes[cls] = (t.codes[cls] ?? 0) + 1;
  const h = t.latencyMs;
  for (let i = 0; i < h.le.length; i++) if (latencyMs <= h.le[i]) h.counts[i]++;
  h.count++;
  h.sum += latencyMs;
}

/** Counts into `doc` one comparison of a served response with the copy `candidate` answered. */
export function countComparison(doc: RouterStatsDocument, candidate: string, agree: boolean, maxAbsDiff: number): void {
  const a = (doc.agreement[candidate] ??= { compared: 0, agreed: 0, maxAbsDiff: 0 });
  a.compared++;
  if (agree) a.agreed++;
  a.maxAbsDiff = Math.max(a.maxAbsDiff, maxAbsDiff);
}

/**
 * `doc` as published at `now` with routes `routesGeneration` in force: a deep copy, so later counts
 * do not change it.
 */
export function statsSnapshot(
  doc: RouterStatsDocument,
  now: Date,
  routesGeneration: number | null,
): RouterStatsDocument {
  return structuredClone({ ...doc, time: now.toISOString(), routesGeneration });
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

/**
 * The traffic of two router pods together (`a + b`); a copy of `b` when `a` is undefined. Throws
 * when the histograms' buckets differ.
 */
export function addTraffic(a: TrafficStats | undefined, b: TrafficStats): TrafficStats {
  if (a === undefined) return structuredClone(b);
  if (a.latencyMs.le.join() !== b.latencyMs.le.join())
    throw new Error('add traffic stats: latency buckets differ between router pods');
  const codes = { ...a.codes };
  for (const [k, v] of Object.entries(b.codes)) codes[k] = (codes[k] ?? 0) + v;
  return {
    requests: a.requests + b.requests,
    errors: a.errors + b.errors,
    codes,
    latencyMs: {
      le: [...a.latencyMs.le],
      counts: a.latencyMs.counts.map((c, i) => c + b.latencyMs.counts[i]!),
      count: a.latencyMs.count + b.latencyMs.count,
      sum: a.latencyMs.sum + b.latencyMs.sum,
    },
  };
}

/**
 * The mean number of live requests in flight at `revision` between two readings of the same pod and
 * start time (Little's law over the window: Δ busyMs / Δ time), or undefined when either reading
 * has no `load` for it or the readings are not in order.
 */
export function meanConcurrency(
  later: RouterStatsDocument,
  earlier: RouterStatsDocument,
  revision: string,
): number | undefined {
  const a = later.revisions[revision]?.load;
  const b = earlier.revisions[revision]?.load ?? (a ? { busyMs: 0 } : undefined);
  const ms = Date.parse(later.time) - Date.parse(earlier.time);
  if (a === undefined || b === undefined || !(ms > 0) || later.startTime !== earlier.startTime) return undefined;
  return Math.max(0, a.busyMs - b.busyMs) / ms;
}

/** Whether any document of a stats ConfigMap's data reports requests held for a revision at zero. */
export function hasHeldRequests(data: Record<string, string> | undefined): boolean {
  return parseStatsData(data).documents.some((d) => Object.values(d.revisions).some((r) => (r.load?.held ?? 0) > 0));
}

/** Why `doc` is not a stats document of version 1 (its required members), or undefined when it is one. */
function statsDocumentProblem(doc: unknown): string | undefined {
  if (typeof doc !== 'object' || doc === null) return 'not a JSON object';
  const d = doc as Partial<RouterStatsDocument>;
  if (d.version !== 1) return `version: must be 1, got ${JSON.stringify(d.version)}`;
  if (typeof d.pod !== 'string' || d.pod === '') return 'pod: must be a non-empty string';
  if (typeof d.startTime !== 'string' || Number.isNaN(Date.parse(d.startTime)))
    return 'startTime: must be an RFC 3339 time';
  if (typeof d.time !== 'string' || Number.isNaN(Date.parse(d.time))) return 'time: must be an RFC 3339 time';
  if (typeof d.revisions !== 'object' || d.revisions === null) return 'revisions: must be an object';
  if (typeof d.agreement !== 'object' || d.agreement === null) return 'agreement: must be an object';
  return undefined;
}

/**
 * Parses the stats ConfigMap's data (`<pod>.json` → document). Keys that are not documents of
 * version 1 are reported, not thrown: one broken router pod must not stop the analysis of the others.
 */
export function parseStatsData(data: Record<string, string> | undefined): {
  documents: RouterStatsDocument[];
  errors: string[];
} {
  const documents: RouterStatsDocument[] = [];
  const errors: string[] = [];
  for (const [key, text] of Object.entries(data ?? {}).sort(([a], [b]) => a.localeCompare(b))) {
    if (!isStatsKey(key)) continue;
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (err) {
      errors.push(`${key}: invalid JSON: ${(err as Error).message}`);
      continue;
    }
    const problem = statsDocumentProblem(doc);
    if (problem) errors.push(`${key}: ${problem}`);
    else documents.push(doc as RouterStatsDocument);
  }
  return { documents, errors };
}
