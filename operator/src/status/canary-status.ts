/**
 * status.canary is the canary state machine's memory between reconciles. These two functions are
 * the two directions of that mapping, kept together so that a field added to one is not missed by
 * the other: the state (with the candidate's model, pods and last figures) to status, and the
 * status back to the state the next decision starts from.
 */
import type { AnalysisStatus, CanaryStatus, RevisionModel } from '../api/types.js';
import type { WindowFigures } from '../rollout/analysis.js';
import type { CanaryState } from '../rollout/canary.js';
import type { Reason } from './reasons.js';

/** status.canary: the state machine's memory, with the candidate's model, pods and last figures. */
export function canaryStatusOf(state: CanaryState, model: RevisionModel, readyReplicas: number): CanaryStatus {
  const out: CanaryStatus = {
    revision: state.revision,
    model,
    phase: state.phase,
    weight: state.weight,
    step: state.step,
    stepStartedAt: state.stepStartedAt,
    readyReplicas,
    reason: state.reason,
    message: state.message,
    mirrorPercent: state.mirrorPercent,
    failures: state.failures,
    inconclusive: state.inconclusive,
  };
  if (state.lastCheckAt !== undefined) out.lastCheckAt = state.lastCheckAt;
  if (state.passedAt !== undefined) out.passedAt = state.passedAt;
  if (state.inconclusiveSince !== undefined) out.inconclusiveSince = state.inconclusiveSince;
  if (state.lastResult !== undefined) out.lastResult = state.lastResult;
  if (state.analysisMessage !== undefined) out.analysisMessage = state.analysisMessage;
  if (state.figures !== undefined || state.lastResult !== undefined) {
    const f = state.figures;
    const analysis: AnalysisStatus = { requests: f?.requests ?? 0, failures: state.failures };
    if (f?.errorRate !== undefined) analysis.errorRate = round(f.errorRate);
    if (f?.latencyP99Ms !== undefined) analysis.latencyP99Ms = round(f.latencyP99Ms);
    if (f?.agreement !== undefined) analysis.agreement = round(f.agreement);
    if (f?.accuracy !== undefined) analysis.accuracy = round(f.accuracy);
    if (f?.labels !== undefined) analysis.labels = f.labels;
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
    // Written by canaryStatusOf from a decided state, so one of our reasons.
    reason: (status.reason ?? '') as Reason,
    message: status.message ?? '',
  };
  if (status.lastCheckAt !== undefined) state.lastCheckAt = status.lastCheckAt;
  if (status.passedAt !== undefined) state.passedAt = status.passedAt;
  if (status.inconclusiveSince !== undefined) state.inconclusiveSince = status.inconclusiveSince;
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
    if (a.labels !== undefined) {
      figures.labels = a.labels;
      figures.correct = Math.round((a.accuracy ?? 0) * a.labels);
      if (a.accuracy !== undefined) figures.accuracy = a.accuracy;
    }
    state.figures = figures;
  }
  return state;
}
