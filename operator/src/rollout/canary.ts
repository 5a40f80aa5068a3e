/**
 * The canary rollout as a pure state machine: from the spec, the canary's previous state (kept in
 * status.canary), this reconcile's analysis check, the contract gate, the candidate's availability
 * and a one-shot action, to the next state, the traffic split, the candidate's replica count, the
 * reason for the decision and when to look again. No I/O, no clock: time is `now`.
 *
 *   Pending ──available + contract ok──▶ [Shadow] ──▶ step 1 ▶ … ▶ step n ──▶ Promoted
 *      │                                    │            │              │
 *      └──────────── contract broken, candidate failing, failureLimit failed checks,
 *                    abort/rollback, spec reverted ──────────────────────────▶ RolledBack
 *
 * - Pending: the candidate warms up at weight 0 (replicas already sized for its first traffic);
 *   it gets traffic only when available and the contract gate passed.
 * - Shadow (spec.rollout.shadowFirst): mirror `percent` of requests, live weight 0, for `seconds`.
 * - Steps: the candidate holds each step's weight; it advances only when the pause has elapsed AND
 *   the latest check, made entirely inside the step, passed. Inconclusive holds: it never counts as
 *   a pass. After {@link INCONCLUSIVE_LIMIT} inconclusive checks in a row the rollout reports
 *   Paused/InsufficientTraffic — still checking, resuming by itself on the next pass, or waiting for
 *   a promote/abort.
 * - Every Failed check counts; failureLimit of them roll back (weight 0 at once). A paused rollout
 *   is still analysed and still rolled back: a pause holds progress, it does not excuse errors.
 * - RolledBack holds (weight 0, Stalled with the reason) until the spec asks for another revision,
 *   a `retry` action restarts it, or, after a contract rollback, the contract becomes acceptable.
 * - Promoted hands the candidate to the plan as the new stable (the plan retains the old one).
 */
import type { CanaryPhase, ModelDeploymentSpec, RolloutStep } from '../api/types.js';
import {
  analysisLimitsOf,
  type AnalysisLimit,
  type Verdict,
  type VerdictResult,
  type WindowFigures,
} from './analysis.js';
import { ACTION_ANNOTATION, type RolloutAction } from './canary-action.js';
import type { ContractCheck } from './contract.js';
import type { TrafficMirror, TrafficWeight } from '../traffic/types.js';

/** Consecutive inconclusive checks after which a step reports Paused/InsufficientTraffic. */
export const INCONCLUSIVE_LIMIT = 10;

/** The CRD's default steps, used when spec.rollout.steps is unset. */
export const DEFAULT_STEPS: RolloutStep[] = [
  { weight: 10, pauseSeconds: 30 },
  { weight: 50, pauseSeconds: 60 },
];

/** The CRD's default pause of a step. */
export const DEFAULT_PAUSE_SECONDS = 30;

/** The canary's memory between reconciles (stored in status.canary). */
export interface CanaryState {
  revision: string;
  phase: CanaryPhase;
  /** Index into the steps; -1 before the first step (Pending, Shadow). */
  step: number;
  /** Percent of live traffic the candidate receives. */
  weight: number;
  /** Percent of requests mirrored to the candidate (0 when not mirroring). */
  mirrorPercent: number;
  /** When the current step (or the shadow phase, or Pending) began. */
  stepStartedAt: string;
  /** When the last analysis check was made. */
  lastCheckAt?: string;
  /** When the latest check passed with a window entirely inside the current step; cleared by any other result. */
  passedAt?: string;
  /** Failed checks during this rollout. */
  failures: number;
  /** Consecutive inconclusive checks. */
  inconclusive: number;
  lastResult?: VerdictResult;
  /** The last check's message: its figures, or every reason it did not pass. */
  analysisMessage?: string;
  /** The candidate's figures in the last check's window (status.canary.analysis shows them). */
  figures?: WindowFigures;
  /** CamelCase reason of the latest decision. */
  reason: string;
  /** The latest decision in one line. */
  message: string;
}

/**
 * How a candidate earns promotion:
 * - `analysed`: the contract gate, then every step's analysis check (the builtin router's stats);
 * - `timed`: each step holds for its pause and advances, unchecked (no stats source: the Gateway API
 *   router); manual actions and failureLimit still apply to checks there are none of;
 * - `immediate`: spec.rollout.strategy Replace: 100% as soon as the candidate is available.
 */
export type Progression = 'analysed' | 'timed' | 'immediate';

/** This reconcile's analysis check: the verdict and where its window began. */
export type CanaryCheck = Pick<Verdict, 'result' | 'message'> &
  Partial<Pick<Verdict, 'candidate' | 'broken'>> & { window?: { from?: string } };

/** Everything one decision depends on. */
export interface CanaryInput {
  spec: ModelDeploymentSpec;
  /**
   * The proposed spec.rollout.weight: when set, the candidate holds exactly this live weight
   * (analysis still runs and can roll back) until it is removed or a promote/abort arrives.
   */
  fixedWeight?: number;
  /** The revision serving as stable. */
  stable: string;
  /** The revision the spec asks for (equal to `stable` when nothing is rolling out). */
  candidate: string;
  /** The newest retained previous stable, if still warm (the target of a rollback after promotion). */
  retained?: string;
  /** status.canary from the last reconcile. */
  previous?: CanaryState;
  /** Present when a check came due this reconcile (see {@link checkDue}). */
  check?: CanaryCheck;
  contract: ContractCheck;
  candidateAvailable: boolean;
  /** How the candidate earns promotion; `analysed` when unset. */
  progression?: Progression;
  /** A problem that stops the candidate for good (digest mismatch, crash loop, progress deadline). */
  candidateProblem?: { reason: string; message: string };
  /** A one-shot action not handled yet (see pendingAction). */
  action?: RolloutAction;
  now: Date;
}

/** A phase change worth an Event and a line in the log. */
export interface CanaryTransition {
  from?: CanaryPhase;
  to: CanaryPhase;
  step: number;
  reason: string;
  message: string;
}

/** The outcome of one decision. */
export interface CanaryDecision {
  /** The canary's next state; undefined when no canary exists any more. */
  state?: CanaryState;
  /** The revision that serves as stable after this decision (the candidate once promoted). */
  stableRevision: string;
  /** Live traffic, stable first; percents sum to 100. */
  weights: TrafficWeight[];
  /** Requests mirrored to the candidate, when any. */
  mirror?: TrafficMirror;
  /** Replicas of the candidate's Deployment; undefined when an HPA owns them (or no candidate). */
  candidateReplicas?: number;
  transition?: CanaryTransition;
  /** Set while the spec asks for a revision that does not serve and will not on its own. */
  stalled?: { reason: string; message: string };
  /** The action value handled by this decision, to record in status.lastAction. */
  handledAction?: string;
  /** What became of a one-shot action, when one was given. */
  actionMessage?: string;
  /** True when the action was ignored or refused (it did not apply to this rollout as it stands). */
  actionRefused?: boolean;
  requeueAfterSeconds?: number;
}

/** The steps of a spec, with defaults applied. */
export function stepsOf(spec: ModelDeploymentSpec): Required<RolloutStep>[] {
  return (spec.rollout?.steps ?? DEFAULT_STEPS).map((s) => ({
    weight: s.weight,
    pauseSeconds: s.pauseSeconds ?? DEFAULT_PAUSE_SECONDS,
  }));
}

/**
 * Replicas the candidate needs for a share of the load: ceil(stable replicas × share / 100), at
 * least 1; undefined with autoscaling (the candidate's HPA follows the load instead).
 */
export function replicasForShare(spec: ModelDeploymentSpec, sharePercent: number): number | undefined {
  if (spec.autoscaling) return undefined;
  const stable = spec.replicas ?? 1;
  return Math.max(1, Math.ceil((stable * Math.min(100, sharePercent)) / 100));
}

/** True when an analysis check is due: the canary takes traffic and an interval has passed since the last. */
export function checkDue(spec: ModelDeploymentSpec, state: CanaryState | undefined, now: Date): boolean {
  if (state === undefined || !takesTraffic(state)) return false;
  if (state.lastCheckAt === undefined) return true;
  return (
    now.getTime() - Date.parse(state.lastCheckAt) >= analysisLimitsOf(spec.rollout?.analysis).intervalSeconds * 1000
  );
}

function takesTraffic(state: CanaryState): boolean {
  return state.phase === 'Shadow' || state.phase === 'Progressing' || state.phase === 'Paused';
}

function iso(now: Date): string {
  return now.toISOString();
}

function fresh(revision: string, now: Date, reason: string, message: string): CanaryState {
  return {
    revision,
    phase: 'Pending',
    step: -1,
    weight: 0,
    mirrorPercent: 0,
    stepStartedAt: iso(now),
    failures: 0,
    inconclusive: 0,
    reason,
    message,
  };
}

function rolledBack(state: CanaryState, reason: string, message: string): CanaryState {
  return { ...state, phase: 'RolledBack', weight: 0, mirrorPercent: 0, reason, message };
}

/** Decide the canary's next state. Pure: the same input gives the same decision. */
export function nextCanary(input: CanaryInput): CanaryDecision {
  const { previous, action } = input;
  if (input.candidate === input.stable) return withoutCandidate(input);

  let state: CanaryState;
  let actionMessage: string | undefined;
  let actionRefused = false;
  const fromPhase = previous?.revision === input.candidate ? previous.phase : undefined;
  if (previous === undefined || previous.revision !== input.candidate) {
    const superseded =
      previous && previous.phase !== 'RolledBack' && previous.phase !== 'Promoted' && previous.revision !== input.stable
        ? `; candidate ${previous.revision} superseded`
        : '';
    state = fresh(
      input.candidate,
      input.now,
      'NewRevision',
      `revision ${input.candidate} is starting next to stable ${input.stable}${superseded}`,
    );
  } else {
    state = { ...previous };
  }

  const bound = action && action.revision !== undefined && action.revision !== input.candidate;
  if (action && bound) {
    actionMessage = `action ${action.raw} ignored: it targets revision ${action.revision}, the candidate is ${input.candidate}`;
    actionRefused = true;
  } else if (action) {
    const result = applyAction(input, state, action);
    state = result.state;
    actionMessage = result.message;
    actionRefused = result.refused === true;
  }

  if (state.phase !== 'RolledBack' && state.phase !== 'Promoted') {
    state = advance(input, state);
  } else if (
    state.phase === 'RolledBack' &&
    previous?.revision === input.candidate &&
    previous.phase === 'RolledBack' &&
    previous.reason === 'ContractMismatch' &&
    (input.contract.status === 'Compatible' || input.contract.status === 'Allowed')
  ) {
    state = advance(
      input,
      fresh(
        input.candidate,
        input.now,
        'ContractAccepted',
        `revision ${input.candidate} restarts: ${input.contract.message}`,
      ),
    );
  }

  const decision = decisionFor(input, state, fromPhase, actionMessage);
  if (actionRefused) decision.actionRefused = true;
  return decision;
}

/** Nothing to roll out: the spec asks for the stable revision (possibly reverted to it). */
function withoutCandidate(input: CanaryInput): CanaryDecision {
  const { previous, action, stable, now } = input;
  const decision: CanaryDecision = { stableRevision: stable, weights: [{ revision: stable, percent: 100 }] };
  if (action) {
    decision.handledAction = action.raw;
    if (
      action.verb === 'rollback' &&
      input.retained !== undefined &&
      (action.revision === undefined || action.revision === stable)
    ) {
      const message = `rolled back from ${stable} to the retained ${input.retained} by action ${action.raw}`;
      const state: CanaryState = {
        ...fresh(stable, now, 'ManualRollback', message),
        phase: 'RolledBack',
      };
      return {
        state,
        stableRevision: input.retained,
        handledAction: action.raw,
        actionMessage: message,
        weights: [
          { revision: input.retained, percent: 100 },
          { revision: stable, percent: 0 },
        ],
        candidateReplicas: 0,
        transition: { from: 'Promoted', to: 'RolledBack', step: -1, reason: 'ManualRollback', message },
        stalled: {
          reason: 'ManualRollback',
          message: `${message}; the spec still asks for ${stable}: change it (or revert it to ${input.retained}) to go on`,
        },
      };
    }
    decision.actionRefused = true;
    decision.actionMessage = `action ${action.raw} ignored: no rollout in progress${action.verb === 'rollback' ? ' and no retained revision to roll back to' : ''}`;
  }
  if (previous && previous.revision !== stable && previous.phase !== 'RolledBack' && previous.phase !== 'Promoted') {
    const message = `spec reverted to stable ${stable}: candidate ${previous.revision} rolled back`;
    decision.state = rolledBack(previous, 'SpecReverted', message);
    decision.weights.push({ revision: previous.revision, percent: 0 });
    decision.candidateReplicas = 0;
    decision.transition = {
      from: previous.phase,
      to: 'RolledBack',
      step: previous.step,
      reason: 'SpecReverted',
      message,
    };
  }
  return decision;
}

/** Apply a one-shot action bound to (or not restricted from) this candidate. */
function applyAction(
  input: CanaryInput,
  state: CanaryState,
  action: RolloutAction,
): { state: CanaryState; message: string; refused?: true } {
  const rev = input.candidate;
  switch (action.verb) {
    case 'abort':
    case 'rollback': {
      if (state.phase === 'RolledBack')
        return { state, message: `action ${action.raw}: ${rev} is already rolled back` };
      const reason = action.verb === 'abort' ? 'ManualAbort' : 'ManualRollback';
      const message = `candidate ${rev} rolled back by action ${action.raw}`;
      return { state: rolledBack(state, reason, message), message };
    }
    case 'promote': {
      if (state.phase === 'RolledBack') {
        return {
          state,
          refused: true,
          message: `action ${action.raw} refused: ${rev} was rolled back (${state.reason}); use retry to start it again`,
        };
      }
      if (!input.candidateAvailable)
        return { state, refused: true, message: `action ${action.raw} refused: candidate ${rev} is not available` };
      if (input.contract.status === 'Incompatible' || input.contract.status === 'Unknown') {
        return { state, refused: true, message: `action ${action.raw} refused: ${input.contract.message}` };
      }
      const message = `candidate ${rev} promoted by action ${action.raw}`;
      return {
        state: { ...state, phase: 'Promoted', weight: 100, mirrorPercent: 0, reason: 'ManualPromotion', message },
        message,
      };
    }
    case 'retry': {
      if (state.phase !== 'RolledBack')
        return { state, message: `action ${action.raw}: ${rev} is not rolled back; nothing to retry` };
      const message = `candidate ${rev} restarted by action ${action.raw}`;
      return { state: fresh(rev, input.now, 'Retry', message), message };
    }
  }
}

/** Where an active canary (Pending, Shadow, Progressing, Paused) goes from here. */
function advance(input: CanaryInput, prior: CanaryState): CanaryState {
  const { spec, now, check } = input;
  const limits = analysisLimitsOf(spec.rollout?.analysis);
  const steps = stepsOf(spec);
  const paused = spec.rollout?.paused === true;
  let s = { ...prior };

  if (input.candidateProblem) {
    return rolledBack(
      s,
      input.candidateProblem.reason,
      `candidate ${s.revision} rolled back: ${input.candidateProblem.message}`,
    );
  }

  if (s.phase === 'Pending') {
    if (input.contract.status === 'Incompatible') return rolledBack(s, 'ContractMismatch', input.contract.message);
    if (!input.candidateAvailable)
      return { ...s, reason: 'Starting', message: `waiting for candidate ${s.revision} to become available` };
    if (input.contract.status === 'Unknown')
      return { ...s, reason: 'ContractUnknown', message: `waiting for the contract check: ${input.contract.message}` };
    if (paused)
      return {
        ...s,
        reason: 'PausedBySpec',
        message: `candidate ${s.revision} is available; spec.rollout.paused holds it at weight 0`,
      };
    if (input.progression === 'immediate') {
      return {
        ...s,
        phase: 'Promoted',
        weight: 100,
        mirrorPercent: 0,
        reason: 'RevisionAvailable',
        message: `revision ${s.revision} is available and replaces ${input.stable} (strategy Replace)`,
      };
    }
    const shadowFirst = spec.rollout?.shadowFirst;
    if (shadowFirst && input.fixedWeight === undefined) {
      return {
        ...s,
        phase: 'Shadow',
        step: -1,
        weight: 0,
        mirrorPercent: shadowFirst.percent,
        stepStartedAt: iso(now),
        inconclusive: 0,
        reason: 'ShadowStarted',
        message: `mirroring ${shadowFirst.percent}% of requests to ${s.revision} for ${shadowFirst.seconds}s before any live traffic`,
      };
    }
    return enterStep(s, 0, steps, input, 'StepStarted');
  }

  if (check) {
    s = { ...s, lastCheckAt: iso(now), lastResult: check.result, analysisMessage: check.message };
    if (check.candidate) s.figures = check.candidate;
    if (check.result === 'Failed') {
      s.failures += 1;
      s.inconclusive = 0;
      delete s.passedAt;
      if (s.failures >= limits.failureLimit) {
        return rolledBack(
          s,
          rollbackReasonOf(check.broken),
          `candidate ${s.revision} rolled back after ${s.failures} failed check(s): ${check.message}`,
        );
      }
    } else if (check.result === 'Inconclusive') {
      s.inconclusive += 1;
      delete s.passedAt;
    } else {
      s.inconclusive = 0;
      const from = check.window?.from;
      if (from !== undefined && Date.parse(from) >= Date.parse(s.stepStartedAt)) s.passedAt = iso(now);
      else delete s.passedAt;
    }
  }

  const shadow = spec.rollout?.shadowFirst;
  if (s.step < 0 && shadow === undefined && input.fixedWeight === undefined && !paused) {
    // spec.rollout.shadowFirst was removed while shadowing: go live.
    return enterStep(s, 0, steps, input, 'ShadowRemoved');
  }
  const inShadow = s.step < 0;
  const base = inShadow ? 'Shadow' : 'Progressing';
  if (input.fixedWeight !== undefined) {
    const step = Math.max(0, s.step);
    const mirror = mirrorForWeight(spec, input.fixedWeight);
    return {
      ...s,
      phase: 'Paused',
      step,
      weight: input.fixedWeight,
      mirrorPercent: mirror,
      reason: 'ManualWeight',
      message: `spec.rollout.weight holds candidate ${s.revision} at ${input.fixedWeight}%`,
    };
  }
  if (paused) {
    return {
      ...s,
      phase: 'Paused',
      reason: 'PausedBySpec',
      message: `spec.rollout.paused holds candidate ${s.revision} at ${inShadow ? `shadow ${s.mirrorPercent}%` : `${s.weight}%`}`,
    };
  }
  if (!inShadow && s.step >= steps.length) s.step = steps.length - 1;
  if (!inShadow && s.weight !== steps[s.step]!.weight) {
    // Back from a fixed weight (or the steps changed): resume at the current step's own weight.
    return enterStep(s, s.step, steps, input, 'StepResumed');
  }

  const duration = inShadow ? (shadow?.seconds ?? 0) : steps[s.step]!.pauseSeconds;
  const elapsed = now.getTime() - Date.parse(s.stepStartedAt) >= duration * 1000;
  const where = inShadow ? 'shadow' : `step ${s.step + 1}/${steps.length} (${s.weight}%)`;
  if (elapsed && (s.passedAt !== undefined || input.progression === 'timed')) {
    if (inShadow) return enterStep(s, 0, steps, input, 'ShadowPassed');
    if (s.step + 1 < steps.length) return enterStep(s, s.step + 1, steps, input, 'StepPassed');
    return {
      ...s,
      phase: 'Promoted',
      weight: 100,
      mirrorPercent: 0,
      reason: 'Promoted',
      message: `candidate ${s.revision} passed every step and is promoted`,
    };
  }
  if (s.inconclusive >= INCONCLUSIVE_LIMIT) {
    return {
      ...s,
      phase: 'Paused',
      reason: 'InsufficientTraffic',
      message: `${where}: ${s.inconclusive} inconclusive checks in a row (${s.analysisMessage ?? 'no traffic'}); holding until a check passes or a promote/abort action`,
    };
  }
  const waiting = !elapsed
    ? `${Math.ceil((Date.parse(s.stepStartedAt) + duration * 1000 - now.getTime()) / 1000)}s of the pause left`
    : s.lastResult === undefined
      ? 'waiting for the first check'
      : `waiting for a passing check (last: ${s.lastResult}${s.analysisMessage ? `, ${s.analysisMessage}` : ''})`;
  return { ...s, phase: base, reason: inShadow ? 'Shadowing' : 'StepInProgress', message: `${where}: ${waiting}` };
}

/**
 * The rollback reason for the limit the last failed check broke first, so status and Events tell
 * an erroring candidate from a slow or a disagreeing one at a glance.
 */
export function rollbackReasonOf(broken: AnalysisLimit[] | undefined): string {
  switch (broken?.[0]) {
    case 'errorRate':
      return 'ErrorRateExceeded';
    case 'latency':
      return 'LatencyExceeded';
    case 'agreement':
      return 'AgreementTooLow';
    default:
      return 'AnalysisFailed';
  }
}

function mirrorForWeight(spec: ModelDeploymentSpec, weight: number): number {
  // Agreement needs mirrored comparisons; mirror as many stable requests as the candidate serves live.
  return spec.rollout?.analysis?.minAgreement !== undefined && weight < 100 ? weight : 0;
}

function enterStep(
  s: CanaryState,
  step: number,
  steps: Required<RolloutStep>[],
  input: CanaryInput,
  reason: string,
): CanaryState {
  const { weight, pauseSeconds } = steps[step]!;
  const next: CanaryState = {
    ...s,
    phase: 'Progressing',
    step,
    weight,
    mirrorPercent: mirrorForWeight(input.spec, weight),
    stepStartedAt: iso(input.now),
    inconclusive: 0,
    reason,
    message: `step ${step + 1}/${steps.length}: candidate ${s.revision} takes ${weight}% for at least ${pauseSeconds}s`,
  };
  delete next.passedAt;
  return next;
}

/** Weights, mirror, replicas, transition, stalled and requeue for a decided state. */
function decisionFor(
  input: CanaryInput,
  state: CanaryState,
  fromPhase: CanaryPhase | undefined,
  actionMessage: string | undefined,
): CanaryDecision {
  const { spec, stable, now } = input;
  const promoted = state.phase === 'Promoted';
  const decision: CanaryDecision = {
    state,
    stableRevision: promoted ? state.revision : stable,
    weights: promoted
      ? [
          { revision: state.revision, percent: 100 },
          { revision: stable, percent: 0 },
        ]
      : [
          { revision: stable, percent: 100 - state.weight },
          { revision: state.revision, percent: state.weight },
        ],
  };
  if (state.mirrorPercent > 0 && !promoted)
    decision.mirror = { revision: state.revision, percent: state.mirrorPercent };
  const replicas = candidateReplicasFor(input, state);
  if (replicas !== undefined) decision.candidateReplicas = replicas;
  if (input.action) {
    decision.handledAction = input.action.raw;
    if (actionMessage !== undefined) decision.actionMessage = actionMessage;
  }
  const previous = input.previous?.revision === state.revision ? input.previous : undefined;
  if (fromPhase !== state.phase || previous?.step !== state.step) {
    const transition: CanaryTransition = {
      to: state.phase,
      step: state.step,
      reason: state.reason,
      message: state.message,
    };
    if (fromPhase !== undefined) transition.from = fromPhase;
    decision.transition = transition;
  }
  if (state.phase === 'RolledBack') {
    decision.stalled = {
      reason: state.reason,
      message: `${state.message}; stable ${stable} serves 100% — change the spec, revert it to the stable model, or annotate ${ACTION_ANNOTATION}=retry@<nonce>`,
    };
  }
  const requeue = requeueSeconds(spec, state, now);
  if (requeue !== undefined) decision.requeueAfterSeconds = requeue;
  return decision;
}

function candidateReplicasFor(input: CanaryInput, state: CanaryState): number | undefined {
  const { spec } = input;
  switch (state.phase) {
    case 'RolledBack':
      return spec.autoscaling ? undefined : 0;
    case 'Promoted':
      return replicasForShare(spec, 100);
    case 'Pending': {
      // Size the warm-up for the first traffic the candidate will get, so that step finds it ready.
      const first = input.fixedWeight ?? spec.rollout?.shadowFirst?.percent ?? stepsOf(spec)[0]!.weight;
      return replicasForShare(spec, first);
    }
    default:
      // Live share plus the mirrored copies of the stable's share.
      return replicasForShare(spec, state.weight + (state.mirrorPercent * (100 - state.weight)) / 100);
  }
}

/** Seconds until time alone can change the decision: the next check or the end of the pause. */
function requeueSeconds(spec: ModelDeploymentSpec, state: CanaryState, now: Date): number | undefined {
  if (state.phase === 'RolledBack' || state.phase === 'Promoted') return undefined;
  const interval = analysisLimitsOf(spec.rollout?.analysis).intervalSeconds;
  if (state.phase === 'Pending') return interval;
  const times = [state.lastCheckAt === undefined ? now.getTime() : Date.parse(state.lastCheckAt) + interval * 1000];
  const duration = state.step < 0 ? spec.rollout?.shadowFirst?.seconds : stepsOf(spec)[state.step]?.pauseSeconds;
  if (duration !== undefined) {
    const end = Date.parse(state.stepStartedAt) + duration * 1000;
    if (end > now.getTime()) times.push(end);
  }
  return Math.max(1, Math.ceil((Math.min(...times) - now.getTime()) / 1000));
}
