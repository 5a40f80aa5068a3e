/**
 * A revision's load as the builtin routers see it, from the shell's ring of readings of the stats
 * ConfigMap: the sum over router pods of the mean number of live requests in flight (Δ busyMs /
 * Δ time, held requests included) or of live requests per second (Δ live.requests / Δ time), over
 * a short window. Pure: the readings carry their own times.
 *
 * Each router pod's counters are cumulative since its `startTime`; a pod seen for the first time,
 * or with a new `startTime` (it restarted), is measured from its start, when its counters were zero.
 */
import { meanConcurrency, type RouterStatsDocument } from '../../../contract/stats.js';

/** One reading of the stats ConfigMap: when the shell read it (ms since the epoch) and its documents. */
export interface StatsReading {
  at: number;
  documents: RouterStatsDocument[];
}

/** What load is measured in: mean live requests in flight, or live requests per second. */
export type LoadMetric = 'concurrency' | 'rps';

/** The window load is averaged over: Knative's panic window, short enough to follow a burst. */
export const METRIC_WINDOW_SECONDS = 6;

/**
 * A router pod whose document is this much older than the newest one is taken for gone (routers
 * publish every second while autoscaling); its last figures no longer count.
 */
export const STALE_DOCUMENT_SECONDS = 15;

/** The documents of a reading that still speak for a live router pod. */
function liveDocuments(reading: StatsReading): RouterStatsDocument[] {
  const newest = Math.max(...reading.documents.map((d) => Date.parse(d.time)));
  return reading.documents.filter((d) => newest - Date.parse(d.time) <= STALE_DOCUMENT_SECONDS * 1000);
}

/** A pod's document with every counter at zero, as it was at its start. */
function atStart(doc: RouterStatsDocument): RouterStatsDocument {
  return { ...doc, time: doc.startTime, revisions: {}, agreement: {} };
}

/**
 * The reading of the same pod and start time `windowSeconds` before `later` (the newest one at
 * least that old), else the oldest one the ring holds, else the pod's start.
 */
function earlierOf(
  readings: readonly StatsReading[],
  index: number,
  later: RouterStatsDocument,
  windowSeconds: number,
): RouterStatsDocument {
  const from = Date.parse(later.time) - windowSeconds * 1000;
  let oldest: RouterStatsDocument | undefined;
  for (let i = index - 1; i >= 0; i--) {
    const doc = readings[i]!.documents.find((d) => d.pod === later.pod && d.startTime === later.startTime);
    if (doc === undefined || !(Date.parse(doc.time) < Date.parse(later.time))) continue;
    if (Date.parse(doc.time) <= from) return doc;
    oldest = doc;
  }
  return oldest ?? atStart(later);
}

/** Live requests per second at `route` between two readings of one pod; 0 when no time passed. */
function requestsPerSecond(later: RouterStatsDocument, earlier: RouterStatsDocument, route: string): number {
  const ms = Date.parse(later.time) - Date.parse(earlier.time);
  if (!(ms > 0)) return 0;
  const n = (later.revisions[route]?.live.requests ?? 0) - (earlier.revisions[route]?.live.requests ?? 0);
  return (Math.max(0, n) * 1000) / ms;
}

/**
 * The load of the revisions named `routes` (route names, summed: a stable during a canary is sized
 * on every revision's load) over the `windowSeconds` before reading `index`, summed over router
 * pods; undefined when no live pod reports load (`load` is new in the stats document: routers
 * before autoscaling leave it out, and RPS alone cannot tell those apart from idle ones).
 */
export function loadAt(
  readings: readonly StatsReading[],
  index: number,
  routes: readonly string[],
  metric: LoadMetric,
  windowSeconds = METRIC_WINDOW_SECONDS,
): number | undefined {
  const reading = readings[index];
  if (reading === undefined) return undefined;
  let total: number | undefined;
  for (const later of liveDocuments(reading)) {
    if (!Object.values(later.revisions).some((r) => r.load !== undefined)) continue;
    const earlier = earlierOf(readings, index, later, windowSeconds);
    for (const route of routes) {
      const load =
        metric === 'rps' ? requestsPerSecond(later, earlier, route) : (meanConcurrency(later, earlier, route) ?? 0);
      total = (total ?? 0) + load;
    }
    total ??= 0;
  }
  return total;
}

/** Requests in flight (held ones included) and held at `routes` in a reading, summed over live router pods. */
export function inFlightAt(
  reading: StatsReading | undefined,
  routes: readonly string[],
): { inFlight: number; held: number } {
  let inFlight = 0;
  let held = 0;
  for (const doc of reading ? liveDocuments(reading) : []) {
    for (const route of routes) {
      inFlight += doc.revisions[route]?.load?.inFlight ?? 0;
      held += doc.revisions[route]?.load?.held ?? 0;
    }
  }
  return { inFlight, held };
}

/**
 * Whether reading `index` shows no live request at `routes` for the `seconds` before it: none
 * answered (Δ live.requests), none in flight on average (Δ busyMs) and none in flight at any reading
 * of the window. Undefined when the ring does not reach that far back, or no pod reports load.
 */
export function idleFor(
  readings: readonly StatsReading[],
  index: number,
  routes: readonly string[],
  seconds: number,
): boolean | undefined {
  const reading = readings[index];
  if (reading === undefined || reading.at - readings[0]!.at < seconds * 1000) return undefined;
  const rps = loadAt(readings, index, routes, 'rps', seconds);
  const concurrency = loadAt(readings, index, routes, 'concurrency', seconds);
  if (rps === undefined || concurrency === undefined) return undefined;
  if (rps > 0 || concurrency > 0) return false;
  const from = reading.at - seconds * 1000;
  return readings.slice(0, index + 1).every((r) => r.at < from || inFlightAt(r, routes).inFlight === 0);
}
