/**
 * The rollout decision: which revisions exist, which one serves, and with what share of traffic.
 *
 * This first version is a safe replace: the first revision goes straight to stable; a new revision
 * warms up at 0% next to the stable one and takes 100% as soon as it is available; the previous
 * stable is then retained (warm) for spec.rollout.retainPreviousSeconds so that reverting the spec
 * switches back instantly. The canary rollout (shadow, steps, analysis) extends this plan with
 * more phases and weights between 0 and 100; the shape of RolloutPlan already allows that.
 *
 * The plan's memory is the status: status.stable and status.retained say what served last time,
 * and the observed Deployments carry the templates of revisions the spec no longer describes.
 */
import type { AutoscalingSpec, ModelDeployment, ModelDeploymentSpec } from '../api/types.js';
import { ANNOTATION, LABEL, revisionName } from '../desired/names.js';
import { deploymentNamed, type Observed } from '../observed.js';
import { isDeploymentAvailable } from './availability.js';
import { revisionOf, revisionOfTemplate, templateOf, type RevisionTemplate } from './revision.js';

/** Default for spec.rollout.retainPreviousSeconds (also the CRD default). */
export const DEFAULT_RETAIN_SECONDS = 600;

/** What a revision is for in this plan. */
export type RevisionRole = 'stable' | 'candidate' | 'retained';

/** How many pods a revision runs: a fixed count, or an HPA range. */
export type RevisionScale =
  | { replicas: number; autoscaling?: undefined }
  | { replicas?: undefined; autoscaling: Required<AutoscalingSpec> };

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
  /** Why the plan is what it is, one line for status and logs. */
  message: string;
  /** When the plan will change by the passage of time alone (for example a retention ending). */
  requeueAfterSeconds?: number;
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
export function observedTemplate(md: ModelDeployment, observed: Observed, revision: string): RevisionTemplate | undefined {
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

/** Decide the rollout for this reconcile. Pure: time comes in as `now`. */
export function plan(md: ModelDeployment, observed: Observed, now: Date): RolloutPlan {
  const specRevision = revisionOf(md);
  const scale = scaleOf(md.spec);
  const spec: RevisionPlan = { revision: specRevision, role: 'stable', template: templateOf(md.spec), scale };
  const previous = md.status?.stable?.revision;
  const retainSeconds = md.spec.rollout?.retainPreviousSeconds ?? DEFAULT_RETAIN_SECONDS;

  let stable: RevisionPlan;
  let candidate: RevisionPlan | undefined;
  let transition: RolloutTransition | undefined;
  let message: string;
  const newlyRetained: RetainedRevisionPlan[] = [];

  const previousTemplate = previous !== undefined && previous !== specRevision
    ? observedTemplate(md, observed, previous)
    : undefined;

  if (previous === undefined) {
    stable = spec;
    transition = {
      outcome: 'Initial', revision: specRevision, reason: 'InitialRevision',
      message: `revision ${specRevision} is the first revision and serves 100%`,
    };
    message = transition.message;
  } else if (previous === specRevision) {
    stable = spec;
    message = `revision ${specRevision} is stable and serves 100%`;
  } else if (previousTemplate === undefined) {
    stable = spec;
    transition = {
      outcome: 'Promoted', revision: specRevision, previous, reason: 'PreviousRevisionGone',
      message: `revision ${specRevision} replaces ${previous}, whose Deployment no longer exists`,
    };
    message = transition.message;
  } else if (isDeploymentAvailable(deploymentNamed(observed, revisionName(md, specRevision)))) {
    stable = spec;
    transition = {
      outcome: 'Promoted', revision: specRevision, previous, reason: 'RevisionAvailable',
      message: `revision ${specRevision} is available and replaces ${previous}`,
    };
    message = transition.message;
    if (retainSeconds > 0) {
      newlyRetained.push({
        revision: previous, role: 'retained', template: previousTemplate, scale,
        until: new Date(now.getTime() + retainSeconds * 1000).toISOString(),
      });
    }
  } else {
    stable = { revision: previous, role: 'stable', template: previousTemplate, scale };
    candidate = { ...spec, role: 'candidate' };
    message = `revision ${specRevision} is starting; ${previous} serves 100% until it is available`;
  }

  const running = [stable.revision, candidate?.revision, ...newlyRetained.map((r) => r.revision)];
  const retained = [...newlyRetained, ...stillRetained(md, observed, now, running, scale)];
  const weights: TrafficWeight[] = [{ revision: stable.revision, percent: 100 }];
  if (candidate) weights.push({ revision: candidate.revision, percent: 0 });

  const untils = retained.map((r) => Date.parse(r.until) - now.getTime());
  const result: RolloutPlan = {
    specRevision,
    phase: candidate ? 'Progressing' : 'Stable',
    stable,
    retained,
    weights,
    message,
  };
  if (candidate) result.candidate = candidate;
  if (transition) result.transition = transition;
  if (untils.length > 0) result.requeueAfterSeconds = Math.max(1, Math.ceil(Math.min(...untils) / 1000));
  return result;
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
