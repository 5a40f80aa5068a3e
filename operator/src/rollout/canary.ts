/**
 * The canary rollout as a pure state machine: from the spec, the canary's previous state (kept in
 * status.canary), this reconcile's analysis check, the contract gate, the candidate's availability
 * and scale, and a one-shot action, to the next state, the traffic split, the candidate's replica count, the
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
 *   a pass, and reports InsufficientTraffic.
 * - The progress deadline: a rollout never waits without limit for evidence it can judge. From the
 *   first inconclusive check, or (warming up, the candidate available) the first time the contract
 *   gate cannot read the metadata, the clock runs (state.inconclusiveSince) until a check passes or
 *   fails, a step starts or the contract is read; spec.rollout.paused and weight stop it. After
 *   spec.rollout.progressDeadlineSeconds spec.rollout.onProgressDeadline decides: Pause (held where it
 *   is, checks go on, Stalled RolloutDeadlineExceeded until one passes or fails), Promote (as a
 *   promote action, never past an unread contract: that pauses) or Rollback (RolledBack).
 * - Every Failed check counts; failureLimit of them roll back (weight 0 at once). A paused rollout
 *   is still analysed and still rolled back: a pause holds progress, it does not excuse errors.
 * - RolledBack holds (weight 0, Stalled with the reason) until the spec asks for another revision,
 *   a `retry` action restarts it, or, after a contract rollback, the contract becomes acceptable.
 * - Promoted hands the candidate to the plan as the new stable (the plan retains the old one) once
 *   it runs the stable's full scale; until then it stays Promoted at the last step's split while
 *   it scales up, and the next decision promotes again.
 * - Metrics (spec.rollout.analysis.metrics) and webhooks (spec.rollout.analysis.webhooks): a decision
 *   that needs answers the input lacks says so (metricsDue, webhooksDue: the type), and the shell asks
 *   and decides again with the answers. Metrics join each analysis check (out of range fails it, no
 *   value leaves a passing check inconclusive). Webhooks:
 *   PreRollout gates the candidate's first traffic (a failure rolls it back), Rollout joins each
 *   analysis check (a failure fails the check), PrePromotion gates the automatic move to 100% (a
 *   failure counts as a failed check and holds). Rollback webhooks are the shell's alone: it tells
 *   them of each transition to RolledBack.
 */
import type {
  CanaryPhase,
  ModelDeploymentSpec,
  ProgressDeadlinePolicy,
  RolloutStep,
  WebhookType,
} from '../api/types.js';
import {
  analysisLimitsOf,
  failedBy,
  type AnalysisLimit,
  type Verdict,
  type VerdictResult,
  type WindowFigures,
} from './analysis.js';
import type { RolloutAction } from './canary-action.js';
import type { ContractCheck } from './contract.js';
import type { ProblemReason } from '../status/problems.js';
import { Because, Reason, type Reasoned, type StepReason } from '../status/reasons.js';
import type { TrafficMirror, TrafficWeight } from '../traffic/types.js';
import { withMetrics, type MetricAnswer } from './metrics.js';
import { failedWebhooks, webhookFailureMessage, webhooksOf, type WebhookResults } from './webhooks.js';

/**
 * The CRD's default spec.rollout.progressDeadlineSeconds: a Deployment's own default, sixty checks
 * at the default interval; long enough for a quiet hour's first requests, short enough that a Flux
 * health check or an Argo CD sync wave gets a verdict.
 */
export const DEFAULT_PROGRESS_DEADLINE_SECONDS = 600;

/**
 * The CRD's default spec.rollout.onProgressDeadline: hold and say so. Neither promoting a candidate
 * nobody measured nor rolling back one nothing is wrong with is a safe guess.
 */
export const DEFAULT_ON_PROGRESS_DEADLINE: ProgressDeadlinePolicy = 'Pause';

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
  /**
   * Since when nothing could be judged (an inconclusive check, an unread contract): the progress
   * deadline counts from here. Unset while the rollout can judge, or a human holds it.
   */
  inconclusiveSince?: string;
  lastResult?: VerdictResult;
  /** The last check's message: its figures, or every reason it did not pass. */
  analysisMessage?: string;
  /** The candidate's figures in the last check's window (status.canary.analysis shows them). */
  figures?: WindowFigures;
  /** Why the latest decision is what it is. */
  reason: Reason;
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
  /** True when the candidate's Deployment has rolled out and its pods are available: it can take traffic. */
  candidateAvailable: boolean;
  /**
   * The candidate's available pods, and whether they are as many as the stable runs: promotion
   * moves every request onto the candidate, so a promoted candidate keeps its last split until then.
   */
  candidatePods: { available: number; atFullScale: boolean };
  /**
   * The stable's current replicas, which the candidate is sized against (see {@link replicasForShare}):
   * what its Deployment runs, or what request autoscaling gives it; spec.replicas (or 1) when unset.
   */
  stableReplicas?: number;
  /** How the candidate earns promotion; `analysed` when unset. */
  progression?: Progression;
  /** A problem that stops the candidate for good (digest mismatch, crash loop, progress deadline). */
  candidateProblem?: Reasoned<ProblemReason>;
  /** A one-shot action not handled yet (see pendingAction). */
  action?: RolloutAction;
  /** An action annotation that does not parse, not reported yet: refused, and recorded so it is reported once. */
  unreadableAction?: { raw: string; error: string };
  /**
   * Answers of the webhooks the shell called for this decision, by type: those a previous decision
   * on the same input named in {@link CanaryDecision.webhooksDue}.
   */
  webhooks?: WebhookResults;
  /** Answers of spec.rollout.analysis.metrics' queries, when a previous decision on the same input named them due. */
  metrics?: MetricAnswer[];
  now: Date;
}

/** What the shell brings back for a decision that named metrics or webhooks due. */
export type CheckAnswers = Pick<CanaryInput, 'webhooks' | 'metrics'>;

/** A phase change worth an Event and a line in the log. */
export interface CanaryTransition extends Reasoned {
  from?: CanaryPhase;
  to: CanaryPhase;
  step: number;
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
  /** Replicas of the candidate's Deployment (an HPA's floor with the CPU HPA); undefined when no candidate. */
  candidateReplicas?: number;
  transition?: CanaryTransition;
  /** Set while the spec asks for a revision that does not serve and will not on its own. */
  stalled?: Reasoned;
  /** The action value handled by this decision, to record in status.lastAction. */
  handledAction?: string;
  /** What became of a one-shot action, when one was given. */
  actionMessage?: string;
  /** True when the action was ignored or refused (it did not apply to this rollout as it stands). */
  actionRefused?: boolean;
  requeueAfterSeconds?: number;
  /**
   * Webhooks whose answers this decision needs and the input lacks: the shell calls every webhook
   * of this type and decides again with their answers in {@link CanaryInput.webhooks}. The decision
   * that names it is provisional and never applied.
   */
  webhooksDue?: WebhookType;
  /** Like webhooksDue, for the queries of spec.rollout.analysis.metrics (asked before any webhook). */
  metricsDue?: boolean;
}

/** The steps of a spec, with defaults applied. */
export function stepsOf(spec: ModelDeploymentSpec): Required<RolloutStep>[] {
  return (spec.rollout?.steps ?? DEFAULT_STEPS).map((s) => ({
    weight: s.weight,
    pauseSeconds: s.pauseSeconds ?? DEFAULT_PAUSE_SECONDS,
  }));
}

/**
 * Replicas the candidate needs for a share of the load: ceil(stable's current replicas × share /
 * 100), at least 1. The stable's current replicas, not its floor: promotion moves every request
 * onto the candidate, and an autoscaled stable may run far above its minReplicas.
 */
export function replicasForShare(stableReplicas: number, sharePercent: number): number {
  return Math.max(1, Math.ceil((stableReplicas * Math.min(100, sharePercent)) / 100));
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

function fresh(revision: string, now: Date, why: Reasoned): CanaryState {
  return {
    revision,
    phase: 'Pending',
    step: -1,
    weight: 0,
    mirrorPercent: 0,
    stepStartedAt: iso(now),
    failures: 0,
    inconclusive: 0,
    reason: why.reason,
    message: why.message,
  };
}

function rolledBack(state: CanaryState, why: Reasoned): CanaryState {
  return { ...state, phase: 'RolledBack', weight: 0, mirrorPercent: 0, reason: why.reason, message: why.message };
}

/** Decide the canary's next state. Pure: the same input gives the same decision. */
export function nextCanary(input: CanaryInput): CanaryDecision {
  const decision = input.candidate === input.stable ? withoutCandidate(input) : withCandidate(input);
  if (input.unreadableAction) {
    decision.handledAction = input.unreadableAction.raw;
    decision.actionMessage = input.unreadableAction.error;
    decision.actionRefused = true;
  }
  return decision;
}

/** A candidate rolls out: from its previous state, the action, the checks and the clock to the next. */
function withCandidate(input: CanaryInput): CanaryDecision {
  const { previous, action } = input;
  let state: CanaryState;
  let actionMessage: string | undefined;
  let actionRefused = false;
  const fromPhase = previous?.revision === input.candidate ? previous.phase : undefined;
  if (previous === undefined || previous.revision !== input.candidate) {
    const superseded =
      previous && previous.phase !== 'RolledBack' && previous.phase !== 'Promoted' && previous.revision !== input.stable
        ? previous.revision
        : undefined;
    state = fresh(input.candidate, input.now, Because.newRevision(input.candidate, input.stable, superseded));
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

  let due: WebhookType | 'Metrics' | undefined;
  if (state.phase !== 'RolledBack' && state.phase !== 'Promoted') {
    ({ state, due } = gated(input, state));
  } else if (
    state.phase === 'RolledBack' &&
    previous?.revision === input.candidate &&
    previous.phase === 'RolledBack' &&
    previous.reason === Reason.ContractMismatch &&
    (input.contract.status === 'Compatible' || input.contract.status === 'Allowed')
  ) {
    state = advance(
      input,
      fresh(input.candidate, input.now, Because.contractAccepted(input.candidate, input.contract.message)),
    );
  }

  const decision = decisionFor(input, state, fromPhase, actionMessage);
  if (actionRefused) decision.actionRefused = true;
  if (due === 'Metrics') decision.metricsDue = true;
  else if (due !== undefined) decision.webhooksDue = due;
  return decision;
}

/**
 * {@link advance} with the webhooks' gates around it: Rollout answers join a due check before it
 * is judged, PreRollout answers gate the move out of Pending, PrePromotion answers the automatic
 * move to 100%. Without the answers a gate needs, the decision names them due and holds.
 */
function gated(input: CanaryInput, prior: CanaryState): { state: CanaryState; due?: WebhookType | 'Metrics' } {
  const { spec } = input;
  let { check } = input;
  const metrics = spec.rollout?.analysis?.metrics ?? [];
  if (check && metrics.length > 0) {
    if (input.metrics === undefined) return awaiting(prior, 'Metrics');
    check = withMetrics(check, metrics, input.metrics);
  }
  if (check && webhooksOf(spec, 'Rollout').length > 0) {
    const answered = answersOf(input, 'Rollout');
    if (answered === 'due') return awaiting(prior, 'Rollout');
    if (answered.failure !== undefined) check = failedBy(check, 'webhook', answered.failure);
  }
  const judged = check ? { ...input, check } : input;
  const next = advance(judged, prior);

  const leavesPending = prior.phase === 'Pending' && next.phase !== 'Pending' && next.phase !== 'RolledBack';
  if (leavesPending && webhooksOf(spec, 'PreRollout').length > 0) {
    const held = judging(prior);
    const answered = answersOf(input, 'PreRollout');
    if (answered === 'due') return awaiting(held, 'PreRollout');
    if (answered.failure !== undefined) {
      return { state: rolledBack(held, Because.preRolloutFailed(prior.revision, answered.failure)) };
    }
  }

  if (next.phase === 'Promoted' && webhooksOf(spec, 'PrePromotion').length > 0) {
    // Short of 100%: where the candidate stood, with this decision's check recorded.
    const held: CanaryState = {
      ...next,
      phase: prior.phase,
      step: prior.step,
      weight: prior.weight,
      mirrorPercent: prior.mirrorPercent,
    };
    const answered = answersOf(input, 'PrePromotion');
    if (answered === 'due') return awaiting(held, 'PrePromotion');
    if (answered.failure !== undefined) {
      const message = answered.failure;
      const s = judging({ ...held, failures: held.failures + 1, lastResult: 'Failed', analysisMessage: message });
      delete s.passedAt;
      const limit = analysisLimitsOf(spec.rollout?.analysis).failureLimit;
      if (s.failures >= limit) {
        return { state: rolledBack(s, Because.analysisFailed(Reason.WebhookFailed, s.revision, s.failures, message)) };
      }
      return { state: { ...s, ...Because.prePromotionFailed(s.revision, s.weight, s.failures, limit, message) } };
    }
  }
  return { state: next };
}

/** What the webhooks of a type answered: `due` when the input lacks their answers, else every failure in one line. */
function answersOf(input: CanaryInput, type: WebhookType): 'due' | { failure?: string } {
  const answers = input.webhooks?.[type];
  if (answers === undefined) return 'due';
  const failed = failedWebhooks(answers);
  return failed.length > 0 ? { failure: webhookFailureMessage(type, failed) } : {};
}

/** A provisional decision: held as `s`, waiting for the answers of the webhooks of `type`. */
function awaiting<T extends WebhookType | 'Metrics'>(s: CanaryState, type: T): { state: CanaryState; due: T } {
  const what = type === 'Metrics' ? 'metrics from Prometheus' : `${type} webhooks`;
  return { state: { ...s, ...Because.checksPending(what, s.revision) }, due: type };
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
      const why = Because.rolledBackToRetained(stable, input.retained, action.raw);
      const state: CanaryState = { ...fresh(stable, now, why), phase: 'RolledBack' };
      return {
        state,
        stableRevision: input.retained,
        handledAction: action.raw,
        actionMessage: why.message,
        weights: [
          { revision: input.retained, percent: 100 },
          { revision: stable, percent: 0 },
        ],
        candidateReplicas: 0,
        transition: { from: 'Promoted', to: 'RolledBack', step: -1, ...why },
        stalled: Because.rolledBackToRetainedStalled(why, stable, input.retained),
      };
    }
    decision.actionRefused = true;
    decision.actionMessage = `action ${action.raw} ignored: no rollout in progress${action.verb === 'rollback' ? ' and no retained revision to roll back to' : ''}`;
  }
  if (previous && previous.revision !== stable && previous.phase !== 'RolledBack' && previous.phase !== 'Promoted') {
    const why = Because.specReverted(stable, previous.revision);
    decision.state = rolledBack(previous, why);
    decision.weights.push({ revision: previous.revision, percent: 0 });
    decision.candidateReplicas = 0;
    decision.transition = { from: previous.phase, to: 'RolledBack', step: previous.step, ...why };
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
      const why = Because.manualRollback(action.verb, rev, action.raw);
      return { state: rolledBack(state, why), message: why.message };
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
      const why = Because.manualPromotion(rev, action.raw);
      return { state: { ...state, phase: 'Promoted', weight: 100, mirrorPercent: 0, ...why }, message: why.message };
    }
    case 'retry': {
      if (state.phase !== 'RolledBack')
        return { state, message: `action ${action.raw}: ${rev} is not rolled back; nothing to retry` };
      const why = Because.retry(rev, action.raw);
      return { state: fresh(rev, input.now, why), message: why.message };
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
    return rolledBack(s, Because.candidateProblem(s.revision, input.candidateProblem));
  }

  const held = paused || input.fixedWeight !== undefined;
  if (s.phase === 'Pending') {
    if (input.contract.status === 'Incompatible')
      return rolledBack(s, Because.contractMismatch(input.contract.message));
    // Pods that do not start are the candidate Deployment's own progress deadline (a fatal problem).
    if (!input.candidateAvailable) return { ...judging(s), ...Because.starting(s.revision) };
    if (input.contract.status === 'Unknown') {
      if (held) return { ...judging(s), ...Because.contractUnknown(input.contract.message) };
      const waiting = undecided(s, now);
      const unread = `the contract gate could not read the model metadata (${input.contract.message})`;
      return (
        pastDeadline(input, waiting, unread) ?? {
          ...waiting,
          ...Because.contractUnknown(input.contract.message, deadlineLeft(input, waiting)),
        }
      );
    }
    s = judging(s);
    if (paused) return { ...s, ...Because.pausedWarm(s.revision) };
    if (input.progression === 'immediate') {
      return {
        ...s,
        phase: 'Promoted',
        weight: 100,
        mirrorPercent: 0,
        ...Because.revisionAvailable(s.revision, input.stable),
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
        ...Because.shadowStarted(s.revision, shadowFirst.percent, shadowFirst.seconds),
      };
    }
    return enterStep(s, 0, steps, input, Reason.StepStarted);
  }

  if (check) {
    s = { ...s, lastCheckAt: iso(now), lastResult: check.result, analysisMessage: check.message };
    if (check.candidate) s.figures = check.candidate;
    if (check.result === 'Failed') {
      s.failures += 1;
      s.inconclusive = 0;
      delete s.passedAt;
      delete s.inconclusiveSince;
      if (s.failures >= limits.failureLimit) {
        return rolledBack(
          s,
          Because.analysisFailed(rollbackReasonOf(check.broken), s.revision, s.failures, check.message),
        );
      }
    } else if (check.result === 'Inconclusive') {
      s = undecided(s, now);
      s.inconclusive += 1;
      delete s.passedAt;
    } else {
      s.inconclusive = 0;
      delete s.inconclusiveSince;
      const from = check.window?.from;
      if (from !== undefined && Date.parse(from) >= Date.parse(s.stepStartedAt)) s.passedAt = iso(now);
      else delete s.passedAt;
    }
  }

  const shadow = spec.rollout?.shadowFirst;
  if (s.step < 0 && shadow === undefined && input.fixedWeight === undefined && !paused) {
    // spec.rollout.shadowFirst was removed while shadowing: go live.
    return enterStep(s, 0, steps, input, Reason.ShadowRemoved);
  }
  const inShadow = s.step < 0;
  const base = inShadow ? 'Shadow' : 'Progressing';
  // A human holds the rollout: the deadline starts afresh when they let go.
  if (held) s = judging(s);
  if (input.fixedWeight !== undefined) {
    const step = Math.max(0, s.step);
    const mirror = mirrorForWeight(spec, input.fixedWeight);
    return {
      ...s,
      phase: 'Paused',
      step,
      weight: input.fixedWeight,
      mirrorPercent: mirror,
      ...Because.manualWeight(s.revision, input.fixedWeight),
    };
  }
  if (paused) {
    return {
      ...s,
      phase: 'Paused',
      ...Because.pausedBySpec(s.revision, inShadow ? `shadow ${s.mirrorPercent}%` : `${s.weight}%`),
    };
  }
  if (!inShadow && s.step >= steps.length) s.step = steps.length - 1;
  if (!inShadow && s.weight !== steps[s.step]!.weight) {
    // Back from a fixed weight (or the steps changed): resume at the current step's own weight.
    return enterStep(s, s.step, steps, input, Reason.StepResumed);
  }

  const duration = inShadow ? (shadow?.seconds ?? 0) : steps[s.step]!.pauseSeconds;
  const elapsed = now.getTime() - Date.parse(s.stepStartedAt) >= duration * 1000;
  const where = inShadow ? 'shadow' : `step ${s.step + 1}/${steps.length} (${s.weight}%)`;
  if (elapsed && (s.passedAt !== undefined || input.progression === 'timed')) {
    if (inShadow) return enterStep(s, 0, steps, input, Reason.ShadowPassed);
    if (s.step + 1 < steps.length) return enterStep(s, s.step + 1, steps, input, Reason.StepPassed);
    return { ...s, phase: 'Promoted', weight: 100, mirrorPercent: 0, ...Because.promoted(s.revision) };
  }
  if (s.inconclusiveSince !== undefined) {
    const waiting = { ...s, inconclusiveSince: s.inconclusiveSince };
    const unjudged = `no check could be judged (last: ${s.analysisMessage ?? 'Inconclusive'})`;
    return (
      pastDeadline(input, waiting, unjudged, where) ?? {
        ...waiting,
        phase: base,
        ...Because.insufficientTraffic(where, s.inconclusive, s.analysisMessage, deadlineLeft(input, waiting)),
      }
    );
  }
  const waiting = !elapsed
    ? `${Math.ceil((Date.parse(s.stepStartedAt) + duration * 1000 - now.getTime()) / 1000)}s of the pause left`
    : s.lastResult === undefined
      ? 'waiting for the first check'
      : `waiting for a passing check (last: ${s.lastResult}${s.analysisMessage ? `, ${s.analysisMessage}` : ''})`;
  return { ...s, phase: base, ...Because.waiting(inShadow, where, waiting) };
}

/** A state whose deadline clock runs. */
type Undecided = CanaryState & { inconclusiveSince: string };

/** The spec's progress deadline and its policy, with the CRD's defaults. */
function progressDeadlineOf(spec: ModelDeploymentSpec): { seconds: number; policy: ProgressDeadlinePolicy } {
  return {
    seconds: spec.rollout?.progressDeadlineSeconds ?? DEFAULT_PROGRESS_DEADLINE_SECONDS,
    policy: spec.rollout?.onProgressDeadline ?? DEFAULT_ON_PROGRESS_DEADLINE,
  };
}

/** The state without the deadline clock: the rollout can judge again, or a human holds it. */
function judging(s: CanaryState): CanaryState {
  const out = { ...s };
  delete out.inconclusiveSince;
  return out;
}

/** The state with the deadline clock running, from now unless it already runs. */
function undecided(s: CanaryState, now: Date): Undecided {
  return { ...s, inconclusiveSince: s.inconclusiveSince ?? iso(now) };
}

/** When a deadline clock started at `since` runs out (ms since the epoch). */
function deadlineAt(spec: ModelDeploymentSpec, since: string): number {
  return Date.parse(since) + progressDeadlineOf(spec).seconds * 1000;
}

/** What the deadline will do and when, for the message of a rollout still waiting. */
function deadlineLeft(input: CanaryInput, s: Undecided): string {
  const left = Math.max(0, Math.ceil((deadlineAt(input.spec, s.inconclusiveSince) - input.now.getTime()) / 1000));
  return `onProgressDeadline ${progressDeadlineOf(input.spec).policy} in ${left}s`;
}

/**
 * The state spec.rollout.onProgressDeadline makes of a rollout that has judged nothing for
 * progressDeadlineSeconds, or undefined while time is left. `unjudged` says what could not be judged;
 * `where` names the step for a pause.
 */
function pastDeadline(input: CanaryInput, s: Undecided, unjudged: string, where = 'warm-up'): CanaryState | undefined {
  if (input.now.getTime() < deadlineAt(input.spec, s.inconclusiveSince)) return undefined;
  const { seconds, policy } = progressDeadlineOf(input.spec);
  const why = `${unjudged} for ${seconds}s (spec.rollout.progressDeadlineSeconds)`;
  if (policy === 'Rollback') return rolledBack(s, Because.deadlineRolledBack(s.revision, why));
  if (policy === 'Promote' && s.phase !== 'Pending') {
    return { ...s, phase: 'Promoted', weight: 100, mirrorPercent: 0, ...Because.deadlinePromoted(s.revision, why) };
  }
  // Pause, and a Promote that would skip the contract gate.
  const phase = s.phase === 'Pending' ? 'Pending' : 'Paused';
  return { ...s, phase, ...Because.deadlinePaused(s.revision, where, s.weight, why, policy) };
}

/**
 * The rollback reason for the limit the last failed check broke first, so status and Events tell
 * an erroring candidate from a slow or a disagreeing one at a glance.
 */
export function rollbackReasonOf(broken: AnalysisLimit[] | undefined): Reason {
  switch (broken?.[0]) {
    case 'errorRate':
      return Reason.ErrorRateExceeded;
    case 'latency':
      return Reason.LatencyExceeded;
    case 'agreement':
      return Reason.AgreementTooLow;
    case 'accuracy':
      return Reason.AccuracyTooLow;
    case 'metric':
      return Reason.MetricOutOfRange;
    case 'webhook':
      return Reason.WebhookFailed;
    default:
      return Reason.AnalysisFailed;
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
  reason: StepReason,
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
    ...Because.step(reason, s.revision, step, steps.length, weight, pauseSeconds),
  };
  delete next.passedAt;
  delete next.inconclusiveSince;
  return next;
}

/** Weights, mirror, replicas, transition, stalled and requeue for a decided state. */
function decisionFor(
  input: CanaryInput,
  decided: CanaryState,
  fromPhase: CanaryPhase | undefined,
  actionMessage: string | undefined,
): CanaryDecision {
  const { spec, stable, now } = input;
  const transition = transitionTo(decided, fromPhase, input.previous);
  const promoted = decided.phase === 'Promoted' && input.candidatePods.atFullScale;
  const state = decided.phase === 'Promoted' && !promoted ? waitingForScale(input, decided) : decided;
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
  if (state.mirrorPercent > 0 && state.phase !== 'Promoted')
    decision.mirror = { revision: state.revision, percent: state.mirrorPercent };
  decision.candidateReplicas = candidateReplicasFor(input, state);
  if (input.action) {
    decision.handledAction = input.action.raw;
    if (actionMessage !== undefined) decision.actionMessage = actionMessage;
  }
  if (transition) decision.transition = transition;
  if (state.phase === 'RolledBack') decision.stalled = Because.rolledBackStalled(state, stable);
  else if (state.phase !== 'Promoted' && state.reason === Reason.RolloutDeadlineExceeded)
    decision.stalled = { reason: state.reason, message: state.message };
  const requeue = requeueSeconds(spec, state, now);
  if (requeue !== undefined) decision.requeueAfterSeconds = requeue;
  return decision;
}

/** The phase or step change of this decision, if any: what a user sees as an Event. */
function transitionTo(
  state: CanaryState,
  fromPhase: CanaryPhase | undefined,
  previous: CanaryState | undefined,
): CanaryTransition | undefined {
  const before = previous?.revision === state.revision ? previous : undefined;
  if (fromPhase === state.phase && before?.step === state.step) return undefined;
  const transition: CanaryTransition = {
    to: state.phase,
    step: state.step,
    reason: state.reason,
    message: state.message,
  };
  if (fromPhase !== undefined) transition.from = fromPhase;
  return transition;
}

/**
 * A promoted candidate that does not run the stable's full scale yet: it stays Promoted (the next
 * decision promotes again) while traffic holds the last step's split, with no mirror, and it scales up.
 */
function waitingForScale(input: CanaryInput, promoted: CanaryState): CanaryState {
  const held = input.previous?.revision === promoted.revision ? input.previous.weight : 0;
  return {
    ...promoted,
    weight: held,
    ...Because.promotionWaitsForScale(promoted.reason, promoted.revision, input.candidatePods.available),
  };
}

/** Replicas of the candidate's Deployment for a decided state. */
function candidateReplicasFor(input: CanaryInput, state: CanaryState): number {
  const { spec } = input;
  const stable = input.stableReplicas ?? spec.replicas ?? 1;
  switch (state.phase) {
    case 'RolledBack':
      // A rolled-back candidate keeps no pods, autoscaled or not.
      return 0;
    case 'Promoted':
      return replicasForShare(stable, 100);
    case 'Pending': {
      // Size the warm-up for the first traffic the candidate will get, so that step finds it ready:
      // with strategy Replace that is all of it.
      const first =
        input.progression === 'immediate'
          ? 100
          : (input.fixedWeight ?? spec.rollout?.shadowFirst?.percent ?? stepsOf(spec)[0]!.weight);
      return replicasForShare(stable, first);
    }
    default:
      // Live share plus the mirrored copies of the stable's share.
      return replicasForShare(stable, state.weight + (state.mirrorPercent * (100 - state.weight)) / 100);
  }
}

/**
 * Seconds until time alone can change the decision: the next check, the end of the pause, or the
 * progress deadline.
 */
function requeueSeconds(spec: ModelDeploymentSpec, state: CanaryState, now: Date): number | undefined {
  if (state.phase === 'RolledBack' || state.phase === 'Promoted') return undefined;
  const interval = analysisLimitsOf(spec.rollout?.analysis).intervalSeconds;
  const times =
    state.phase === 'Pending'
      ? [now.getTime() + interval * 1000]
      : [state.lastCheckAt === undefined ? now.getTime() : Date.parse(state.lastCheckAt) + interval * 1000];
  const duration = state.step < 0 ? spec.rollout?.shadowFirst?.seconds : stepsOf(spec)[state.step]?.pauseSeconds;
  const ends = [];
  if (state.phase !== 'Pending' && duration !== undefined) ends.push(Date.parse(state.stepStartedAt) + duration * 1000);
  if (state.inconclusiveSince !== undefined) ends.push(deadlineAt(spec, state.inconclusiveSince));
  times.push(...ends.filter((end) => end > now.getTime()));
  return Math.max(1, Math.ceil((Math.min(...times) - now.getTime()) / 1000));
}
