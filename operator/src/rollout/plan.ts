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
 * analysis.
 */
import type { AutoscalingSpec, CanaryStatus, ModelDeployment, ModelDeploymentSpec } from '../api/types.js';
import { ANNOTATION, LABEL, revisionName } from '../desired/names.js';
import { configMapNamed, deploymentNamed, type Observed } from '../observed.js';
import { problemsOf } from '../status/problems.js';
import { routeNameOf, statsConfigMapName } from '../traffic/names.js';
import type { TrafficMirror } from '../traffic/types.js';
import { parseStatsData, type RouterStatsDocument } from '../../../contract/stats.js';
import { analyse, type WindowFigures } from './analysis.js';
import { countsOf, isAvailableAtScale, isDeploymentAvailable } from './availability.js';
import { ACTION_ANNOTATION, pendingAction } from './canary-action.js';
import {
  checkDue,
  nextCanary,
  replicasForShare,
  type CanaryDecision,
  type CanaryInput,
  type CanaryState,
  type CanaryTransition,
  type Progression,
} from './canary.js';
import { checkContract, modelMetadataOf } from './contract.js';
import { revisionOf, revisionOfTemplate, templateOf, type RevisionTemplate } from './revision.js';

/** Default for spec.rollout.retainPreviousSeconds (also the CRD default). */
export const DEFAULT_RETAIN_SECONDS = 600;

/** What a revision is for in this plan. */
export type RevisionRole = 'stable' | 'candidate' | 'retained';

/** How many pods a revision runs: a fixed count, or an HPA range. */
export type RevisionScale =
  { replicas: number; autoscaling?: undefined } | { replicas?: undefined; autoscaling: Required<AutoscalingSpec> };

/** One revision the plan keeps running, with everything the builders need to render it. */
export interface RevisionPlan {
  revision: string;
  role: RevisionRole;
  template: RevisionTemplate;
  scale: RevisionScale;
}

/** A retained revision and when it stops being kept warm (RFC 3339). */
export interface RetainedRevisionPlan extends RevisionPlan {
  role: 'retained';
  until: string;
}

/** Share of live traffic one revision receives (the percents of a plan sum to 100). */
export interface TrafficWeight {
  revision: string;
  percent: number;
}

/** Where the rollout is: Stable (nothing pending) or Progressing (a candidate is on its way). */
export type RolloutPhase = 'Stable' | 'Progressing';

/** A change of the stable revision decided by this plan; the status records it in history. */
export interface RolloutTransition {
  outcome: 'Initial' | 'Promoted' | 'RolledBack';
  revision: string;
  /** The stable revision before this transition, if any. */
  previous?: string;
  /** CamelCase reason, used for the Event and the history entry. */
  reason: string;
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
  stalled?: { reason: string; message: string };
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
}

/** Every revision the plan keeps running: stable first, then candidate, then retained. */
export function revisionsOf(plan: RolloutPlan): RevisionPlan[] {
  return [plan.stable, ...(plan.candidate ? [plan.candidate] : []), ...plan.retained];
}

/** The scale every revision gets from the spec: autoscaling wins, else replicas, else 1. */
export function scaleOf(spec: ModelDeploymentSpec): RevisionScale {
  if (spec.autoscaling) {
    const { minReplicas = 1, maxReplicas, targetCPUUtilizationPercentage = 70 } = spec.autoscaling;
    return { autoscaling: { minReplicas, maxReplicas, targetCPUUtilizationPercentage } };
  }
  return { replicas: spec.replicas ?? 1 };
}

/**
 * The template of a revision that exists only in the cluster, read back from its Deployment's
 * annotation; undefined when the Deployment is gone or its annotation was tampered with.
 */
export function observedTemplate(
  md: ModelDeployment,
  observed: Observed,
  revision: string,
): RevisionTemplate | undefined {
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
 * Problems that stop a candidate for good, so it is rolled back rather than waited for: the model
 * failed verification, the server keeps crashing, or the Deployment gave up progressing.
 */
const FATAL_CANDIDATE_PROBLEMS = new Set(['ModelVerificationFailed', 'CrashLoopBackOff', 'ProgressDeadlineExceeded']);

/** How this ModelDeployment's candidates earn promotion (see {@link Progression}). */
export function progressionOf(md: ModelDeployment): Progression {
  if (md.spec.rollout?.strategy === 'Replace') return 'immediate';
  return md.spec.traffic?.router === 'gateway-api' ? 'timed' : 'analysed';
}

/** Decide the rollout for this reconcile. Pure: time comes in as `now`. */
export function plan(md: ModelDeployment, observed: Observed, now: Date): RolloutPlan {
  const specRevision = revisionOf(md);
  const scale = scaleOf(md.spec);
  const spec: RevisionPlan = { revision: specRevision, role: 'stable', template: templateOf(md.spec), scale };
  const previous = md.status?.stable?.revision;

  if (previous === undefined) {
    const transition: RolloutTransition = {
      outcome: 'Initial',
      revision: specRevision,
      reason: 'InitialRevision',
      message: `revision ${specRevision} is the first revision and serves 100%`,
    };
    return finish(now, {
      specRevision,
      stable: spec,
      retained: [],
      weights: [{ revision: specRevision, percent: 100 }],
      transition,
      message: transition.message,
    });
  }
  const previousTemplate = previous === specRevision ? spec.template : observedTemplate(md, observed, previous);
  if (previousTemplate === undefined) {
    const transition: RolloutTransition = {
      outcome: 'Promoted',
      revision: specRevision,
      previous,
      reason: 'PreviousRevisionGone',
      message: `revision ${specRevision} replaces ${previous}, whose Deployment no longer exists`,
    };
    return finish(now, {
      specRevision,
      stable: spec,
      retained: [],
      weights: [{ revision: specRevision, percent: 100 }],
      transition,
      message: transition.message,
    });
  }
  return canaryPlan(md, observed, now, spec, { revision: previous, role: 'stable', template: previousTemplate, scale });
}

/** A plan without its derived members (phase and requeue time), as the branches build it. */
type Draft = Omit<RolloutPlan, 'phase' | 'requeueAfterSeconds'> & { requeueAfterSeconds?: number };

/** The plan once a stable revision exists: the canary decides, the plan realises the decision. */
function canaryPlan(
  md: ModelDeployment,
  observed: Observed,
  now: Date,
  spec: RevisionPlan,
  stable: RevisionPlan,
): RolloutPlan {
  const specRevision = spec.revision;
  const retainSeconds = md.spec.rollout?.retainPreviousSeconds ?? DEFAULT_RETAIN_SECONDS;
  const warm = stillRetained(md, observed, now, [stable.revision], spec.scale);
  if (warm.some((r) => r.revision === specRevision)) return revertedToRetained(now, spec, stable, warm, retainSeconds);

  const { input, baseline, actionError, statsErrors } = canaryInputOf(
    md,
    observed,
    now,
    spec.revision,
    stable.revision,
    warm,
  );
  const decision = nextCanary(input);
  if (input.progression === 'immediate' && decision.state?.phase === 'Pending')
    decision.candidateReplicas = replicasForShare(md.spec, 100);
  const candidateDeployment = deploymentNamed(observed, revisionName(md, specRevision));
  // Promotion moves every request onto the candidate: first it must run at the stable's size.
  const promoting =
    decision.stableRevision === specRevision &&
    decision.state !== undefined &&
    !isAvailableAtScale(candidateDeployment, spec.scale);
  if (promoting)
    holdUntilScaled(md, decision, stable.revision, input.previous, countsOf(candidateDeployment ?? {}).available);
  const templateOfRevision = (revision: string): RevisionTemplate | undefined =>
    revision === specRevision
      ? spec.template
      : revision === stable.revision
        ? stable.template
        : observedTemplate(md, observed, revision);

  let newStable: RevisionPlan;
  let transition: RolloutTransition | undefined;
  const retained: RetainedRevisionPlan[] = [];
  const until = new Date(now.getTime() + retainSeconds * 1000).toISOString();
  const state = decision.state;
  if (decision.stableRevision === stable.revision) {
    newStable = stable;
  } else if (decision.stableRevision === specRevision) {
    newStable = spec;
    const why = decision.transition ?? {
      reason: state?.reason ?? 'Promoted',
      message: `candidate ${specRevision} takes 100% and replaces ${stable.revision} (${state?.reason ?? 'Promoted'})`,
    };
    transition = {
      outcome: 'Promoted',
      revision: specRevision,
      previous: stable.revision,
      reason: why.reason,
      message: why.message,
    };
    if (retainSeconds > 0) retained.push({ ...stable, role: 'retained', scale: spec.scale, until });
  } else {
    // A rollback after promotion: the retained revision serves again at once.
    const back = warm.find((r) => r.revision === decision.stableRevision)!;
    newStable = { revision: back.revision, role: 'stable', template: back.template, scale: spec.scale };
    const why = decision.transition!;
    transition = {
      outcome: 'RolledBack',
      revision: back.revision,
      previous: stable.revision,
      reason: why.reason,
      message: why.message,
    };
  }

  let candidate: RevisionPlan | undefined;
  if (state !== undefined && (state.phase !== 'Promoted' || promoting) && state.revision !== newStable.revision) {
    const template = templateOfRevision(state.revision);
    if (template !== undefined) {
      const candidateScale: RevisionScale =
        state.phase === 'RolledBack'
          ? { replicas: 0 }
          : decision.candidateReplicas !== undefined
            ? { replicas: decision.candidateReplicas }
            : spec.scale;
      candidate = { revision: state.revision, role: 'candidate', template, scale: candidateScale };
    }
  }
  if (state?.phase === 'RolledBack' && transition === undefined && decision.transition !== undefined) {
    transition = {
      outcome: 'RolledBack',
      revision: state.revision,
      previous: newStable.revision,
      reason: decision.transition.reason,
      message: decision.transition.message,
    };
  }

  const running = [newStable.revision, candidate?.revision, ...retained.map((r) => r.revision)];
  retained.push(...warm.filter((r) => !running.includes(r.revision)));
  const planned = new Set([newStable.revision, candidate?.revision, ...retained.map((r) => r.revision)]);
  const weights = decision.weights.filter((w) => planned.has(w.revision));
  // Warm retained revisions stay in the routes at 0%, so a rollback to one is a weight change only.
  for (const r of retained)
    if (!weights.some((w) => w.revision === r.revision)) weights.push({ revision: r.revision, percent: 0 });

  const draft: Draft = {
    specRevision,
    stable: newStable,
    retained,
    weights,
    message:
      state?.phase === 'Promoted' || state === undefined
        ? (transition?.message ?? `revision ${newStable.revision} is stable and serves 100%`)
        : state.message,
  };
  if (candidate) draft.candidate = candidate;
  if (transition) draft.transition = transition;
  if (decision.mirror && planned.has(decision.mirror.revision)) draft.mirror = decision.mirror;
  if (state && (state.phase !== 'Promoted' || promoting)) draft.canary = state;
  if (decision.transition) draft.canaryTransition = decision.transition;
  if (decision.stalled) draft.stalled = decision.stalled;
  if (decision.handledAction !== undefined) draft.handledAction = decision.handledAction;
  if (decision.actionMessage !== undefined) draft.actionMessage = decision.actionMessage;
  if (actionError !== undefined) {
    draft.handledAction = md.metadata.annotations?.[ACTION_ANNOTATION]?.trim() ?? '';
    draft.actionMessage = actionError;
    draft.actionRefused = true;
  } else if (decision.actionRefused) {
    draft.actionRefused = true;
  }
  if (baseline) draft.baseline = baseline;
  if (statsErrors.length > 0) draft.statsErrors = statsErrors;
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
    reason: 'RevertedToRetained',
    message: `spec reverted to retained revision ${spec.revision}: it serves 100% at once, without a canary`,
  };
  const retained: RetainedRevisionPlan[] =
    retainSeconds > 0
      ? [
          {
            ...stable,
            role: 'retained',
            scale: spec.scale,
            until: new Date(now.getTime() + retainSeconds * 1000).toISOString(),
          },
        ]
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
 * What the canary state machine decides from: the contract gate and, when a check is due, the
 * analysis of the router's stats since the last check; the action annotation; the candidate's
 * availability and problems. Also returns the stats read by a check (the next baseline).
 */
function canaryInputOf(
  md: ModelDeployment,
  observed: Observed,
  now: Date,
  candidate: string,
  stable: string,
  warm: RetainedRevisionPlan[],
): { input: CanaryInput; baseline?: RouterStatsDocument[]; actionError?: string; statsErrors: string[] } {
  const progression = progressionOf(md);
  const { documents, errors } = parseStatsData(configMapNamed(observed, statsConfigMapName(md))?.data);
  const routes = { stable: routeNameOf(md, stable), candidate: routeNameOf(md, candidate) };
  const input: CanaryInput = {
    spec: md.spec,
    stable,
    candidate,
    progression,
    contract:
      progression === 'analysed'
        ? checkContract(
            modelMetadataOf(documents, routes.stable),
            modelMetadataOf(documents, routes.candidate),
            md.spec.rollout?.allowContractChange,
          )
        : {
            status: 'Allowed',
            differences: [],
            message:
              progression === 'timed'
                ? 'not checked: the gateway-api router gives the operator no view of model metadata'
                : 'not checked: spec.rollout.strategy is Replace',
          },
    candidateAvailable: isDeploymentAvailable(deploymentNamed(observed, revisionName(md, candidate))),
    now,
  };
  if (md.spec.rollout?.weight !== undefined) input.fixedWeight = md.spec.rollout.weight;
  if (warm[0] !== undefined) input.retained = warm[0].revision;
  const previous = canaryStateOf(md.status?.canary);
  if (previous !== undefined) input.previous = previous;
  const problem = problemsOf(md, observed, [candidate]).find((p) => FATAL_CANDIDATE_PROBLEMS.has(p.reason));
  if (problem && candidate !== stable) input.candidateProblem = { reason: problem.reason, message: problem.message };

  const out: { input: CanaryInput; baseline?: RouterStatsDocument[]; actionError?: string; statsErrors: string[] } = {
    input,
    statsErrors: errors,
  };
  if (
    progression === 'analysed' &&
    previous?.revision === candidate &&
    candidate !== stable &&
    checkDue(md.spec, previous, now)
  ) {
    input.check = analyse(
      observed.statsBaseline ?? [],
      documents,
      routes,
      md.spec.rollout?.analysis,
      previous.step < 0,
    );
    out.baseline = documents;
  }
  const pending = pendingAction(md.metadata.annotations, md.status?.lastAction);
  if (pending && 'action' in pending) input.action = pending.action;
  else if (pending) out.actionError = pending.error;
  return out;
}

/**
 * Holds a promotion until the candidate runs at the stable's size: traffic stays at the last
 * step's split (no mirror), the candidate scales up, and the Promoted state is kept so the next
 * reconcile promotes again.
 */
function holdUntilScaled(
  md: ModelDeployment,
  decision: CanaryDecision,
  stable: string,
  previous: CanaryState | undefined,
  available: number,
): void {
  const candidate = decision.state!.revision;
  const held = previous?.revision === candidate ? previous.weight : 0;
  decision.weights = [
    { revision: stable, percent: 100 - held },
    { revision: candidate, percent: held },
  ];
  decision.stableRevision = stable;
  decision.candidateReplicas = replicasForShare(md.spec, 100);
  delete decision.mirror;
  decision.state = {
    ...decision.state!,
    weight: held,
    message: `promoting candidate ${candidate}: scaling it to the stable's size before it takes 100% (${available} pod(s) available)`,
  };
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

/** The canary's memory as status.canary keeps it, back in the state machine's shape. */
export function canaryStateOf(status: CanaryStatus | undefined): CanaryState | undefined {
  if (status === undefined) return undefined;
  const state: CanaryState = {
    revision: status.revision,
    phase: status.phase,
    step: status.step,
    weight: status.weight,
    mirrorPercent: status.mirrorPercent ?? 0,
    stepStartedAt: status.stepStartedAt ?? new Date(0).toISOString(),
    failures: status.failures ?? status.analysis?.failures ?? 0,
    inconclusive: status.inconclusive ?? 0,
    reason: status.reason ?? '',
    message: status.message ?? '',
  };
  if (status.lastCheckAt !== undefined) state.lastCheckAt = status.lastCheckAt;
  if (status.passedAt !== undefined) state.passedAt = status.passedAt;
  const lastResult = status.lastResult ?? status.analysis?.lastResult;
  if (lastResult !== undefined) state.lastResult = lastResult;
  if (status.analysisMessage !== undefined) state.analysisMessage = status.analysisMessage;
  const a = status.analysis;
  if (a !== undefined) {
    const figures: WindowFigures = { requests: a.requests, errors: 0, compared: 0, agreed: 0 };
    if (a.errorRate !== undefined) {
      figures.errorRate = a.errorRate;
      figures.errors = Math.round(a.errorRate * a.requests);
    }
    if (a.latencyP99Ms !== undefined) figures.latencyP99Ms = a.latencyP99Ms;
    if (a.agreement !== undefined) figures.agreement = a.agreement;
    state.figures = figures;
  }
  return state;
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
