/**
 * The status of a ModelDeployment, computed from the plan and what is observed. Pure and
 * idempotent: the same inputs give a deep-equal status (times are preserved), so the shell
 * writes the status subresource only when something really changed.
 */
import type {
  Condition,
  HistoryEntry,
  ModelDeployment,
  ModelDeploymentStatus,
  RevisionModel,
  RevisionScaleStatus,
} from '../api/types.js';
import { revisionName, revisionSelectorString } from '../desired/names.js';
import { configMapNamed, deploymentNamed, type Observed } from '../observed.js';
import { parseStatsData } from '../../../contract/stats.js';
import { countsOf, isDeploymentAvailable, isObservedCurrent } from '../rollout/availability.js';
import { revisionsOf, type RevisionPlan, type RevisionScale, type RolloutPlan } from '../rollout/plan.js';
import { canaryStatusOf } from './canary-status.js';
import { ConditionType, withTransitionTime, type ConditionUpdate } from './conditions.js';
import { problemsOf } from './problems.js';
import { Because } from './reasons.js';
import { summaryOf } from './summary.js';
import { routerName, statsConfigMapName } from '../traffic/names.js';
import { dataDriftCondition, monitoringStatusOf } from './monitoring.js';

/** How many history entries status keeps. */
export const HISTORY_LIMIT = 10;

/** One validation error, as reported by validateModelDeployment. */
export interface SpecError {
  path: string;
  message: string;
}

/** The in-cluster URL of a ModelDeployment's apex Service. */
export function urlOf(md: ModelDeployment): string {
  return `http://${md.metadata.name}.${md.metadata.namespace}.svc.cluster.local`;
}

/** Compute the full status for this reconcile. */
export function computeStatus(
  md: ModelDeployment,
  observed: Observed,
  plan: RolloutPlan,
  now: Date,
): ModelDeploymentStatus {
  const generation = md.metadata.generation;
  const previous = md.status?.conditions;
  const stableDeployment = deploymentNamed(observed, revisionName(md, plan.stable.revision));
  const stableCounts = stableDeployment ? countsOf(stableDeployment) : undefined;
  const watched = [plan.stable.revision, ...(plan.candidate ? [plan.candidate.revision] : [])];
  const problems = problemsOf(md, observed, watched, now);
  const stableProblem = problems.find((p) => p.revision === plan.stable.revision);

  // Scaled to zero (or starting from it, or kept there after an operator restart): the revision
  // serves through the router's hold.
  const atZero =
    plan.stable.hold === true &&
    (plan.stable.why?.desired === 0 || plan.stable.why?.reason === 'Activation') &&
    stableProblem === undefined;
  const serving =
    atZero || (stableCounts !== undefined && stableCounts.available >= Math.max(1, floorOf(plan.stable.scale)));
  const settledAtZero =
    atZero && stableDeployment !== undefined && stableCounts!.desired === 0 && isObservedCurrent(stableDeployment);
  const converged =
    (isDeploymentAvailable(stableDeployment) || settledAtZero) &&
    plan.candidate === undefined &&
    observed.deployments.every(isObservedCurrent);

  const stablePercent = plan.weights.find((w) => w.revision === plan.stable.revision)?.percent ?? 0;
  const router = md.spec.traffic?.router === 'gateway-api' ? undefined : deploymentNamed(observed, routerName(md));
  const routing =
    md.spec.traffic?.router === 'gateway-api' || (router !== undefined && countsOf(router).available >= 1);
  const ready: ConditionUpdate = {
    type: ConditionType.Ready,
    status: serving && routing ? 'True' : 'False',
    ...(serving && routing && atZero && (stableCounts?.available ?? 0) === 0
      ? Because.atZero(plan.stable.revision, plan.stable.why!.message)
      : serving && routing
        ? Because.available(plan.stable.revision, stablePercent, stableCounts!.available)
        : serving
          ? Because.routerStarting(plan.stable.revision, routerName(md))
          : stableProblem
            ? { reason: stableProblem.reason, message: stableProblem.message }
            : stableDeployment === undefined
              ? Because.creating(plan.stable.revision)
              : Because.podsStarting(
                  plan.stable.revision,
                  stableCounts!.available,
                  Math.max(1, floorOf(plan.stable.scale)),
                )),
  };

  const stalled: ConditionUpdate =
    problems.length > 0
      ? { type: ConditionType.Stalled, status: 'True', ...Because.problems(problems) }
      : plan.stalled
        ? { type: ConditionType.Stalled, status: 'True', ...plan.stalled }
        : { type: ConditionType.Stalled, status: 'False', ...Because.noProblems() };

  const reconciling: ConditionUpdate =
    problems.length > 0 || plan.stalled
      ? { type: ConditionType.Reconciling, status: 'False', ...Because.stalled() }
      : plan.phase === 'Progressing'
        ? { type: ConditionType.Reconciling, status: 'True', ...Because.progressing(plan.message) }
        : stableDeployment === undefined
          ? { type: ConditionType.Reconciling, status: 'True', ...Because.creating(plan.stable.revision) }
          : !converged
            ? {
                type: ConditionType.Reconciling,
                status: 'True',
                ...Because.updating(
                  plan.stable.revision,
                  stableCounts!.updated,
                  stableCounts!.available,
                  stableCounts!.desired,
                ),
              }
            : { type: ConditionType.Reconciling, status: 'False', ...Because.reconciled(plan.stable.revision) };

  const { documents } = parseStatsData(configMapNamed(observed, statsConfigMapName(md))?.data);
  const monitoring = monitoringStatusOf(
    md,
    documents,
    plan.weights.map((w) => w.revision),
  );
  const drift = dataDriftCondition(md, monitoring, plan.stable.revision, previous);

  const conditions: Condition[] = [ready, reconciling, stalled, ...(drift ? [drift] : [])].map((c) =>
    withTransitionTime(previous, generation === undefined ? c : { ...c, observedGeneration: generation }, now),
  );

  const status: ModelDeploymentStatus = {};
  if (generation !== undefined) status.observedGeneration = generation;
  status.conditions = conditions;
  status.stable = {
    revision: plan.stable.revision,
    model: modelOf(plan.stable),
    replicas: stableCounts?.total ?? 0,
    readyReplicas: stableCounts?.ready ?? 0,
  };
  if (plan.canary && plan.candidate?.revision === plan.canary.revision) {
    const deployment = deploymentNamed(observed, revisionName(md, plan.candidate.revision));
    status.canary = canaryStatusOf(plan.canary, modelOf(plan.candidate), deployment?.status?.readyReplicas ?? 0);
  }
  const lastAction = plan.handledAction ?? md.status?.lastAction;
  if (lastAction !== undefined) status.lastAction = lastAction;
  status.traffic = plan.weights.map((w) => ({ ...w }));
  status.trafficSummary = plan.weights
    .filter((w) => w.percent > 0)
    .map((w) => `${w.revision}=${w.percent}%`)
    .join(' ');
  status.summary = summaryOf(status);
  status.history = historyAfter(md.status?.history, plan, now);
  if (plan.retained.length > 0) status.retained = plan.retained.map((r) => ({ revision: r.revision, until: r.until }));
  status.url = urlOf(md);
  status.scale = scaleStatusOf(md, observed, plan, now);
  if (monitoring !== undefined) status.monitoring = monitoring;
  status.readyReplicas = status.scale
    .filter((e) => (plan.weights.find((w) => w.revision === e.revision)?.percent ?? 0) > 0)
    .reduce((sum, e) => sum + e.readyReplicas, 0);
  status.replicas = stableCounts?.total ?? 0;
  status.selector = revisionSelectorString(md, plan.stable.revision);
  return status;
}

/**
 * The status for a spec that failed validation: Stalled and not Ready, naming every error, with
 * the rest of the previous status kept (whatever served before still serves).
 */
export function invalidSpecStatus(md: ModelDeployment, errors: SpecError[], now: Date): ModelDeploymentStatus {
  const generation = md.metadata.generation;
  const updates: ConditionUpdate[] = [
    { type: ConditionType.Ready, status: 'False', ...Because.invalidSpec(errors) },
    { type: ConditionType.Reconciling, status: 'False', ...Because.invalidSpecUnchanged() },
    { type: ConditionType.Stalled, status: 'True', ...Because.invalidSpec(errors) },
  ];
  const status: ModelDeploymentStatus = { ...(md.status ?? {}) };
  if (generation !== undefined) status.observedGeneration = generation;
  status.conditions = [
    ...updates.map((c) =>
      withTransitionTime(
        md.status?.conditions,
        generation === undefined ? c : { ...c, observedGeneration: generation },
        now,
      ),
    ),
    // Drift is about the traffic that still flows, not the spec: kept as it was, so a fixed spec
    // does not announce it again.
    ...(md.status?.conditions ?? []).filter((c) => c.type === ConditionType.DataDrift),
  ];
  status.summary = summaryOf(status);
  return status;
}

/**
 * Every running revision's scale (status.scale), stable first: what the operator (or the HPA) wants,
 * what its Deployment runs and has ready, and why. lastScaleTime moves only when desiredReplicas does.
 */
function scaleStatusOf(md: ModelDeployment, observed: Observed, plan: RolloutPlan, now: Date): RevisionScaleStatus[] {
  return revisionsOf(plan).map((rev) => {
    const name = revisionName(md, rev.revision);
    const deployment = deploymentNamed(observed, name);
    const hpa = observed.hpas.find((h) => h.metadata?.name === name);
    const desiredReplicas =
      rev.why?.desired ??
      rev.scale.replicas ??
      hpa?.status?.desiredReplicas ??
      deployment?.spec?.replicas ??
      rev.scale.autoscaling!.minReplicas;
    const entry: RevisionScaleStatus = {
      revision: rev.revision,
      role: rev.role,
      desiredReplicas,
      currentReplicas: deployment?.status?.replicas ?? 0,
      readyReplicas: deployment?.status?.readyReplicas ?? 0,
      reason: rev.why?.reason ?? (rev.scale.autoscaling ? 'CPU' : 'Fixed'),
      message: rev.why?.message ?? '',
    };
    const before = md.status?.scale?.find((e) => e.revision === rev.revision);
    const lastScaleTime =
      before === undefined || before.desiredReplicas !== desiredReplicas ? now.toISOString() : before.lastScaleTime;
    if (lastScaleTime !== undefined) entry.lastScaleTime = lastScaleTime;
    return entry;
  });
}

function floorOf(scale: RevisionScale): number {
  return scale.autoscaling?.minReplicas ?? scale.replicas ?? 1;
}

function modelOf(rev: RevisionPlan): RevisionModel {
  return { uri: rev.template.model.uri, sha256: rev.template.model.sha256 };
}

function historyAfter(history: HistoryEntry[] | undefined, plan: RolloutPlan, now: Date): HistoryEntry[] {
  const entries = [...(history ?? [])];
  const t = plan.transition;
  const last = entries.at(-1);
  const subject = t && revisionsOf(plan).find((r) => r.revision === t.revision);
  if (t && subject && (last?.revision !== t.revision || last.outcome !== t.outcome)) {
    entries.push({
      revision: t.revision,
      model: modelOf(subject),
      outcome: t.outcome,
      at: now.toISOString(),
      reason: t.reason,
    });
  }
  return entries.slice(-HISTORY_LIMIT);
}
