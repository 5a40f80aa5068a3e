/**
 * The status of a ModelDeployment, computed from the plan and what is observed. Pure and
 * idempotent: the same inputs give a deep-equal status (times are preserved), so the shell
 * writes the status subresource only when something really changed.
 */
import type { V1Deployment } from '@kubernetes/client-node';
import type {
  AnalysisStatus,
  CanaryStatus,
  Condition,
  HistoryEntry,
  ModelDeployment,
  ModelDeploymentStatus,
  RevisionModel,
} from '../api/types.js';
import type { CanaryState } from '../rollout/canary.js';
import { revisionName, revisionSelectorString } from '../desired/names.js';
import { deploymentNamed, type Observed } from '../observed.js';
import { countsOf, isDeploymentAvailable, isObservedCurrent } from '../rollout/availability.js';
import { revisionsOf, type RevisionPlan, type RevisionScale, type RolloutPlan } from '../rollout/plan.js';
import { withTransitionTime, type ConditionUpdate } from './conditions.js';
import { problemsOf } from './problems.js';
import { routerName } from '../traffic/names.js';

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
  const serving = stableCounts !== undefined && stableCounts.available >= Math.max(1, floorOf(plan.stable.scale));
  const converged =
    isDeploymentAvailable(stableDeployment) &&
    plan.candidate === undefined &&
    observed.deployments.every(isObservedCurrent);

  const watched = [plan.stable.revision, ...(plan.candidate ? [plan.candidate.revision] : [])];
  const problems = problemsOf(md, observed, watched);
  const stableProblem = problems.find((p) => p.revision === plan.stable.revision);

  const stablePercent = plan.weights.find((w) => w.revision === plan.stable.revision)?.percent ?? 0;
  const router = md.spec.traffic?.router === 'gateway-api' ? undefined : deploymentNamed(observed, routerName(md));
  const routing =
    md.spec.traffic?.router === 'gateway-api' || (router !== undefined && countsOf(router).available >= 1);
  const ready: ConditionUpdate =
    serving && routing
      ? {
          type: 'Ready',
          status: 'True',
          reason: 'Available',
          message: `revision ${plan.stable.revision} serves ${stablePercent}% with ${stableCounts!.available} available pod(s)`,
        }
      : serving
        ? {
            type: 'Ready',
            status: 'False',
            reason: 'RouterStarting',
            message: `revision ${plan.stable.revision} is available; waiting for an available pod of router ${routerName(md)}`,
          }
        : stableProblem
          ? { type: 'Ready', status: 'False', reason: stableProblem.reason, message: stableProblem.message }
          : stableDeployment === undefined
            ? {
                type: 'Ready',
                status: 'False',
                reason: 'Creating',
                message: `creating revision ${plan.stable.revision}`,
              }
            : {
                type: 'Ready',
                status: 'False',
                reason: 'Starting',
                message: `revision ${plan.stable.revision}: ${stableCounts!.available}/${Math.max(1, floorOf(plan.stable.scale))} pod(s) available`,
              };

  const stalled: ConditionUpdate =
    problems.length > 0
      ? {
          type: 'Stalled',
          status: 'True',
          reason: problems[0]!.reason,
          message: problems.map((p) => `revision ${p.revision}: ${p.message}`).join('; '),
        }
      : plan.stalled
        ? { type: 'Stalled', status: 'True', reason: plan.stalled.reason, message: plan.stalled.message }
        : { type: 'Stalled', status: 'False', reason: 'NoProblems', message: 'no problem observed' };

  let reconciling: ConditionUpdate;
  if (problems.length > 0 || plan.stalled) {
    reconciling = {
      type: 'Reconciling',
      status: 'False',
      reason: 'Stalled',
      message: 'progress is blocked; see the Stalled condition',
    };
  } else if (plan.phase === 'Progressing') {
    reconciling = { type: 'Reconciling', status: 'True', reason: 'Progressing', message: plan.message };
  } else if (stableDeployment === undefined) {
    reconciling = {
      type: 'Reconciling',
      status: 'True',
      reason: 'Creating',
      message: `creating revision ${plan.stable.revision}`,
    };
  } else if (!converged) {
    reconciling = {
      type: 'Reconciling',
      status: 'True',
      reason: 'Updating',
      message: `revision ${plan.stable.revision}: ${stableCounts!.updated} updated, ${stableCounts!.available} available of ${stableCounts!.desired}`,
    };
  } else {
    reconciling = {
      type: 'Reconciling',
      status: 'False',
      reason: 'Reconciled',
      message: `revision ${plan.stable.revision} is stable`,
    };
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
  if (plan.canary && plan.candidate?.revision === plan.canary.revision) {
    status.canary = canaryStatusOf(
      plan.canary,
      plan.candidate,
      deploymentNamed(observed, revisionName(md, plan.candidate.revision)),
    );
  }
  const lastAction = plan.handledAction ?? md.status?.lastAction;
  if (lastAction !== undefined) status.lastAction = lastAction;
  status.traffic = plan.weights.map((w) => ({ ...w }));
  status.trafficSummary = plan.weights
    .filter((w) => w.percent > 0)
    .map((w) => `${w.revision}=${w.percent}%`)
    .join(' ');
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
    {
      type: 'Reconciling',
      status: 'False',
      reason: 'InvalidSpec',
      message: 'the spec is invalid; nothing was changed',
    },
    { type: 'Stalled', status: 'True', reason: 'InvalidSpec', message },
  ];
  const status: ModelDeploymentStatus = { ...(md.status ?? {}) };
  if (generation !== undefined) status.observedGeneration = generation;
  status.conditions = updates.map((c) =>
    withTransitionTime(
      md.status?.conditions,
      generation === undefined ? c : { ...c, observedGeneration: generation },
      now,
    ),
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

/** status.canary: the state machine's memory, with the candidate's model, pods and last figures. */
function canaryStatusOf(
  state: CanaryState,
  candidate: RevisionPlan,
  deployment: V1Deployment | undefined,
): CanaryStatus {
  const out: CanaryStatus = {
    revision: state.revision,
    model: modelOf(candidate),
    phase: state.phase,
    weight: state.weight,
    step: state.step,
    stepStartedAt: state.stepStartedAt,
    readyReplicas: deployment?.status?.readyReplicas ?? 0,
    reason: state.reason,
    message: state.message,
    mirrorPercent: state.mirrorPercent,
    failures: state.failures,
    inconclusive: state.inconclusive,
  };
  if (state.lastCheckAt !== undefined) out.lastCheckAt = state.lastCheckAt;
  if (state.passedAt !== undefined) out.passedAt = state.passedAt;
  if (state.lastResult !== undefined) out.lastResult = state.lastResult;
  if (state.analysisMessage !== undefined) out.analysisMessage = state.analysisMessage;
  if (state.figures !== undefined || state.lastResult !== undefined) {
    const f = state.figures;
    const analysis: AnalysisStatus = { requests: f?.requests ?? 0, failures: state.failures };
    if (f?.errorRate !== undefined) analysis.errorRate = round(f.errorRate);
    if (f?.latencyP99Ms !== undefined) analysis.latencyP99Ms = round(f.latencyP99Ms);
    if (f?.agreement !== undefined) analysis.agreement = round(f.agreement);
    if (state.lastResult !== undefined) analysis.lastResult = state.lastResult;
    if (state.analysisMessage !== undefined) analysis.message = state.analysisMessage;
    out.analysis = analysis;
  }
  return out;
}

/** Four significant decimals: status figures that do not churn on float noise. */
function round(value: number): number {
  return Number(value.toFixed(4));
}
