/**
 * The pure half of the rollback benchmark: from a record of requests (when each was sent, which
 * revision answered), when a rollback action was written and which revision must take over, the
 * first moment after which every request sent was answered by that revision; plus the statistics
 * over many trials. No I/O, no clock.
 */

/** One request of the load, as the client saw it. */
export interface RequestRecord {
  /** Which request loop (one keep-alive connection each) sent it. */
  loop: number;
  /** Date.now() when it was sent. */
  sentAt: number;
  /** Date.now() when its answer (or error) arrived. */
  doneAt: number;
  /** HTTP status; 0 when no response came. */
  status: number;
  /** x-modelship-revision of the answer, when present. */
  revision?: string;
}

/** Where the traffic stood after one rollback action. */
export interface Settled {
  /**
   * The first moment after which every request sent (up to the end of the window) was answered 200
   * by the target: the send time of the first request after the last one that was not. The action
   * time itself when no request sent after the action missed the target.
   */
  settledAt: number;
  /** settledAt minus the action time, in ms. */
  latencyMs: number;
  /** Send time of the last request (sent after the action) that was not answered 200 by the target. */
  lastOffTargetAt?: number;
  /** Requests sent in the window. */
  requests: number;
  /** Requests sent in the window answered 200 by another revision. */
  offTarget: number;
  /** Requests sent in the window that failed (status other than 200). */
  failed: number;
  /** Per loop: its last off-target send minus the action time in ms (0 when none), in loop order. */
  loopSwitchMs: number[];
}

/** A request that the target revision answered successfully. */
export function onTarget(r: RequestRecord, target: string): boolean {
  return r.status === 200 && r.revision === target;
}

/**
 * The settle point of a rollback: over the requests sent in [actionAt, windowEnd], the first moment
 * after which all were answered 200 by `target`. Undefined when the window's last request still
 * missed the target (traffic had not settled by windowEnd).
 */
export function settle(
  records: readonly RequestRecord[],
  actionAt: number,
  windowEnd: number,
  target: string,
): Settled | undefined {
  const inWindow = records.filter((r) => r.sentAt >= actionAt && r.sentAt <= windowEnd);
  const off = inWindow.filter((r) => !onTarget(r, target));
  const loops = [...new Set(records.map((r) => r.loop))].sort((a, b) => a - b);
  const loopSwitchMs = loops.map((loop) => {
    const last = Math.max(actionAt, ...off.filter((r) => r.loop === loop).map((r) => r.sentAt));
    return last - actionAt;
  });
  const base = {
    requests: inWindow.length,
    offTarget: off.filter((r) => r.status === 200).length,
    failed: inWindow.filter((r) => r.status !== 200).length,
    loopSwitchMs,
  };
  if (off.length === 0) return { settledAt: actionAt, latencyMs: 0, ...base };
  const lastOffTargetAt = Math.max(...off.map((r) => r.sentAt));
  const after = inWindow.filter((r) => r.sentAt > lastOffTargetAt);
  if (after.length === 0) return undefined;
  const settledAt = Math.min(...after.map((r) => r.sentAt));
  return { settledAt, latencyMs: settledAt - actionAt, lastOffTargetAt, ...base };
}

/**
 * Whether every loop has been answered by `target` for at least `tailMs` in a row, counting from
 * its last request that was not (or from `since` when it had none): the sign to close a trial's
 * window. A loop with no request after `since` is not settled yet.
 */
export function everyLoopSettled(
  records: readonly RequestRecord[],
  loops: number,
  since: number,
  target: string,
  tailMs: number,
): boolean {
  for (let loop = 0; loop < loops; loop++) {
    const mine = records.filter((r) => r.loop === loop && r.sentAt >= since);
    if (mine.length === 0) return false;
    const lastOff = Math.max(since, ...mine.filter((r) => !onTarget(r, target)).map((r) => r.sentAt));
    const lastOn = Math.max(...mine.filter((r) => onTarget(r, target)).map((r) => r.sentAt));
    if (!(lastOn - lastOff >= tailMs)) return false;
  }
  return true;
}

/** Whether every loop got at least one answer from `revision` among requests sent at or after `since`. */
export function everyLoopSaw(
  records: readonly RequestRecord[],
  loops: number,
  since: number,
  revision: string,
): boolean {
  const seen = new Set(records.filter((r) => r.sentAt >= since && onTarget(r, revision)).map((r) => r.loop));
  return seen.size >= loops;
}

/** Whether no request sent at or after `since` failed (among those answered so far). */
export function noFailureSince(records: readonly RequestRecord[], since: number): boolean {
  for (let i = records.length - 1; i >= 0; i--) {
    const r = records[i]!;
    if (r.sentAt >= since && r.status !== 200) return false;
  }
  return true;
}

/** Order statistics of a sample, in its unit. */
export interface Distribution {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** The nearest-rank q-quantile of an ascending sample (q in (0, 1]). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new Error('quantile of an empty sample');
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** p50/p90/p99/max/mean of a sample (nearest rank: with fewer than 100 values p99 is the maximum). */
export function distribution(values: readonly number[]): Distribution {
  if (values.length === 0) return { n: 0, p50: NaN, p90: NaN, p99: NaN, max: NaN, mean: NaN };
  const sorted = [...values].sort((a, b) => a - b);
  return {
    n: sorted.length,
    p50: quantile(sorted, 0.5),
    p90: quantile(sorted, 0.9),
    p99: quantile(sorted, 0.99),
    max: sorted[sorted.length - 1]!,
    mean: sorted.reduce((a, b) => a + b, 0) / sorted.length,
  };
}

/** The moments one trial recorded (Date.now() values); the observations may be missing. */
export interface TrialTimes {
  /** Just before the annotation was written. */
  actionAt: number;
  /** When the API server answered the annotation's patch. */
  patchedAt: number;
  /** When the bench's own watch saw the routes ConfigMap give the target 100%. */
  routesSeenAt?: number;
  /** When each router pod logged the new routes as applied. */
  routersAppliedAt: number[];
  settledAt?: number;
}

/** A trial's latency split into its stages, in ms from the previous stage (missing stages undefined). */
export interface Breakdown {
  /** Action → the annotation patch answered by the API server. */
  patchMs: number;
  /** Patch answered → the routes ConfigMap update arrived on a watch (operator's reconcile + write + watch). */
  operatorMs?: number;
  /** Routes seen → the last router pod applied them (the routers' own watch). */
  routersMs?: number;
  /**
   * Last router applied → every new request on the target (the data path). Can be below 0: the
   * router logs after applying, requests are stamped when sent, and at a 50/50 split a few requests
   * in a row can land on the target by chance just before the switch.
   */
  dataPathMs?: number;
}

/** The stages of one trial. */
export function breakdown(t: TrialTimes): Breakdown {
  const out: Breakdown = { patchMs: t.patchedAt - t.actionAt };
  if (t.routesSeenAt !== undefined) out.operatorMs = t.routesSeenAt - t.patchedAt;
  const lastRouter = t.routersAppliedAt.length > 0 ? Math.max(...t.routersAppliedAt) : undefined;
  if (t.routesSeenAt !== undefined && lastRouter !== undefined) out.routersMs = lastRouter - t.routesSeenAt;
  if (lastRouter !== undefined && t.settledAt !== undefined) out.dataPathMs = t.settledAt - lastRouter;
  return out;
}

/** Requests answered 200 by another revision than the target, sent after `after` (e.g. the routes write seen). */
export function stragglersAfter(
  records: readonly RequestRecord[],
  after: number,
  windowEnd: number,
  target: string,
): number {
  return records.filter((r) => r.sentAt > after && r.sentAt <= windowEnd && r.status === 200 && r.revision !== target)
    .length;
}
