/**
 * The rollout decision: which revisions exist, which one serves, and with what share of traffic.
 *
 * The first revision goes straight to stable. A new revision becomes the candidate and the canary
 * state machine (canary.ts) moves it on: warm-up at 0%, the contract gate, optional shadow, steps
 * with analysis, then Promoted or RolledBack — or, with spec.rollout.strategy Replace, 100% as soon
 * as it is available. On promotion the previous stable is retained (warm, at full scale) for
 * spec.rollout.retainPreviousSeconds, so a rollback right after promotion is instant.
 *
 * The plan's memory is the status: status.stable, status.retained and status.canary say what
 * served and where the canary was; the observed Deployments carry the templates of revisions the
 * spec no longer describes; the router's stats ConfigMap and the shell's baseline reading feed the
 * analysis (canary-input.ts reads them all for the state machine). The state machine decides; this
 * file realises its decision as revisions to run, their scales, the traffic split and the history.
 */
import type { AutoscalingSpec, ModelDeployment, ModelDeploymentSpec, WebhookType } from '../api/types.js';
import { ANNOTATION, LABEL, revisionName } from '../desired/names.js';
import { deploymentNamed, type Observed } from '../observed.js';
import { Because, Reason, type Reasoned } from '../status/reasons.js';
import type { TrafficMirror, TrafficWeight } from '../traffic/types.js';
import type { RouterStatsDocument } from '../../../contract/stats.js';
import { requestPolicyFor, requestPolicyOf } from '../autoscale/decide.js';
import { canaryInputOf } from './canary-input.js';
import {
  nextCanary,
  type CanaryDecision,
  type CheckAnswers,
  type CanaryState,
  type CanaryTransition,
} from './canary.js';
import { revisionOf, revisionOfTemplate, templateOf, type RevisionTemplate } from './revision.js';
import {
  candidateWhy,
  currentReplicasOf,
  retainedWhy,
  stableDecision,
  stableReplicasFor,
  stableScaleOf,
  type ScaleWhy,
} from './sizing.js';

/** Default for spec.rollout.retainPreviousSeconds (also the CRD default). */
export const DEFAULT_RETAIN_SECONDS = 600;

/** What a revision is for in this plan. */
export type RevisionRole = 'stable' | 'candidate' | 'retained';

/** How many pods a revision runs: a fixed count, or an HPA range. */
export type RevisionScale =
  | { replicas: number; autoscaling?: undefined }
  | {
      replicas?: undefined;
      autoscaling: Required<Pick<AutoscalingSpec, 'minReplicas' | 'maxReplicas' | 'targetCPUUtilizationPercentage'>>;
    };

/** One revision the plan keeps running, with everything the builders need to render it. */
export interface RevisionPlan {
  revision: string;
  role: RevisionRole;
  template: RevisionTemplate;
  scale: RevisionScale;
  /** Why it runs what it does (status.scale, the scale Events); set on every revision plan() returns. */
  why?: ScaleWhy;
  /**
   * The router holds this revision's requests: it has no ready pod (at zero, or starting from it),
   * or it is on its way to zero (request autoscaling with minReplicas 0).
   */
  hold?: true;
  /** With `hold`: the base URLs of its running pods, which the router probes and may send to directly. */
  startingPods?: string[];
}

/** A retained revision and when it stops being kept warm (RFC 3339). */
export interface RetainedRevisionPlan extends RevisionPlan {
  role: 'retained';
  until: string;
}

/** Where the rollout is: Stable (nothing pending) or Progressing (a candidate is on its way). */
export type RolloutPhase = 'Stable' | 'Progressing';

/** A change of the stable revision decided by this plan; the status records it in history. */
export interface RolloutTransition {
  outcome: 'Initial' | 'Promoted' | 'RolledBack';
  revision: string;
  /** The stable revision before this transition, if any. */
  previous?: string;
  /** Used for the Event and the history entry. */
  reason: Reason;
  message: string;
}

/** The full rollout decision for one reconcile. */
export interface RolloutPlan {
  /** The revision the spec asks for. */
  specRevision: string;
  phase: RolloutPhase;
  stable: RevisionPlan;
  candidate?: RevisionPlan;
  retained: RetainedRevisionPlan[];
  /** Live traffic split; always includes the stable revision. */
  weights: TrafficWeight[];
  transition?: RolloutTransition;
  /** Requests copied to the candidate, when the canary shadows or samples agreement. */
  mirror?: TrafficMirror;
  /** Why the plan is what it is, one line for status and logs. */
  message: string;
  /** When the plan will change by the passage of time alone (a check, a pause, a retention ending). */
  requeueAfterSeconds?: number;
  /** The canary's state after this decision (status.canary); undefined when none is in flight or held. */
  canary?: CanaryState;
  /** The canary's phase or step change, for an Event. */
  canaryTransition?: CanaryTransition;
  /** Set while the spec asks for a revision that does not serve and will not on its own. */
  stalled?: Reasoned;
  /** The action annotation value handled by this decision (status.lastAction). */
  handledAction?: string;
  /** What became of that action. */
  actionMessage?: string;
  /** True when the action was malformed, ignored or refused (a Warning, not a Normal Event). */
  actionRefused?: boolean;
  /** Set when this decision made an analysis check: the stats it read, where the next check's window starts. */
  baseline?: RouterStatsDocument[];
  /** Router stats documents that could not be read (one broken pod does not stop the analysis). */
  statsErrors?: string[];
  /** Webhooks whose answers the canary decision needs: call them and plan again with the answers. */
  webhooksDue?: WebhookType;
  /** Set when the canary decision needs the answers of spec.rollout.analysis.metrics: query, then plan again. */
  metricsDue?: boolean;
}

/**
 * Decide the rollout for this reconcile, and every revision's scale. Pure: time comes in as `now`,
 * the router stats readings of request autoscaling as `observed.statsReadings`, and the answers of
 * webhooks and queries an earlier plan on the same snapshot named due as `answers`.
 */
export function plan(md: ModelDeployment, observed: Observed, now: Date, answers?: CheckAnswers): RolloutPlan {
  return sized(md, observed, rollout(md, observed, now, answers));
}

/** The rollout decision: which revisions run, in which roles, with which split. */
function rollout(md: ModelDeployment, observed: Observed, now: Date, answers: CheckAnswers | undefined): RolloutPlan {
  const specRevision = revisionOf(md);
  const scale = scaleOf(md.spec);
  const spec: RevisionPlan = { revision: specRevision, role: 'stable', template: templateOf(md.spec), scale };
  const previous = md.status?.stable?.revision;

  if (previous === undefined)
    return replacedAtOnce(now, spec, { outcome: 'Initial', ...Because.initialRevision(specRevision) });
  const previousTemplate = previous === specRevision ? spec.template : observedTemplate(md, observed, previous);
  if (previousTemplate === undefined) {
    return replacedAtOnce(now, spec, {
      outcome: 'Promoted',
      previous,
      ...Because.previousRevisionGone(specRevision, previous),
    });
  }
  return canaryPlan(
    md,
    observed,
    now,
    spec,
    { revision: previous, role: 'stable', template: previousTemplate, scale },
    answers,
  );
}

/** A plan without its derived members (phase and requeue time), as the branches build it. */
type Draft = Omit<RolloutPlan, 'phase' | 'requeueAfterSeconds'> & { requeueAfterSeconds?: number };

/** The spec's revision serves 100% at once, with nothing retained: the first revision, or the stable is gone. */
function replacedAtOnce(now: Date, spec: RevisionPlan, why: Omit<RolloutTransition, 'revision'>): RolloutPlan {
  const transition: RolloutTransition = { revision: spec.revision, ...why };
  return finish(now, {
    specRevision: spec.revision,
    stable: spec,
    retained: [],
    weights: [{ revision: spec.revision, percent: 100 }],
    transition,
    message: transition.message,
  });
}

/**
 * The plan once a stable revision exists: unless the spec went back to a warm retained revision,
 * the canary state machine decides from what canary-input.ts reads, and the plan realises the
 * decision: who is stable after it, which candidate runs at what scale, what stays retained, and
 * the traffic split over the revisions that run.
 */
function canaryPlan(
  md: ModelDeployment,
  observed: Observed,
  now: Date,
  spec: RevisionPlan,
  stable: RevisionPlan,
  answers: CheckAnswers | undefined,
): RolloutPlan {
  const retainSeconds = md.spec.rollout?.retainPreviousSeconds ?? DEFAULT_RETAIN_SECONDS;
  const warm = stillRetained(md, observed, now, [stable.revision], spec.scale);
  if (warm.some((r) => r.revision === spec.revision)) return revertedToRetained(now, spec, stable, warm, retainSeconds);

  // The stable as it will run during a canary: sized on every revision's load, never at zero.
  const policy = requestPolicyFor(md);
  const everyRevision = [...new Set([stable.revision, spec.revision, ...warm.map((r) => r.revision)])];
  const stableReplicas = stableReplicasFor(
    md,
    observed,
    stable.revision,
    policy && stableDecision(md, observed, policy, stable.revision, everyRevision, false),
  );
  const { input, baseline, statsErrors } = canaryInputOf(md, observed, now, {
    stable: stable.revision,
    candidate: spec.revision,
    retained: warm[0]?.revision,
    stableReplicas,
  });
  if (answers?.webhooks) input.webhooks = answers.webhooks;
  if (answers?.metrics) input.metrics = answers.metrics;
  const decision = nextCanary(input);

  const after = succession(
    decision,
    spec,
    stable,
    warm,
    retainSeconds > 0 ? retainedUntil(now, retainSeconds) : undefined,
  );
  const canary = inFlight(decision);
  const candidate =
    canary && candidateOf(md, observed, decision, canary, after.stable, { spec, stable }, stableReplicas);
  const running = [after.stable.revision, candidate?.revision, ...after.retained.map((r) => r.revision)];
  const retained = [...after.retained, ...warm.filter((r) => !running.includes(r.revision))];
  const planned = new Set([after.stable.revision, candidate?.revision, ...retained.map((r) => r.revision)]);

  const state = decision.state;
  const draft: Draft = {
    specRevision: spec.revision,
    stable: after.stable,
    retained,
    weights: weightsOver(decision.weights, planned, retained),
    message:
      state?.phase === 'Promoted' || state === undefined
        ? (after.transition?.message ?? `revision ${after.stable.revision} is stable and serves 100%`)
        : state.message,
  };
  if (candidate) draft.candidate = candidate;
  if (after.transition) draft.transition = after.transition;
  if (decision.mirror && planned.has(decision.mirror.revision)) draft.mirror = decision.mirror;
  if (canary) draft.canary = canary;
  if (decision.transition) draft.canaryTransition = decision.transition;
  if (decision.stalled) draft.stalled = decision.stalled;
  if (decision.handledAction !== undefined) draft.handledAction = decision.handledAction;
  if (decision.actionMessage !== undefined) draft.actionMessage = decision.actionMessage;
  if (decision.actionRefused) draft.actionRefused = true;
  if (baseline) draft.baseline = baseline;
  if (statsErrors.length > 0) draft.statsErrors = statsErrors;
  if (decision.webhooksDue !== undefined) draft.webhooksDue = decision.webhooksDue;
  if (decision.metricsDue) draft.metricsDue = true;
  if (decision.requeueAfterSeconds !== undefined) draft.requeueAfterSeconds = decision.requeueAfterSeconds;
  return finish(now, draft);
}

/**
 * The spec went back to a revision that served moments ago and is still warm: like Argo Rollouts'
 * rollback window, it takes 100% at once, without a canary.
 */
function revertedToRetained(
  now: Date,
  spec: RevisionPlan,
  stable: RevisionPlan,
  warm: RetainedRevisionPlan[],
  retainSeconds: number,
): RolloutPlan {
  const transition: RolloutTransition = {
    outcome: 'RolledBack',
    revision: spec.revision,
    previous: stable.revision,
    ...Because.revertedToRetained(spec.revision),
  };
  const retained: RetainedRevisionPlan[] =
    retainSeconds > 0
      ? [{ ...stable, role: 'retained', scale: spec.scale, until: retainedUntil(now, retainSeconds) }]
      : [];
  retained.push(...warm.filter((r) => r.revision !== spec.revision));
  const weights = [
    { revision: spec.revision, percent: 100 },
    ...retained.map((r) => ({ revision: r.revision, percent: 0 })),
  ];
  return finish(now, {
    specRevision: spec.revision,
    stable: spec,
    retained,
    weights,
    transition,
    message: transition.message,
  });
}

/**
 * Who is stable after the decision, and the history entry when that changed or a candidate was
 * rolled back: the stable stays; or the candidate was promoted (the old stable is retained until
 * `until`, when retention is on); or a rollback after promotion returned to a warm retained revision.
 */
function succession(
  decision: CanaryDecision,
  spec: RevisionPlan,
  stable: RevisionPlan,
  warm: RetainedRevisionPlan[],
  until: string | undefined,
): { stable: RevisionPlan; transition?: RolloutTransition; retained: RetainedRevisionPlan[] } {
  const state = decision.state;
  if (decision.stableRevision === stable.revision) {
    if (state?.phase !== 'RolledBack' || decision.transition === undefined) return { stable, retained: [] };
    const transition = rolloutTransition('RolledBack', state.revision, stable.revision, decision.transition);
    return { stable, transition, retained: [] };
  }
  if (decision.stableRevision === spec.revision) {
    const why =
      decision.transition ??
      Because.promotionCompleted(state?.reason ?? Reason.Promoted, spec.revision, stable.revision);
    return {
      stable: spec,
      transition: rolloutTransition('Promoted', spec.revision, stable.revision, why),
      retained: until !== undefined ? [{ ...stable, role: 'retained', scale: spec.scale, until }] : [],
    };
  }
  // A rollback after promotion: the retained revision serves again at once.
  const back = warm.find((r) => r.revision === decision.stableRevision)!;
  return {
    stable: { revision: back.revision, role: 'stable', template: back.template, scale: spec.scale },
    transition: rolloutTransition('RolledBack', back.revision, stable.revision, decision.transition!),
    retained: [],
  };
}

function rolloutTransition(
  outcome: RolloutTransition['outcome'],
  revision: string,
  previous: string,
  why: Reasoned,
): RolloutTransition {
  return { outcome, revision, previous, reason: why.reason, message: why.message };
}

/**
 * The canary still in flight after the decision (status.canary): none when there is no state, or
 * once a promoted candidate took over as stable.
 */
function inFlight(decision: CanaryDecision): CanaryState | undefined {
  const state = decision.state;
  return state?.phase === 'Promoted' && decision.stableRevision === state.revision ? undefined : state;
}

/**
 * The candidate to run for a canary in flight, at the replicas the decision gives for its share of
 * the stable's `stableReplicas` (with the CPU HPA, as its HPA's floor); none when it is the stable,
 * or its template is known no more.
 */
function candidateOf(
  md: ModelDeployment,
  observed: Observed,
  decision: CanaryDecision,
  canary: CanaryState,
  newStable: RevisionPlan,
  known: { spec: RevisionPlan; stable: RevisionPlan },
  stableReplicas: number,
): RevisionPlan | undefined {
  if (canary.revision === newStable.revision) return undefined;
  const template =
    [known.spec, known.stable].find((r) => r.revision === canary.revision)?.template ??
    observedTemplate(md, observed, canary.revision);
  if (template === undefined) return undefined;
  const replicas = decision.candidateReplicas;
  if (replicas === undefined)
    return { revision: canary.revision, role: 'candidate', template, scale: known.spec.scale };
  const hpa = known.spec.scale.autoscaling;
  const scale: RevisionScale =
    hpa !== undefined && replicas > 0
      ? {
          autoscaling: {
            ...hpa,
            minReplicas: Math.max(hpa.minReplicas, replicas),
            maxReplicas: Math.max(hpa.maxReplicas, replicas),
          },
        }
      : { replicas };
  const share =
    canary.phase === 'Promoted' ? 100 : canary.weight + (canary.mirrorPercent * (100 - canary.weight)) / 100;
  const why = candidateWhy(replicas, stableReplicas, share, canary.phase === 'RolledBack');
  return { revision: canary.revision, role: 'candidate', template, scale, why };
}

/**
 * The decision's split over the revisions that run, with every warm retained revision at 0%: a
 * rollback to one is a weight change only.
 */
function weightsOver(
  decided: TrafficWeight[],
  planned: Set<string | undefined>,
  retained: RetainedRevisionPlan[],
): TrafficWeight[] {
  const weights = decided.filter((w) => planned.has(w.revision));
  for (const r of retained)
    if (!weights.some((w) => w.revision === r.revision)) weights.push({ revision: r.revision, percent: 0 });
  return weights;
}

/** Phase and requeue time: the sooner of the canary's next moment and the first retention to end. */
function finish(now: Date, draft: Draft): RolloutPlan {
  const active = draft.canary !== undefined && draft.canary.phase !== 'RolledBack';
  const result: RolloutPlan = { ...draft, phase: active ? 'Progressing' : 'Stable' };
  delete result.requeueAfterSeconds;
  const times = draft.retained.map((r) => Math.ceil((Date.parse(r.until) - now.getTime()) / 1000));
  if (draft.requeueAfterSeconds !== undefined) times.push(draft.requeueAfterSeconds);
  if (times.length > 0) result.requeueAfterSeconds = Math.max(1, Math.min(...times));
  return result;
}

/** When a revision retained now stops being kept warm (RFC 3339). */
function retainedUntil(now: Date, retainSeconds: number): string {
  return new Date(now.getTime() + retainSeconds * 1000).toISOString();
}

/** Revisions from status.retained whose time has not run out and whose Deployment still exists. */
function stillRetained(
  md: ModelDeployment,
  observed: Observed,
  now: Date,
  exclude: (string | undefined)[],
  scale: RevisionScale,
): RetainedRevisionPlan[] {
  const out: RetainedRevisionPlan[] = [];
  for (const entry of md.status?.retained ?? []) {
    if (exclude.includes(entry.revision) || out.some((r) => r.revision === entry.revision)) continue;
    if (!(Date.parse(entry.until) > now.getTime())) continue;
    const template = observedTemplate(md, observed, entry.revision);
    if (template === undefined) continue;
    out.push({ revision: entry.revision, role: 'retained', template, scale, until: entry.until });
  }
  return out;
}

/**
 * The template of a revision that exists only in the cluster, read back from its Deployment's
 * annotation; undefined when the Deployment is gone or its annotation was tampered with.
 */
function observedTemplate(md: ModelDeployment, observed: Observed, revision: string): RevisionTemplate | undefined {
  const deployment = deploymentNamed(observed, revisionName(md, revision));
  if (deployment?.metadata?.labels?.[LABEL.revision] !== revision) return undefined;
  const raw = deployment.metadata?.annotations?.[ANNOTATION.template];
  if (raw === undefined) return undefined;
  try {
    const template = JSON.parse(raw) as RevisionTemplate;
    return revisionOfTemplate(template) === revision ? template : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The plan with every revision's scale and its reason: the stable's from the spec (a fixed count,
 * the CPU HPA, or request autoscaling on the load of every revision that runs, kept from zero while
 * a candidate is in flight), each retained one at the replicas it had. The candidate's came with
 * the canary decision. Request autoscaling looks again every second.
 */
function sized(md: ModelDeployment, observed: Observed, decided: RolloutPlan): RolloutPlan {
  const policy = requestPolicyFor(md);
  const out: RolloutPlan = { ...decided };
  const stable = decided.stable;
  if (policy !== undefined) {
    const running = revisionsOf(decided).map((r) => r.revision);
    const canaryLive = decided.candidate !== undefined && decided.canary?.phase !== 'RolledBack';
    const decision = stableDecision(md, observed, policy, stable.revision, running, !canaryLive);
    const s = stableScaleOf(md, observed, policy, stable.revision, decision);
    out.stable = { ...stable, scale: { replicas: s.replicas }, why: s.why };
    if (s.hold) out.stable.hold = true;
    if (s.startingPods) out.stable.startingPods = s.startingPods;
    out.requeueAfterSeconds = 1;
  } else if (stable.scale.autoscaling !== undefined) {
    const { minReplicas, maxReplicas, targetCPUUtilizationPercentage } = stable.scale.autoscaling;
    out.stable = {
      ...stable,
      why: {
        reason: 'CPU',
        message: `its HPA keeps CPU near ${targetCPUUtilizationPercentage}% of requests with ${minReplicas}..${maxReplicas} replicas`,
      },
    };
  } else {
    const n = stable.scale.replicas;
    out.stable = { ...stable, why: { reason: 'Fixed', message: `spec.replicas: ${n}`, desired: n } };
  }
  out.retained = decided.retained.map((r) => {
    if (policy === undefined) return { ...r, why: retainedWhy(r.scale.replicas, r.until) };
    const replicas = Math.max(1, currentReplicasOf(md, observed, r.revision) ?? 1);
    return { ...r, scale: { replicas }, why: retainedWhy(replicas, r.until) };
  });
  return out;
}

/** Every revision the plan keeps running: stable first, then candidate, then retained. */
export function revisionsOf(plan: RolloutPlan): RevisionPlan[] {
  return [plan.stable, ...(plan.candidate ? [plan.candidate] : []), ...plan.retained];
}

/**
 * The scale every revision gets from the spec: autoscaling wins, else replicas, else 1. Request
 * autoscaling starts at max(minReplicas, 1); plan() sizes it on the load.
 */
export function scaleOf(spec: ModelDeploymentSpec): RevisionScale {
  const policy = requestPolicyOf(spec.autoscaling);
  if (policy) return { replicas: Math.max(1, policy.minReplicas) };
  if (spec.autoscaling) {
    const { minReplicas = 1, maxReplicas, targetCPUUtilizationPercentage = 70 } = spec.autoscaling;
    return { autoscaling: { minReplicas, maxReplicas, targetCPUUtilizationPercentage } };
  }
  return { replicas: spec.replicas ?? 1 };
}
