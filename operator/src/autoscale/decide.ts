/**
 * Request autoscaling of one revision, decided by the operator from the routers' figures (see
 * load.ts): a raw recommendation ceil(load / target) within the bounds, stabilised as an HPA's
 * `behavior` is (scale up to the lowest recommendation of the last scaleUpWindowSeconds, down to the
 * highest of the last scaleDownWindowSeconds), to zero after idleSeconds without a request, and back
 * from zero at once when a request is held (activation). Pure: time comes in as `now`.
 *
 * The ring is memory only: after an operator restart it starts empty, and the revision keeps the
 * replicas it runs (NoData) until the readings cover the metric window; a scale down waits until
 * they cover its window, and scale to zero until they cover idleSeconds. Activation never waits.
 */
import type { AutoscalingSpec, ModelDeployment, ScaleReason } from '../api/types.js';
import { idleFor, inFlightAt, loadAt, METRIC_WINDOW_SECONDS, type LoadMetric, type StatsReading } from './load.js';

/** Default of spec.autoscaling.scaleUpWindowSeconds (also the CRD's). */
export const DEFAULT_SCALE_UP_WINDOW_SECONDS = 0;
/** Default of spec.autoscaling.scaleDownWindowSeconds (also the CRD's). */
export const DEFAULT_SCALE_DOWN_WINDOW_SECONDS = 60;
/** Default of spec.autoscaling.activationTimeoutSeconds (also the CRD's). */
export const DEFAULT_ACTIVATION_TIMEOUT_SECONDS = 60;

/** Request autoscaling as the spec asks for it, defaults applied. */
export interface RequestPolicy {
  metric: LoadMetric;
  /** Per pod: mean requests in flight, or requests per second. */
  target: number;
  minReplicas: number;
  maxReplicas: number;
  upWindowSeconds: number;
  downWindowSeconds: number;
  /** Set with minReplicas 0: seconds without a request before scaling to zero. */
  idleSeconds?: number;
}

/**
 * The request policy of spec.autoscaling, or undefined when the operator does not scale on requests
 * (no autoscaling, or the CPU HPA).
 */
export function requestPolicyOf(autoscaling: AutoscalingSpec | undefined): RequestPolicy | undefined {
  if (autoscaling === undefined) return undefined;
  const { targetConcurrency, targetRequestsPerSecond } = autoscaling;
  if (targetConcurrency === undefined && targetRequestsPerSecond === undefined) return undefined;
  const policy: RequestPolicy = {
    metric: targetConcurrency !== undefined ? 'concurrency' : 'rps',
    target: targetConcurrency ?? targetRequestsPerSecond!,
    minReplicas: autoscaling.minReplicas ?? 1,
    maxReplicas: autoscaling.maxReplicas,
    upWindowSeconds: autoscaling.scaleUpWindowSeconds ?? DEFAULT_SCALE_UP_WINDOW_SECONDS,
    downWindowSeconds: autoscaling.scaleDownWindowSeconds ?? DEFAULT_SCALE_DOWN_WINDOW_SECONDS,
  };
  if (policy.minReplicas === 0 && autoscaling.idleSeconds !== undefined) policy.idleSeconds = autoscaling.idleSeconds;
  return policy;
}

/** The request policy of a ModelDeployment that scales on requests through its builtin router. */
export function requestPolicyFor(md: ModelDeployment): RequestPolicy | undefined {
  if (md.spec.traffic?.router === 'gateway-api') return undefined;
  return requestPolicyOf(md.spec.autoscaling);
}

/**
 * How long the ring must reach back for every decision of a policy: the longest window plus the
 * metric window each recommendation in it rests on, or idleSeconds.
 */
export function ringSecondsFor(policy: RequestPolicy): number {
  return Math.max(policy.upWindowSeconds, policy.downWindowSeconds, policy.idleSeconds ?? 0) + METRIC_WINDOW_SECONDS;
}

/** Everything one revision's scale decision depends on. */
export interface AutoscaleInput {
  policy: RequestPolicy;
  /** The shell's readings, oldest first; the last one is this reconcile's. */
  readings: readonly StatsReading[];
  /** The route names whose load sizes the revision: its own, or every revision's during a canary. */
  routes: readonly string[];
  /** Replicas the revision's Deployment has now; undefined for a revision that does not run yet. */
  current: number | undefined;
  /** False keeps the revision from zero (a stable during a canary keeps the capacity for a rollback). */
  mayIdle: boolean;
}

/** One revision's scale decision: the replicas to run, and why in words with the figures. */
export interface ScaleDecision {
  desired: number;
  reason: Extract<ScaleReason, 'Load' | 'Idle' | 'Activation' | 'NoData'>;
  message: string;
  /** The load the decision rests on, when it rests on one. */
  load?: number;
}

/** A figure as messages print it: at most one decimal. */
function fig(n: number): string {
  return String(Math.round(n * 10) / 10);
}

/** The load and target in words: `13.2 in flight against a target of 4 per pod`. */
export function loadWords(policy: RequestPolicy, load: number): string {
  return policy.metric === 'concurrency'
    ? `load ${fig(load)} in flight against a target of ${fig(policy.target)} per pod`
    : `load ${fig(load)} requests/s against a target of ${fig(policy.target)} per pod`;
}

/** ceil(load / target) within [max(minReplicas, 1), maxReplicas]; a hair of tolerance keeps 8.0000001/4 at 2. */
export function rawRecommendation(policy: RequestPolicy, load: number): number {
  const wanted = Math.ceil(load / policy.target - 1e-9);
  return Math.min(policy.maxReplicas, Math.max(policy.minReplicas, 1, wanted));
}

/** Decide one revision's replicas. Pure: the readings carry the time. */
export function decideScale(input: AutoscaleInput): ScaleDecision {
  const { policy, readings, routes, mayIdle } = input;
  const lower = Math.max(policy.minReplicas, 1);
  const start = input.current ?? lower;
  const last = readings.length - 1;
  const latest = readings[last];
  const now = inFlightAt(latest, routes);

  if (start === 0 && (now.inFlight > 0 || !mayIdle || policy.idleSeconds === undefined)) {
    const wanted = policy.metric === 'concurrency' ? Math.ceil(now.inFlight / policy.target) : 1;
    const desired = Math.min(policy.maxReplicas, Math.max(lower, wanted));
    const why =
      now.inFlight > 0
        ? `${now.held} request(s) held, ${now.inFlight} in flight at zero replicas`
        : 'the revision may not stay at zero';
    return { desired, reason: 'Activation', message: `${why}: starting ${desired}` };
  }
  const bounded = start === 0 ? 0 : Math.min(policy.maxReplicas, Math.max(lower, start));
  const covered = latest === undefined ? 0 : (latest.at - readings[0]!.at) / 1000;
  const load = loadAt(readings, last, routes, policy.metric);
  if (latest === undefined || covered < METRIC_WINDOW_SECONDS || load === undefined) {
    const why =
      load === undefined && covered >= METRIC_WINDOW_SECONDS
        ? 'no router pod reports load'
        : `router stats cover ${fig(covered)}s of the ${METRIC_WINDOW_SECONDS}s metric window`;
    return { desired: bounded, reason: 'NoData', message: `${why}: keeping ${bounded} replica(s)` };
  }
  if (start === 0) {
    return { desired: 0, reason: 'Idle', message: `no request at zero replicas (${loadWords(policy, load)})`, load };
  }

  if (mayIdle && policy.idleSeconds !== undefined && idleFor(readings, last, routes, policy.idleSeconds) === true) {
    return {
      desired: 0,
      reason: 'Idle',
      message: `no request for ${policy.idleSeconds}s (idleSeconds): scaling ${start} to zero`,
      load,
    };
  }

  // Every recommendation of the windows, each on a full metric window of readings.
  const window = Math.max(policy.upWindowSeconds, policy.downWindowSeconds) * 1000;
  const recommendations: { at: number; replicas: number }[] = [];
  for (let i = 0; i <= last; i++) {
    const r = readings[i]!;
    if (r.at < latest.at - window || r.at - readings[0]!.at < METRIC_WINDOW_SECONDS * 1000) continue;
    const l = i === last ? load : loadAt(readings, i, routes, policy.metric);
    if (l !== undefined) recommendations.push({ at: r.at, replicas: rawRecommendation(policy, l) });
  }
  const within = (seconds: number): number[] =>
    recommendations.filter((r) => r.at >= latest.at - seconds * 1000).map((r) => r.replicas);
  const up = Math.min(...within(policy.upWindowSeconds));
  const down = Math.max(...within(policy.downWindowSeconds));
  const words = loadWords(policy, load);

  let desired = bounded;
  if (desired < up) desired = up;
  if (desired > down) {
    if (covered < policy.downWindowSeconds) {
      return {
        desired,
        reason: 'NoData',
        message: `${words}; a scale down waits for ${policy.downWindowSeconds}s of router stats (have ${fig(covered)}s): keeping ${desired}`,
        load,
      };
    }
    desired = down;
  }
  const raw = rawRecommendation(policy, load);
  const held =
    desired !== raw
      ? `; ${raw} now, held at ${desired} by the scale-${raw > desired ? 'up' : 'down'} window of ${raw > desired ? policy.upWindowSeconds : policy.downWindowSeconds}s`
      : '';
  return { desired, reason: 'Load', message: `${words}: ${desired} replica(s)${held}`, load };
}
