/**
 * The status of a ModelDeployment, computed from the plan and what is observed. Pure and
 * idempotent: the same inputs give a deep-equal status (times are preserved), so the shell
 * writes the status subresource only when something really changed.
 */
import type { Condition, HistoryEntry, ModelDeployment, ModelDeploymentStatus, RevisionModel } from '../api/types.js';
import { revisionName, revisionSelectorString } from '../desired/names.js';
import { deploymentNamed, type Observed } from '../observed.js';
import { countsOf, isDeploymentAvailable, isObservedCurrent } from '../rollout/availability.js';
import type { RevisionPlan, RevisionScale, RolloutPlan } from '../rollout/plan.js';
import { withTransitionTime, type ConditionUpdate } from './conditions.js';
import { problemsOf } from './problems.js';

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
export function computeStatus(md: ModelDeployment, observed: Observed, plan: RolloutPlan, now: Date): ModelDeploymentStatus {
  const generation = md.metadata.generation;
  const previous = md.status?.conditions;
  const stableDeployment = deploymentNamed(observed, revisionName(md, plan.stable.revision));
  const stableCounts = stableDeployment ? countsOf(stableDeployment) : undefined;
  const serving = stableCounts !== undefined && stableCounts.available >= Math.max(1, floorOf(plan.stable.scale));
  const converged = isDeploymentAvailable(stableDeployment) && plan.candidate === undefined &&
    observed.deployments.every(isObservedCurrent);

  const watched = [plan.stable.revision, ...(plan.candidate ? [plan.candidate.revision] : [])];
  const problems = problemsOf(md, observed, watched);
  const stableProblem = problems.find((p) => p.revision === plan.stable.revision);

  const ready: ConditionUpdate = serving
    ? { type: 'Ready', status: 'True', reason: 'Available', message: `revision ${plan.stable.revision} serves 100% with ${stableCounts!.available} available pod(s)` }
    : stableProblem
      ? { type: 'Ready', status: 'False', reason: stableProblem.reason, message: stableProblem.message }
      : stableDeployment === undefined
        ? { type: 'Ready', status: 'False', reason: 'Creating', message: `creating revision ${plan.stable.revision}` }
        : { type: 'Ready', status: 'False', reason: 'Starting', message: `revision ${plan.stable.revision}: ${stableCounts!.available}/${Math.max(1, floorOf(plan.stable.scale))} pod(s) available` };

  const stalled: ConditionUpdate = problems.length > 0
    ? { type: 'Stalled', status: 'True', reason: problems[0]!.reason, message: problems.map((p) => `revision ${p.revision}: ${p.message}`).join('; ') }
    : { type: 'Stalled', status: 'False', reason: 'NoProblems', message: 'no problem observed' };

  let reconciling: ConditionUpdate;
  if (problems.length > 0) {
    reconciling = { type: 'Reconciling', status: 'False', reason: 'Stalled', message: 'progress is blocked; see the Stalled condition' };
  } else if (plan.candidate) {
    reconciling = { type: 'Reconciling', status: 'True', reason: 'Progressing', message: plan.message };
  } else if (stableDeployment === undefined) {
    reconciling = { type: 'Reconciling', status: 'True', reason: 'Creating', message: `creating revision ${plan.stable.revision}` };
  } else if (!converged) {
    reconciling = { type: 'Reconciling', status: 'True', reason: 'Updating', message: `revision ${plan.stable.revision}: ${stableCounts!.updated} updated, ${stableCounts!.available} available of ${stableCounts!.desired}` };
  } else {
    reconciling = { type: 'Reconciling', status: 'False', reason: 'Reconciled', message: `revision ${plan.stable.revision} is stable` };
  }

  const conditions: Condition[] = [ready, reconciling, stalled].map((c) =>
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
  if (plan.candidate) {
    const candidateDeployment = deploymentNamed(observed, revisionName(md, plan.candidate.revision));
    const weight = plan.weights.find((w) => w.revision === plan.candidate!.revision)?.percent ?? 0;
    status.canary = {
      revision: plan.candidate.revision,
      model: modelOf(plan.candidate),
      phase: 'Pending',
      weight,
      step: -1,
      readyReplicas: candidateDeployment?.status?.readyReplicas ?? 0,
      message: plan.message,
    };
  }
  status.traffic = plan.weights.map((w) => ({ ...w }));
  status.trafficSummary = plan.weights.filter((w) => w.percent > 0).map((w) => `${w.revision}=${w.percent}%`).join(' ');
  status.history = historyAfter(md.status?.history, plan, now);
  if (plan.retained.length > 0) status.retained = plan.retained.map((r) => ({ revision: r.revision, until: r.until }));
  status.url = urlOf(md);
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
  const message = errors.map((e) => `${e.path}: ${e.message}`).join('; ');
  const updates: ConditionUpdate[] = [
    { type: 'Ready', status: 'False', reason: 'InvalidSpec', message },
    { type: 'Reconciling', status: 'False', reason: 'InvalidSpec', message: 'the spec is invalid; nothing was changed' },
    { type: 'Stalled', status: 'True', reason: 'InvalidSpec', message },
  ];
  const status: ModelDeploymentStatus = { ...(md.status ?? {}) };
  if (generation !== undefined) status.observedGeneration = generation;
  status.conditions = updates.map((c) =>
    withTransitionTime(md.status?.conditions, generation === undefined ? c : { ...c, observedGeneration: generation }, now),
  );
  return status;
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
  if (t && entries.at(-1)?.revision !== t.revision) {
    entries.push({ revision: t.revision, model: modelOf(plan.stable), outcome: t.outcome, at: now.toISOString(), reason: t.reason });
  }
  return entries.slice(-HISTORY_LIMIT);
}
