/**
 * Canary analysis: from two readings of the router's stats ConfigMap (the previous check's and this
 * one's) to the traffic each revision saw in between, and from those figures to a verdict against
 * spec.rollout.analysis. Pure: the shell reads the ConfigMap; time is in the documents.
 *
 * Accuracy (spec.rollout.analysis.minAccuracy) is judged on the true labels the routers joined with
 * the candidate's predictions during the window (contract/accuracy.ts): labels arrive after their
 * requests, so a window counts the labels joined in it, whenever their requests were served.
 *
 * The absolute limits in the spec are the contract. The stable revision's figures over the same
 * window are reported next to the candidate's so a reader can tell "the candidate is slow" from
 * "everything is slow", but they never turn a failing candidate into a passing one.
 */
import type { AnalysisSpec } from '../api/types.js';
import { subtractAccuracy, type RevisionAccuracy } from '../../../contract/accuracy.js';
import {
  addTraffic,
  emptyTraffic,
  quantileMs,
  subtractTraffic,
  type AgreementStats,
  type RouterStatsDocument,
  type TrafficKind,
  type TrafficStats,
} from '../../../contract/stats.js';

/** Analysis settings with the CRD's defaults applied; unset limits are not checked. */
export interface AnalysisLimits {
  intervalSeconds: number;
  maxErrorRate: number;
  minRequests: number;
  failureLimit: number;
  maxLatencyP99Ms?: number;
  minAgreement?: number;
  minAccuracy?: number;
  /** Labels a check needs before minAccuracy is judged. */
  minLabels: number;
}

/**
 * Fewest errors (or disagreements) that fail a check below minRequests: one or two stray errors
 * at low traffic leave it Inconclusive rather than count towards a rollback.
 */
export const MIN_EARLY_FAILURES = 3;

/** The CRD's defaults for spec.rollout.analysis. */
export const ANALYSIS_DEFAULTS = {
  intervalSeconds: 10,
  maxErrorRate: 0.01,
  minRequests: 50,
  failureLimit: 2,
  minLabels: 50,
} as const;

/** spec.rollout.analysis with defaults applied (the API server applies them too; this covers old objects). */
export function analysisLimitsOf(spec: AnalysisSpec | undefined): AnalysisLimits {
  const limits: AnalysisLimits = {
    intervalSeconds: spec?.intervalSeconds ?? ANALYSIS_DEFAULTS.intervalSeconds,
    maxErrorRate: spec?.maxErrorRate ?? ANALYSIS_DEFAULTS.maxErrorRate,
    minRequests: spec?.minRequests ?? ANALYSIS_DEFAULTS.minRequests,
    failureLimit: spec?.failureLimit ?? ANALYSIS_DEFAULTS.failureLimit,
    minLabels: spec?.minLabels ?? ANALYSIS_DEFAULTS.minLabels,
  };
  if (spec?.maxLatencyP99Ms !== undefined) limits.maxLatencyP99Ms = spec.maxLatencyP99Ms;
  if (spec?.minAgreement !== undefined) limits.minAgreement = spec.minAgreement;
  if (spec?.minAccuracy !== undefined) limits.minAccuracy = spec.minAccuracy;
  return limits;
}

/** The traffic of every router pod between two readings, summed per revision. */
export interface TrafficWindow {
  /** Start of the window: the earliest `time` among the previous documents used. */
  from?: string;
  /** End of the window: the latest `time` among the current documents. */
  to?: string;
  /** Per route name (the revision's backend name in the Routes document): live and mirror traffic. */
  revisions: Record<string, { live: TrafficStats; mirror: TrafficStats }>;
  /** Per candidate route name: mirrored comparisons in the window. */
  agreement: Record<string, { compared: number; agreed: number }>;
  /** Per route name: labels joined with its predictions in the window (routes without labels absent). */
  accuracy: Record<string, RevisionAccuracy>;
  /** Pods whose counters restarted or that appeared during the window (counted from their start). */
  restartedPods: string[];
  /** Pods left out because their counters could not be attributed to this window, with why. */
  skippedPods: string[];
}

/** One revision's figures over a window, as status.canary.analysis shows them. */
export interface WindowFigures {
  requests: number;
  errors: number;
  /** errors / requests; undefined without requests. */
  errorRate?: number;
  latencyP99Ms?: number;
  compared: number;
  agreed: number;
  /** agreed / compared; undefined without comparisons. */
  agreement?: number;
  /** Rows whose true label was joined in the window, and how many of them were predicted right (absent: none). */
  labels?: number;
  correct?: number;
  /** correct / labels; undefined without labels. */
  accuracy?: number;
}

/**
 * A limit of spec.rollout.analysis that a check can break (`metric`: a Prometheus query out of range;
 * `webhook`: a Rollout webhook failed).
 */
export type AnalysisLimit = 'errorRate' | 'latency' | 'agreement' | 'accuracy' | 'metric' | 'webhook';

/** The outcome of one check. Inconclusive is never counted as a pass. */
export type VerdictResult = 'Passed' | 'Failed' | 'Inconclusive';

/** What a check is judged on: its result, its message, and the limits it broke. */
export interface Judged {
  result: VerdictResult;
  message: string;
  broken?: AnalysisLimit[];
}

/**
 * A check failed by a further limit (a metric out of range, a failed webhook): Failed, whatever it
 * was, the limit broken after those it already broke, and `failure` in its message before (or, had
 * it not failed, instead of) the analysis' own reasons.
 */
export function failedBy<C extends Judged>(check: C, limit: AnalysisLimit, failure: string): C {
  const failed = check.result === 'Failed';
  return {
    ...check,
    result: 'Failed',
    broken: [...(failed ? (check.broken ?? []) : []), limit],
    message: failed ? `${check.message}; ${failure}` : `${failure} (analysis: ${check.message})`,
  };
}

/** A check's verdict with every reason it is not a pass, and the figures it was made from. */
export interface Verdict {
  result: VerdictResult;
  /** Every violated limit ("error rate 4.2% > 1%"), or why the check could not decide. */
  reasons: string[];
  /** The limits broken, in the order of `reasons` (empty unless Failed). */
  broken: AnalysisLimit[];
  /** One line for status: the reasons, or the figures when it passed. */
  message: string;
  candidate: WindowFigures;
  stable?: WindowFigures;
}

const ZERO_AGREEMENT: AgreementStats = { compared: 0, agreed: 0, maxAbsDiff: 0 };

/** True when any counter of `later` is below `earlier`'s: the counters were reset. */
function wentBackwards(later: RouterStatsDocument, earlier: RouterStatsDocument): boolean {
  for (const [name, rev] of Object.entries(earlier.revisions)) {
    for (const kind of ['live', 'mirror'] as TrafficKind[]) {
      if ((later.revisions[name]?.[kind].requests ?? 0) < rev[kind].requests) return true;
    }
  }
  for (const [name, a] of Object.entries(earlier.agreement)) {
    if ((later.agreement[name]?.compared ?? 0) < a.compared) return true;
  }
  for (const [name, rev] of Object.entries(earlier.revisions)) {
    if ((later.revisions[name]?.accuracy?.labelled ?? 0) < (rev.accuracy?.labelled ?? 0)) return true;
  }
  return false;
}

/**
 * The traffic between two readings of the stats ConfigMap, summed over router pods.
 *
 * - A pod with the same `startTime` in both readings contributes `current - previous`.
 * - A pod whose `startTime` changed restarted: its counters began again at zero, so everything it
 *   counted since its start belongs to the window (what it counted before the restart and after
 *   its last write is lost; a restart loses at most one stats interval).
 * - A pod absent from the previous reading counts from its start when it started inside the window;
 *   otherwise (or without a previous reading at all) its counters span more than the window and it
 *   is skipped. Without any previous reading the window is therefore empty: the first check after
 *   traffic starts only sets the baseline.
 * - A pod only in the previous reading is gone; its last increments were never written.
 */
export function trafficWindow(previous: RouterStatsDocument[], current: RouterStatsDocument[]): TrafficWindow {
  const before = new Map(previous.map((d) => [d.pod, d]));
  // The window starts at the earliest previous reading of a pod that has written since. A pod
  // that has not (gone, its key not yet cleaned up) adds nothing, and must not drag the start
  // back before the current step, which would keep every check from counting for the step.
  const written = new Map(current.map((d) => [d.pod, Date.parse(d.time)]));
  const moved = previous.filter((d) => (written.get(d.pod) ?? -Infinity) > Date.parse(d.time));
  const windowStart = moved.length > 0 ? Math.min(...moved.map((d) => Date.parse(d.time))) : undefined;
  const window: TrafficWindow = { revisions: {}, agreement: {}, accuracy: {}, restartedPods: [], skippedPods: [] };
  if (windowStart !== undefined) window.from = new Date(windowStart).toISOString();
  if (current.length > 0) window.to = new Date(Math.max(...current.map((d) => Date.parse(d.time)))).toISOString();

  for (const doc of [...current].sort((a, b) => a.pod.localeCompare(b.pod))) {
    const earlier = before.get(doc.pod);
    let base: RouterStatsDocument | undefined;
    if (earlier !== undefined && earlier.startTime === doc.startTime && !wentBackwards(doc, earlier)) {
      base = earlier;
    } else if (windowStart !== undefined && Date.parse(doc.startTime) >= windowStart) {
      window.restartedPods.push(doc.pod);
    } else if (earlier !== undefined) {
      window.restartedPods.push(doc.pod);
    } else {
      window.skippedPods.push(`${doc.pod}: no earlier reading and started before the window`);
      continue;
    }
    for (const [name, rev] of Object.entries(doc.revisions)) {
      const baseRev = base?.revisions[name];
      const slot = (window.revisions[name] ??= {
        live: emptyTraffic(rev.live.latencyMs.le),
        mirror: emptyTraffic(rev.mirror.latencyMs.le),
      });
      for (const kind of ['live', 'mirror'] as TrafficKind[]) {
        const delta = baseRev ? subtractTraffic(rev[kind], baseRev[kind]) : rev[kind];
        slot[kind] = addTraffic(slot[kind], delta);
      }
      if (rev.accuracy !== undefined) {
        const delta = subtractAccuracy(rev.accuracy, baseRev?.accuracy);
        const joined = (window.accuracy[name] ??= { labelled: 0, correct: 0 });
        joined.labelled += delta.labelled;
        joined.correct += delta.correct;
      }
    }
    for (const [name, a] of Object.entries(doc.agreement)) {
      const b = base?.agreement[name] ?? ZERO_AGREEMENT;
      const slot = (window.agreement[name] ??= { compared: 0, agreed: 0 });
      slot.compared += a.compared - b.compared;
      slot.agreed += a.agreed - b.agreed;
    }
  }
  return window;
}

/**
 * A revision's figures over the window. `kind` picks the traffic judged: live normally, mirror
 * while the candidate only shadows.
 */
export function figuresOf(window: TrafficWindow, route: string, kind: TrafficKind = 'live'): WindowFigures {
  const t = window.revisions[route]?.[kind];
  const a = window.agreement[route];
  // Labels are joined with live predictions only: a shadowing candidate's copies have none.
  const joined = kind === 'live' ? window.accuracy[route] : undefined;
  const figures: WindowFigures = {
    requests: t?.requests ?? 0,
    errors: t?.errors ?? 0,
    compared: a?.compared ?? 0,
    agreed: a?.agreed ?? 0,
  };
  if (figures.requests > 0) figures.errorRate = figures.errors / figures.requests;
  const p99 = t ? quantileMs(t.latencyMs, 0.99) : undefined;
  if (p99 !== undefined) figures.latencyP99Ms = p99;
  if (figures.compared > 0) figures.agreement = figures.agreed / figures.compared;
  if (joined !== undefined) {
    figures.labels = joined.labelled;
    figures.correct = joined.correct;
    if (joined.labelled > 0) figures.accuracy = joined.correct / joined.labelled;
  }
  return figures;
}

/** A share as a percentage with at most two decimals: 0.0423 → "4.23%", 0.01 → "1%". */
export function percent(share: number): string {
  return `${Number((share * 100).toFixed(2))}%`;
}

function ms(value: number): string {
  return `${Number(value.toFixed(1))}ms`;
}

function stableNote(stable: WindowFigures | undefined, pick: (f: WindowFigures) => string | undefined): string {
  const value = stable ? pick(stable) : undefined;
  return value === undefined ? '' : ` (stable ${value})`;
}

/**
 * The verdict of one check on the candidate's figures against the limits.
 *
 * - Failed when any limit is broken, with every broken limit as a reason. Errors fail even below
 *   minRequests when they alone exceed what minRequests requests would allow and number at least
 *   {@link MIN_EARLY_FAILURES} (a candidate failing every request at low traffic is not
 *   "inconclusive"; one stray error is).
 * - Agreement (when minAgreement is set) is judged once minRequests mirrored responses were
 *   compared, or earlier when the disagreements alone exceed what minRequests would allow.
 * - Accuracy (when minAccuracy is set) is judged once minLabels labels were joined, or earlier when
 *   the wrong rows alone exceed what minLabels would allow (then no further labels can lift it to
 *   minAccuracy) and number at least {@link MIN_EARLY_FAILURES}.
 * - Inconclusive when fewer than minRequests requests were seen, when agreement is required
 *   (`requireAgreement`: the candidate only shadows) and fewer than minRequests were compared, or
 *   when minAccuracy is set, the candidate serves live, and fewer than minLabels labels were
 *   joined (a shadowing candidate serves no predictions to label: its accuracy is not judged).
 * - Passed otherwise.
 */
export function verdictOf(
  candidate: WindowFigures,
  stable: WindowFigures | undefined,
  limits: AnalysisLimits,
  requireAgreement = false,
): Verdict {
  const failures: string[] = [];
  const broken: AnalysisLimit[] = [];
  const undecided: string[] = [];
  const enough = candidate.requests >= limits.minRequests;

  if (enough && candidate.errorRate !== undefined && candidate.errorRate > limits.maxErrorRate) {
    broken.push('errorRate');
    failures.push(
      `error rate ${percent(candidate.errorRate)} > ${percent(limits.maxErrorRate)}${stableNote(stable, (f) => (f.errorRate === undefined ? undefined : percent(f.errorRate)))}`,
    );
  } else if (
    !enough &&
    candidate.errors >= MIN_EARLY_FAILURES &&
    candidate.errors > limits.maxErrorRate * limits.minRequests
  ) {
    broken.push('errorRate');
    failures.push(
      `${candidate.errors} errors in ${candidate.requests} requests: more than ${percent(limits.maxErrorRate)} of the ${limits.minRequests} minimum`,
    );
  }
  if (
    enough &&
    limits.maxLatencyP99Ms !== undefined &&
    candidate.latencyP99Ms !== undefined &&
    candidate.latencyP99Ms > limits.maxLatencyP99Ms
  ) {
    broken.push('latency');
    failures.push(
      `p99 latency ${ms(candidate.latencyP99Ms)} > ${ms(limits.maxLatencyP99Ms)}${stableNote(stable, (f) => (f.latencyP99Ms === undefined ? undefined : ms(f.latencyP99Ms)))}`,
    );
  }
  if (limits.minAgreement !== undefined) {
    const disagreed = candidate.compared - candidate.agreed;
    if (candidate.compared >= limits.minRequests && candidate.agreement! < limits.minAgreement) {
      broken.push('agreement');
      failures.push(
        `agreement ${percent(candidate.agreement!)} < ${percent(limits.minAgreement)} (${candidate.agreed}/${candidate.compared} mirrored responses agreed)`,
      );
    } else if (
      candidate.compared < limits.minRequests &&
      disagreed >= MIN_EARLY_FAILURES &&
      disagreed > (1 - limits.minAgreement) * limits.minRequests
    ) {
      broken.push('agreement');
      failures.push(
        `${disagreed} of ${candidate.compared} mirrored responses disagreed: more than ${percent(1 - limits.minAgreement)} of the ${limits.minRequests} minimum`,
      );
    } else if (requireAgreement && candidate.compared < limits.minRequests) {
      undecided.push(`${candidate.compared} mirrored responses compared < ${limits.minRequests} minimum`);
    }
  }
  if (limits.minAccuracy !== undefined) {
    const labels = candidate.labels ?? 0;
    const wrong = labels - (candidate.correct ?? 0);
    if (labels >= limits.minLabels && candidate.accuracy! < limits.minAccuracy) {
      broken.push('accuracy');
      failures.push(
        `accuracy ${percent(candidate.accuracy!)} < ${percent(limits.minAccuracy)} (${candidate.correct}/${candidate.labels} labelled rows right)${stableNote(stable, (f) => (f.accuracy === undefined ? undefined : percent(f.accuracy)))}`,
      );
    } else if (
      labels < limits.minLabels &&
      wrong >= MIN_EARLY_FAILURES &&
      wrong > (1 - limits.minAccuracy) * limits.minLabels
    ) {
      broken.push('accuracy');
      failures.push(
        `${wrong} of ${labels} labelled rows wrong: more than ${percent(1 - limits.minAccuracy)} of the ${limits.minLabels} minimum`,
      );
    } else if (!requireAgreement && labels < limits.minLabels) {
      undecided.push(`${labels} labels < ${limits.minLabels} minimum`);
    }
  }
  if (!enough) undecided.push(`${candidate.requests} requests < ${limits.minRequests} minimum`);

  let result: VerdictResult;
  let reasons: string[];
  if (failures.length > 0) [result, reasons] = ['Failed', failures];
  else if (undecided.length > 0) [result, reasons] = ['Inconclusive', undecided];
  else [result, reasons] = ['Passed', []];

  const verdict: Verdict = {
    result,
    reasons,
    broken,
    message: result === 'Passed' ? passedMessage(candidate) : reasons.join('; '),
    candidate,
  };
  if (stable) verdict.stable = stable;
  return verdict;
}

function passedMessage(f: WindowFigures): string {
  const parts = [`${f.requests} requests`, `error rate ${percent(f.errorRate ?? 0)}`];
  if (f.latencyP99Ms !== undefined) parts.push(`p99 ${ms(f.latencyP99Ms)}`);
  if (f.agreement !== undefined) parts.push(`agreement ${percent(f.agreement)}`);
  if (f.accuracy !== undefined) parts.push(`accuracy ${percent(f.accuracy)} of ${f.labels ?? 0} labels`);
  return parts.join(', ');
}

/**
 * One check end to end: the window between two readings, the candidate's figures (mirror traffic
 * when `shadow`, else live) and the stable's live figures, and the verdict.
 */
export function analyse(
  previous: RouterStatsDocument[],
  current: RouterStatsDocument[],
  routes: { stable: string; candidate: string },
  spec: AnalysisSpec | undefined,
  shadow = false,
): Verdict & { window: TrafficWindow } {
  const window = trafficWindow(previous, current);
  const candidate = figuresOf(window, routes.candidate, shadow ? 'mirror' : 'live');
  const stable = figuresOf(window, routes.stable, 'live');
  return { ...verdictOf(candidate, stable, analysisLimitsOf(spec), shadow), window };
}
