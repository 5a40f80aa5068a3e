/**
 * Every reason the operator writes (condition reasons, Event reasons, status.canary.reason,
 * status.history[].reason) and the message each comes with, in one table, in the manner of Argo
 * Rollouts' utils/conditions/conditions.go. Users grep for these names and alert on them: a
 * reason is API, so it is spelled once, here. Problem reasons (a pod or Deployment that cannot
 * progress) live with their detection in problems.ts and join the type below: among them the
 * fetch failures a model server reports (ModelNotFound, ModelAccessDenied, ModelDigestMismatch,
 * ModelFetchTimeout, ModelSourceInvalid, ModelSourceUnavailable: contract FETCH_FAILURE_REASONS),
 * each with its words in problems.ts FETCH_FAILURE_MESSAGES. They reach the Stalled condition
 * through {@link Because.problems}, a rolled-back candidate through {@link Because.candidateProblem},
 * and a Warning Event on each Stalled transition.
 */
import { ACTION_ANNOTATION } from '../rollout/canary-action.js';
import type { RevisionMonitoringStatus } from '../api/types.js';
import type { Problem, ProblemReason } from './problems.js';

/** The reasons, by where they first appear. */
export const Reason = {
  // The stable revision changes (status.history, an Event).
  /** The first revision of a ModelDeployment serves at once. */
  InitialRevision: 'InitialRevision',
  /** The stable revision's Deployment is gone: the spec's revision replaces it at once. */
  PreviousRevisionGone: 'PreviousRevisionGone',
  /** The spec went back to a retained revision, which serves again at once. */
  RevertedToRetained: 'RevertedToRetained',

  // The canary (status.canary.reason, an Event on each phase or step change).
  /** A new candidate starts next to the stable. */
  NewRevision: 'NewRevision',
  /** The candidate's Deployment is not available yet. */
  Starting: 'Starting',
  /** The router has not published both revisions' model metadata yet. */
  ContractUnknown: 'ContractUnknown',
  /** The candidate's inputs or outputs differ from the stable's and the spec does not allow it. */
  ContractMismatch: 'ContractMismatch',
  /** A candidate rolled back for its contract restarts: the contract is acceptable now. */
  ContractAccepted: 'ContractAccepted',
  /** spec.rollout.paused holds the candidate where it is. */
  PausedBySpec: 'PausedBySpec',
  /** spec.rollout.weight holds the candidate at a fixed live weight. */
  ManualWeight: 'ManualWeight',
  /** Requests are mirrored to the candidate before any live traffic. */
  ShadowStarted: 'ShadowStarted',
  /** Shadowing, waiting for the pause to end and a check to pass. */
  Shadowing: 'Shadowing',
  /** The shadow phase passed: step 1 starts. */
  ShadowPassed: 'ShadowPassed',
  /** spec.rollout.shadowFirst was removed while shadowing: step 1 starts. */
  ShadowRemoved: 'ShadowRemoved',
  /** Step 1 starts. */
  StepStarted: 'StepStarted',
  /** In a step, waiting for its pause to end and a check to pass. */
  StepInProgress: 'StepInProgress',
  /** A step passed: the next one starts. */
  StepPassed: 'StepPassed',
  /** Back at the current step's weight after a fixed weight (or changed steps). */
  StepResumed: 'StepResumed',
  /** The latest check was inconclusive (too few requests, no stats): the step holds, the progress deadline runs. */
  InsufficientTraffic: 'InsufficientTraffic',
  /**
   * spec.rollout.progressDeadlineSeconds passed with nothing the rollout could judge, and
   * spec.rollout.onProgressDeadline paused, promoted or rolled it back. Not the pod-level
   * ProgressDeadlineExceeded problem: that is a candidate Deployment whose pods do not start.
   */
  RolloutDeadlineExceeded: 'RolloutDeadlineExceeded',
  /** The candidate passed every step. */
  Promoted: 'Promoted',
  /** With strategy Replace, the candidate is available and replaces the stable. */
  RevisionAvailable: 'RevisionAvailable',
  /** The candidate's error rate broke spec.rollout.analysis.maxErrorRate. */
  ErrorRateExceeded: 'ErrorRateExceeded',
  /** The candidate's p99 latency broke spec.rollout.analysis.maxLatencyP99Ms. */
  LatencyExceeded: 'LatencyExceeded',
  /** The candidate agreed with the stable less than spec.rollout.analysis.minAgreement. */
  AgreementTooLow: 'AgreementTooLow',
  /** The labels joined with the candidate's predictions showed it below spec.rollout.analysis.minAccuracy. */
  AccuracyTooLow: 'AccuracyTooLow',
  /** failureLimit checks failed without naming a limit. */
  AnalysisFailed: 'AnalysisFailed',
  /**
   * A webhook of spec.rollout.analysis.webhooks failed (not a 2xx, no answer in time, unreachable): a
   * PreRollout one rolled the candidate back before any traffic, Rollout or PrePromotion ones failed
   * failureLimit checks, or a PrePromotion one holds the candidate short of 100%.
   */
  WebhookFailed: 'WebhookFailed',
  /** A value of spec.rollout.analysis.metrics fell outside its thresholdRange in failureLimit checks. */
  MetricOutOfRange: 'MetricOutOfRange',
  /** The decision waits for the answers of webhooks or Prometheus queries the operator is asking. */
  ChecksPending: 'ChecksPending',
  /** The spec went back to the stable revision mid-rollout. */
  SpecReverted: 'SpecReverted',
  /** An abort action rolled the candidate back. */
  ManualAbort: 'ManualAbort',
  /** A rollback action rolled the candidate (or a promoted revision) back. */
  ManualRollback: 'ManualRollback',
  /** A promote action promoted the candidate. */
  ManualPromotion: 'ManualPromotion',
  /** A retry action restarted a rolled-back candidate. */
  Retry: 'Retry',

  // The kstatus conditions.
  /** Ready: the stable revision serves with its pods, and the router routes. */
  Available: 'Available',
  /** Ready False: the stable serves, no router pod is available yet. */
  RouterStarting: 'RouterStarting',
  /** Ready False, Reconciling True: the stable revision's Deployment does not exist yet. */
  Creating: 'Creating',
  /** Reconciling True: a rollout is in progress. */
  Progressing: 'Progressing',
  /** Reconciling True: the stable revision's pods are being updated. */
  Updating: 'Updating',
  /** Reconciling False: everything observed matches the spec. */
  Reconciled: 'Reconciled',
  /** Reconciling False: progress is blocked; the Stalled condition says why. */
  Stalled: 'Stalled',
  /** Stalled False. */
  NoProblems: 'NoProblems',
  /**
   * Ready True: the stable revision is at zero after idleSeconds without a request (or starting
   * from it): the router holds requests and starts it. Also the Event of a scale to zero.
   */
  ScaledToZero: 'ScaledToZero',
  /** Every condition: the spec failed validation; nothing was changed. */
  InvalidSpec: 'InvalidSpec',
  /**
   * DataDrift True (spec.monitoring.drift): the stable revision's live inputs or predicted classes
   * moved away from its reference (a PSI above the threshold). Also the Warning Event of that change.
   */
  DriftDetected: 'DriftDetected',
  /** DataDrift False: no PSI of the stable revision above the threshold (or no full window yet). */
  NoDrift: 'NoDrift',

  // Events only.
  /** The stable revision became Ready. */
  RevisionReady: 'RevisionReady',
  /** A rollout action was carried out. */
  ActionHandled: 'ActionHandled',
  /** A rollout action was malformed, did not apply, or was refused. */
  ActionRefused: 'ActionRefused',
  /** Applying or pruning the owned objects failed (the queue retries). */
  ApplyFailed: 'ApplyFailed',
  /** A Rollback webhook was told of a rollback (a Normal Event when it answered 2xx, else a Warning). */
  RollbackWebhook: 'RollbackWebhook',
  /** Request autoscaling raised a revision's replicas. */
  ScaledUp: 'ScaledUp',
  /** Request autoscaling lowered a revision's replicas. */
  ScaledDown: 'ScaledDown',
  /** Requests held at zero replicas: the revision starts. */
  Activating: 'Activating',
  /** DataDrift went from True to False. */
  DriftResolved: 'DriftResolved',
} as const;

/** The Event reasons of request autoscaling's decisions. */
export type ScaleEventReason = (typeof Reason)['ScaledUp' | 'ScaledDown' | 'ScaledToZero' | 'Activating'];

/** Every reason the operator writes: one of {@link Reason} or a problem's reason. */
export type Reason = (typeof Reason)[keyof typeof Reason] | ProblemReason;

/** The reasons a step change gives. */
export type StepReason = (typeof Reason)[
  'StepStarted' | 'StepPassed' | 'StepResumed' | 'ShadowPassed' | 'ShadowRemoved'];

/** A reason with its one-line message, as a condition, an Event, a transition or a canary state carries them. */
export interface Reasoned<R extends Reason = Reason> {
  reason: R;
  message: string;
}

/**
 * The messages of the reasons: each entry gives a reason with its message. A reason with several
 * entries says the same thing about different moments.
 */
export const Because = {
  // The stable revision changes.
  initialRevision: (revision: string) =>
    reasoned(Reason.InitialRevision, `revision ${revision} is the first revision and serves 100%`),
  previousRevisionGone: (revision: string, previous: string) =>
    reasoned(
      Reason.PreviousRevisionGone,
      `revision ${revision} replaces ${previous}, whose Deployment no longer exists`,
    ),
  revertedToRetained: (revision: string) =>
    reasoned(
      Reason.RevertedToRetained,
      `spec reverted to retained revision ${revision}: it serves 100% at once, without a canary`,
    ),
  /** A promotion that completes after the candidate scaled up, under the reason of its state. */
  promotionCompleted: (reason: Reason, candidate: string, stable: string) =>
    reasoned(reason, `candidate ${candidate} takes 100% and replaces ${stable} (${reason})`),

  // The canary.
  newRevision: (candidate: string, stable: string, superseded?: string) =>
    reasoned(
      Reason.NewRevision,
      `revision ${candidate} is starting next to stable ${stable}${superseded !== undefined ? `; candidate ${superseded} superseded` : ''}`,
    ),
  starting: (candidate: string) => reasoned(Reason.Starting, `waiting for candidate ${candidate} to become available`),
  /** `deadline` says what the progress deadline will do and when, while its clock runs. */
  contractUnknown: (contractMessage: string, deadline?: string) =>
    reasoned(
      Reason.ContractUnknown,
      `waiting for the contract check: ${contractMessage}${deadline !== undefined ? `; ${deadline}` : ''}`,
    ),
  contractMismatch: (contractMessage: string) => reasoned(Reason.ContractMismatch, contractMessage),
  contractAccepted: (candidate: string, contractMessage: string) =>
    reasoned(Reason.ContractAccepted, `revision ${candidate} restarts: ${contractMessage}`),
  pausedWarm: (candidate: string) =>
    reasoned(Reason.PausedBySpec, `candidate ${candidate} is available; spec.rollout.paused holds it at weight 0`),
  /** `at` is where it holds: `10%`, or `shadow 20%`. */
  pausedBySpec: (candidate: string, at: string) =>
    reasoned(Reason.PausedBySpec, `spec.rollout.paused holds candidate ${candidate} at ${at}`),
  manualWeight: (candidate: string, weight: number) =>
    reasoned(Reason.ManualWeight, `spec.rollout.weight holds candidate ${candidate} at ${weight}%`),
  revisionAvailable: (candidate: string, stable: string) =>
    reasoned(Reason.RevisionAvailable, `revision ${candidate} is available and replaces ${stable} (strategy Replace)`),
  shadowStarted: (candidate: string, percent: number, seconds: number) =>
    reasoned(
      Reason.ShadowStarted,
      `mirroring ${percent}% of requests to ${candidate} for ${seconds}s before any live traffic`,
    ),
  /** Entering step `step` (0-based) of `steps`. */
  step: (reason: StepReason, candidate: string, step: number, steps: number, weight: number, pauseSeconds: number) =>
    reasoned(
      reason,
      `step ${step + 1}/${steps}: candidate ${candidate} takes ${weight}% for at least ${pauseSeconds}s`,
    ),
  /** Waiting in the shadow phase or a step; `where` names it, `waiting` says for what. */
  waiting: (inShadow: boolean, where: string, waiting: string) =>
    reasoned(inShadow ? Reason.Shadowing : Reason.StepInProgress, `${where}: ${waiting}`),
  /** `deadline` says what the progress deadline will do and when. */
  insufficientTraffic: (where: string, inconclusive: number, analysisMessage: string | undefined, deadline: string) =>
    reasoned(
      Reason.InsufficientTraffic,
      `${where}: ${inconclusive} inconclusive check(s) in a row (${analysisMessage ?? 'no traffic'}); holding until a check passes, ${deadline}`,
    ),
  /**
   * `why` says what could not be judged for how long; `policy` is the one asked for (a Promote
   * pauses before an unread contract).
   */
  deadlinePaused: (candidate: string, where: string, weight: number, why: string, policy: string) =>
    reasoned(
      Reason.RolloutDeadlineExceeded,
      `${where}: ${why}; onProgressDeadline ${policy} holds candidate ${candidate} at ${weight}%${policy === 'Promote' ? ' (a promotion never skips the contract gate)' : ''} until a check passes or fails, or a promote/abort action (${ACTION_ANNOTATION})`,
    ),
  deadlinePromoted: (candidate: string, why: string) =>
    reasoned(Reason.RolloutDeadlineExceeded, `candidate ${candidate} promoted by onProgressDeadline Promote: ${why}`),
  deadlineRolledBack: (candidate: string, why: string) =>
    reasoned(
      Reason.RolloutDeadlineExceeded,
      `candidate ${candidate} rolled back by onProgressDeadline Rollback: ${why}`,
    ),
  promoted: (candidate: string) =>
    reasoned(Reason.Promoted, `candidate ${candidate} passed every step and is promoted`),
  /** A Promoted candidate keeps its reason while it scales up to the stable's size. */
  promotionWaitsForScale: (reason: Reason, candidate: string, availablePods: number) =>
    reasoned(
      reason,
      `promoting candidate ${candidate}: scaling it to the stable's size before it takes 100% (${availablePods} pod(s) available)`,
    ),
  /** failureLimit checks failed; `reason` names the limit the last one broke first. */
  analysisFailed: (reason: Reason, candidate: string, failures: number, checkMessage: string) =>
    reasoned(reason, `candidate ${candidate} rolled back after ${failures} failed check(s): ${checkMessage}`),
  candidateProblem: (candidate: string, problem: Reasoned<ProblemReason>) =>
    reasoned(problem.reason, `candidate ${candidate} rolled back: ${problem.message}`),
  specReverted: (stable: string, candidate: string) =>
    reasoned(Reason.SpecReverted, `spec reverted to stable ${stable}: candidate ${candidate} rolled back`),
  manualRollback: (verb: 'abort' | 'rollback', candidate: string, action: string) =>
    reasoned(
      verb === 'abort' ? Reason.ManualAbort : Reason.ManualRollback,
      `candidate ${candidate} rolled back by action ${action}`,
    ),
  /** `what`: `PreRollout webhooks`, `metrics from Prometheus`. */
  checksPending: (what: string, candidate: string) =>
    reasoned(Reason.ChecksPending, `candidate ${candidate}: waiting for the answers of its ${what}`),
  /** A PreRollout webhook failed: the candidate never got traffic. */
  preRolloutFailed: (candidate: string, failures: string) =>
    reasoned(Reason.WebhookFailed, `candidate ${candidate} rolled back before any traffic: ${failures}`),
  /** A PrePromotion webhook failed short of failureLimit: the candidate holds its weight. */
  prePromotionFailed: (candidate: string, weight: number, failures: number, limit: number, message: string) =>
    reasoned(
      Reason.WebhookFailed,
      `candidate ${candidate} holds ${weight}% short of promotion: ${message}; failed checks ${failures} of ${limit} allowed, the webhook is asked again after a passing check`,
    ),
  rolledBackToRetained: (stable: string, retained: string, action: string) =>
    reasoned(Reason.ManualRollback, `rolled back from ${stable} to the retained ${retained} by action ${action}`),
  manualPromotion: (candidate: string, action: string) =>
    reasoned(Reason.ManualPromotion, `candidate ${candidate} promoted by action ${action}`),
  retry: (candidate: string, action: string) =>
    reasoned(Reason.Retry, `candidate ${candidate} restarted by action ${action}`),
  /** Stalled after a rollback during a canary: what serves, and the ways on. */
  rolledBackStalled: (rolledBack: Reasoned, stable: string) =>
    reasoned(
      rolledBack.reason,
      `${rolledBack.message}; stable ${stable} serves 100% — change the spec, revert it to the stable model, or annotate ${ACTION_ANNOTATION}=retry@<nonce>`,
    ),
  /** Stalled after a rollback to the retained revision: the spec still asks for the one rolled back. */
  rolledBackToRetainedStalled: (rolledBack: Reasoned, stable: string, retained: string) =>
    reasoned(
      rolledBack.reason,
      `${rolledBack.message}; the spec still asks for ${stable}: change it (or revert it to ${retained}) to go on`,
    ),

  // The conditions.
  available: (revision: string, percent: number, pods: number) =>
    reasoned(Reason.Available, `revision ${revision} serves ${percent}% with ${pods} available pod(s)`),
  routerStarting: (revision: string, router: string) =>
    reasoned(
      Reason.RouterStarting,
      `revision ${revision} is available; waiting for an available pod of router ${router}`,
    ),
  creating: (revision: string) => reasoned(Reason.Creating, `creating revision ${revision}`),
  podsStarting: (revision: string, available: number, wanted: number) =>
    reasoned(Reason.Starting, `revision ${revision}: ${available}/${wanted} pod(s) available`),
  /** Stalled True: the first problem's reason, every problem's message (there is at least one). */
  problems: (problems: Problem[]) =>
    reasoned(problems[0]!.reason, problems.map((p) => `revision ${p.revision}: ${p.message}`).join('; ')),
  noProblems: () => reasoned(Reason.NoProblems, 'no problem observed'),
  stalled: () => reasoned(Reason.Stalled, 'progress is blocked; see the Stalled condition'),
  progressing: (planMessage: string) => reasoned(Reason.Progressing, planMessage),
  updating: (revision: string, updated: number, available: number, desired: number) =>
    reasoned(Reason.Updating, `revision ${revision}: ${updated} updated, ${available} available of ${desired}`),
  reconciled: (revision: string) => reasoned(Reason.Reconciled, `revision ${revision} is stable`),
  /** Ready at zero: `scaleMessage` says why it is there (idle, or starting). */
  atZero: (revision: string, scaleMessage: string) =>
    reasoned(
      Reason.ScaledToZero,
      `revision ${revision} runs no pod; the router holds its requests and starts it (${scaleMessage})`,
    ),
  /** Ready and Stalled of an invalid spec, and its Event: every error, with the field it is about. */
  invalidSpec: (errors: { path: string; message: string }[]) =>
    reasoned(Reason.InvalidSpec, errors.map((e) => `${e.path}: ${e.message}`).join('; ')),
  /** Reconciling of an invalid spec. */
  invalidSpecUnchanged: () => reasoned(Reason.InvalidSpec, 'the spec is invalid; nothing was changed'),

  /** DataDrift True: the revision, each PSI at or above the threshold, and the feature. */
  driftDetected: (m: RevisionMonitoringStatus, threshold: number) =>
    reasoned(
      Reason.DriftDetected,
      `revision ${m.revision}: ${psiFigures(m, threshold)} above the threshold ${threshold}`,
    ),
  /** DataDrift False: the stable's figures, or why there are none yet. */
  noDrift: (revision: string, m: RevisionMonitoringStatus | undefined, threshold: number) =>
    reasoned(
      Reason.NoDrift,
      m?.inputPsi === undefined && m?.outputPsi === undefined
        ? `revision ${revision}: no PSI yet (the routers' live window is not full)`
        : `revision ${revision}: ${psiFigures(m, 0)} within the threshold ${threshold}`,
    ),

  // Events only.
  /** DataDrift turned False: what the condition says now. */
  driftResolved: (conditionMessage: string) => reasoned(Reason.DriftResolved, conditionMessage),
  revisionReady: (readyMessage: string) => reasoned(Reason.RevisionReady, readyMessage),
  action: (refused: boolean, message: string) =>
    reasoned(refused ? Reason.ActionRefused : Reason.ActionHandled, message),
  applyFailed: (error: Error) => reasoned(Reason.ApplyFailed, error.message),
  rollbackWebhook: (name: string, revision: string, answer: string) =>
    reasoned(Reason.RollbackWebhook, `Rollback webhook ${name} told of the rollback of ${revision}: ${answer}`),
  /** One decision of request autoscaling: the revision, from → to, and the figures behind it. */
  scaled: (reason: ScaleEventReason, revision: string, from: number, to: number, figures: string) =>
    reasoned(reason, `revision ${revision}: ${from} → ${to} replica(s): ${figures}`),
} satisfies Record<string, (...args: never[]) => Reasoned>;

/**
 * "input PSI 0.31 on feature input[3] and output PSI 0.27": the figures at or above `floor` (every
 * known one when none is, as rounding can take a figure just below the threshold).
 */
function psiFigures(m: RevisionMonitoringStatus, floor: number): string {
  const input =
    m.inputPsi === undefined
      ? undefined
      : `input PSI ${m.inputPsi}${m.feature !== undefined ? ` on feature ${m.feature}` : ''}`;
  const output = m.outputPsi === undefined ? undefined : `output PSI ${m.outputPsi} (predicted classes)`;
  const above = [
    m.inputPsi !== undefined && m.inputPsi >= floor ? input : undefined,
    m.outputPsi !== undefined && m.outputPsi >= floor ? output : undefined,
  ].filter((x) => x !== undefined);
  return (above.length > 0 ? above : [input, output].filter((x) => x !== undefined)).join(' and ');
}

function reasoned<R extends Reason>(reason: R, message: string): Reasoned<R> {
  return { reason, message };
}
