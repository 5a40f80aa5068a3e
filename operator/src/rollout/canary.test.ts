import type { ModelDeploymentSpec, ProgressDeadlinePolicy, WebhookSpec, WebhookType } from '../api/types.js';
import type { MetricAnswer } from './metrics.js';
import type { WebhookResult } from './webhooks.js';
import { parseAction, type RolloutAction } from './canary-action.js';
import {
  checkDue,
  DEFAULT_ON_PROGRESS_DEADLINE,
  DEFAULT_PROGRESS_DEADLINE_SECONDS,
  nextCanary,
  replicasForShare,
  type CanaryCheck,
  type CanaryDecision,
  type CanaryInput,
  type CanaryState,
  type CheckAnswers,
} from './canary.js';
import type { ContractCheck } from './contract.js';
import { openApiSchemaOf, readCrd } from '../api/schema.js';

/** The part of an OpenAPI schema node the defaults test walks. */
interface CrdNode {
  default?: unknown;
  properties: Record<string, CrdNode | undefined>;
}

const T0 = Date.parse('2026-11-21T06:00:00.000Z');
const at = (s: number) => new Date(T0 + s * 1000);
const STABLE = 'aaaaaaaaaa';
const CANDIDATE = 'bbbbbbbbbb';
const OTHER = 'cccccccccc';
const COMPATIBLE: ContractCheck = {
  status: 'Compatible',
  differences: [],
  message: 'inputs and outputs match the stable revision',
};
const UNKNOWN: ContractCheck = {
  status: 'Unknown',
  differences: [],
  message: 'model metadata of the candidate not known yet',
};
const BROKEN: ContractCheck = {
  status: 'Incompatible',
  differences: ['input input: shape [-1,64] → [-1,32]'],
  message: 'candidate breaks the stable contract: input input: shape [-1,64] → [-1,32]',
};

const SPEC: ModelDeploymentSpec = {
  model: { uri: 'file:///models/digits.onnx', sha256: 'b'.repeat(64) },
  replicas: 4,
  rollout: {
    steps: [
      { weight: 10, pauseSeconds: 30 },
      { weight: 50, pauseSeconds: 60 },
    ],
    analysis: { intervalSeconds: 10, failureLimit: 2 },
  },
};

function action(raw: string): RolloutAction {
  const parsed = parseAction(raw);
  if ('error' in parsed) throw new Error(parsed.error);
  return parsed.action;
}

/** A check result whose window began at second `from`. */
function check(
  result: CanaryCheck['result'],
  from?: number,
  message = result === 'Passed'
    ? '120 requests, error rate 0%'
    : result === 'Failed'
      ? 'error rate 4.2% > 1%'
      : '3 requests < 50 minimum',
): CanaryCheck {
  return from === undefined ? { result, message } : { result, message, window: { from: at(from).toISOString() } };
}

/**
 * Drives the state machine like the shell: each reconcile feeds back the previous decision's state,
 * and the serving stable follows the decision (a promotion swaps it).
 */
class Rollout {
  state: CanaryState | undefined;
  stable = STABLE;
  decision!: CanaryDecision;

  constructor(readonly base: Omit<CanaryInput, 'previous' | 'now' | 'stable'> & { stable?: string }) {
    if (base.stable) this.stable = base.stable;
  }

  at(seconds: number, extra: Partial<CanaryInput> = {}): CanaryDecision {
    const input: CanaryInput = { ...this.base, stable: this.stable, now: at(seconds), ...extra };
    if (this.state) input.previous = this.state;
    this.decision = nextCanary(input);
    this.state = this.decision.state;
    this.stable = this.decision.stableRevision;
    return this.decision;
  }

  /**
   * As the shell decides: while the decision names metrics or webhooks due, answers them (metrics
   * with `metrics`) and decides again on the same input; what was asked, in order.
   */
  withWebhooks(
    seconds: number,
    answer: (type: WebhookType) => WebhookResult[],
    extra: Partial<CanaryInput> = {},
    metrics: MetricAnswer[] = [],
  ): (WebhookType | 'Metrics')[] {
    const input: CanaryInput = { ...this.base, stable: this.stable, now: at(seconds), ...extra };
    if (this.state) input.previous = this.state;
    const answers: CheckAnswers = { webhooks: {} };
    const called: (WebhookType | 'Metrics')[] = [];
    let d = nextCanary(input);
    for (;;) {
      if (d.metricsDue && answers.metrics === undefined) {
        called.push('Metrics');
        answers.metrics = metrics;
      } else if (d.webhooksDue !== undefined && answers.webhooks![d.webhooksDue] === undefined) {
        called.push(d.webhooksDue);
        answers.webhooks![d.webhooksDue] = answer(d.webhooksDue);
      } else break;
      d = nextCanary({ ...input, ...answers });
    }
    this.decision = d;
    this.state = d.state;
    this.stable = d.stableRevision;
    return called;
  }

  get candidateWeight(): number | undefined {
    return this.decision.weights.find((w) => w.revision === this.state?.revision)?.percent;
  }
}

const base = (over: Partial<CanaryInput> = {}) => ({
  spec: SPEC,
  candidate: CANDIDATE,
  contract: COMPATIBLE,
  candidateAvailable: true,
  candidatePods: { available: 4, atFullScale: true },
  ...over,
});

describe('nextCanary: warming up', () => {
  it('holds a new candidate at weight 0 until it is available, sized for its first step', () => {
    const r = new Rollout(base({ candidateAvailable: false }));
    const d = r.at(0);
    expect(d.state).toMatchObject({ revision: CANDIDATE, phase: 'Pending', step: -1, weight: 0, reason: 'Starting' });
    expect(d.weights).toEqual([
      { revision: STABLE, percent: 100 },
      { revision: CANDIDATE, percent: 0 },
    ]);
    expect(d.candidateReplicas).toBe(1);
    expect(d.transition).toMatchObject({ to: 'Pending', reason: 'Starting' });
    expect(d.requeueAfterSeconds).toBe(10);
    expect(d.stalled).toBeUndefined();
  });

  it('waits for the contract check, then starts step 1 at its weight', () => {
    const r = new Rollout(base({ contract: UNKNOWN }));
    expect(r.at(0).state).toMatchObject({ phase: 'Pending', reason: 'ContractUnknown' });
    const d = r.at(5, { contract: COMPATIBLE });
    expect(d.state).toMatchObject({
      phase: 'Progressing',
      step: 0,
      weight: 10,
      stepStartedAt: at(5).toISOString(),
      reason: 'StepStarted',
    });
    expect(d.weights).toEqual([
      { revision: STABLE, percent: 90 },
      { revision: CANDIDATE, percent: 10 },
    ]);
    expect(d.transition).toMatchObject({ from: 'Pending', to: 'Progressing', step: 0 });
    expect(d.requeueAfterSeconds).toBe(1);
  });

  it('rolls back a candidate whose contract breaks before it gets any traffic, and restarts it once allowed', () => {
    const r = new Rollout(base({ contract: BROKEN }));
    const d = r.at(0);
    expect(d.state).toMatchObject({ phase: 'RolledBack', weight: 0, reason: 'ContractMismatch' });
    expect(d.stalled).toMatchObject({ reason: 'ContractMismatch' });
    expect(d.stalled!.message).toContain('input input: shape [-1,64] → [-1,32]');
    expect(r.at(30).state).toMatchObject({ phase: 'RolledBack' });
    const allowed = r.at(40, { contract: { ...BROKEN, status: 'Allowed', message: 'contract change allowed' } });
    expect(allowed.state).toMatchObject({ phase: 'Progressing', step: 0, weight: 10 });
    expect(allowed.stalled).toBeUndefined();
  });

  it('rolls back a candidate with a fatal problem, naming it', () => {
    const r = new Rollout(base({ candidateAvailable: false }));
    r.at(0);
    const d = r.at(20, { candidateProblem: { reason: 'ModelVerificationFailed', message: 'sha256 mismatch' } });
    expect(d.state).toMatchObject({ phase: 'RolledBack', reason: 'ModelVerificationFailed' });
    expect(d.state!.message).toContain('sha256 mismatch');
    expect(d.candidateReplicas).toBe(0);
  });
});

describe('nextCanary: steps and analysis', () => {
  it('advances only after the pause AND a check passed inside the step, then promotes', () => {
    const r = new Rollout(base());
    r.at(0);
    expect(r.at(10, { check: check('Passed', 0) }).state).toMatchObject({ step: 0, reason: 'StepInProgress' });
    expect(r.state!.message).toBe('step 1/2 (10%): 20s of the pause left');
    // Pause over, but the latest check was inconclusive: hold.
    expect(r.at(30, { check: check('Inconclusive', 20) }).state).toMatchObject({
      step: 0,
      weight: 10,
      reason: 'InsufficientTraffic',
    });
    const d = r.at(40, { check: check('Passed', 30) });
    expect(d.state).toMatchObject({ phase: 'Progressing', step: 1, weight: 50, reason: 'StepPassed' });
    expect(d.transition).toMatchObject({ from: 'Progressing', to: 'Progressing', step: 1 });
    // A pass whose window began before this step does not count for it.
    expect(r.at(100, { check: check('Passed', 30) }).state).toMatchObject({ step: 1 });
    const promoted = r.at(110, { check: check('Passed', 100) });
    expect(promoted.state).toMatchObject({ phase: 'Promoted', weight: 100, reason: 'Promoted' });
    expect(promoted.stableRevision).toBe(CANDIDATE);
    expect(promoted.weights).toEqual([
      { revision: CANDIDATE, percent: 100 },
      { revision: STABLE, percent: 0 },
    ]);
    expect(promoted.candidateReplicas).toBe(4);
    expect(promoted.requeueAfterSeconds).toBeUndefined();
  });

  it('rolls back a candidate whose labels show it inaccurate as AccuracyTooLow', () => {
    const r = new Rollout(base());
    r.at(0);
    const inaccurate = (from: number) => ({
      check: {
        ...check('Failed', from, 'accuracy 0.44% < 90% (1/228 labelled rows right) (stable 97.33%)'),
        broken: ['accuracy' as const],
      },
    });
    r.at(10, inaccurate(0));
    const d = r.at(20, inaccurate(10));
    expect(d.state).toMatchObject({ phase: 'RolledBack', weight: 0, reason: 'AccuracyTooLow' });
    expect(d.stalled!.message).toContain('accuracy 0.44% < 90%');
  });

  it('does not advance before the pause ends, however good the checks', () => {
    const r = new Rollout(base());
    r.at(0);
    r.at(10, { check: check('Passed', 0) });
    expect(r.at(20, { check: check('Passed', 10) }).state).toMatchObject({ step: 0 });
    expect(r.decision.requeueAfterSeconds).toBe(10);
  });

  it('rolls back at failureLimit failed checks: weight 0 at once, Stalled with every reason', () => {
    const r = new Rollout(base());
    r.at(0);
    expect(r.at(10, { check: check('Failed', 0) }).state).toMatchObject({
      phase: 'Progressing',
      failures: 1,
      weight: 10,
    });
    const d = r.at(20, { check: check('Failed', 10, 'error rate 4.2% > 1%; p99 latency 312ms > 250ms') });
    expect(d.state).toMatchObject({ phase: 'RolledBack', failures: 2, weight: 0, reason: 'AnalysisFailed' });
    expect(d.weights).toEqual([
      { revision: STABLE, percent: 100 },
      { revision: CANDIDATE, percent: 0 },
    ]);
    expect(d.stalled!.message).toContain('error rate 4.2% > 1%; p99 latency 312ms > 250ms');
    expect(d.transition).toMatchObject({ from: 'Progressing', to: 'RolledBack', reason: 'AnalysisFailed' });
    expect(d.candidateReplicas).toBe(0);
    // Stays rolled back (and Stalled) while the spec still asks for it, even when it looks fine.
    const later = r.at(100, { check: check('Passed', 90) });
    expect(later.state).toMatchObject({ phase: 'RolledBack' });
    expect(later.stalled).toBeDefined();
    expect(later.transition).toBeUndefined();
  });

  it('never counts inconclusive as a pass: reports InsufficientTraffic and the deadline ahead, resumes on a pass', () => {
    const r = new Rollout(base());
    r.at(0);
    expect(r.at(10, { check: check('Inconclusive', 0) }).state).toMatchObject({
      phase: 'Progressing',
      step: 0,
      weight: 10,
      reason: 'InsufficientTraffic',
      inconclusive: 1,
      inconclusiveSince: at(10).toISOString(),
    });
    let t = 10;
    while (t < 300) r.at((t += 10), { check: check('Inconclusive', t - 10) });
    expect(r.state).toMatchObject({ phase: 'Progressing', inconclusive: 30, inconclusiveSince: at(10).toISOString() });
    expect(r.state!.message).toBe(
      'step 1/2 (10%): 30 inconclusive check(s) in a row (3 requests < 50 minimum); holding until a check passes, ' +
        'onProgressDeadline Pause in 310s',
    );
    expect(r.decision.stalled).toBeUndefined();
    const d = r.at((t += 10), { check: check('Passed', t - 10) });
    expect(d.state).toMatchObject({ phase: 'Progressing', step: 1, weight: 50, inconclusive: 0 });
    expect(d.state!.inconclusiveSince).toBeUndefined();
  });

  it('mirrors to measure agreement during steps when minAgreement is set, and sizes replicas for both', () => {
    const spec = { ...SPEC, rollout: { ...SPEC.rollout, analysis: { minAgreement: 0.98 } } };
    const d = new Rollout(base({ spec })).at(0);
    expect(d.mirror).toEqual({ revision: CANDIDATE, percent: 10 });
    // 10% live + 10% of the stable's 90% mirrored = 19% of 4 replicas → 1.
    expect(d.candidateReplicas).toBe(1);
  });
});

describe('nextCanary: the progress deadline', () => {
  it('defaults as the CRD does: what the API server fills in is what the state machine assumes', () => {
    const rollout = (openApiSchemaOf(readCrd()) as unknown as CrdNode).properties.spec!.properties.rollout!.properties;
    expect([rollout.progressDeadlineSeconds!.default, rollout.onProgressDeadline!.default]).toEqual([
      DEFAULT_PROGRESS_DEADLINE_SECONDS,
      DEFAULT_ON_PROGRESS_DEADLINE,
    ]);
  });

  const withDeadline = (over: Partial<NonNullable<ModelDeploymentSpec['rollout']>>): ModelDeploymentSpec => ({
    ...SPEC,
    rollout: { ...SPEC.rollout, ...over },
  });
  /** Inconclusive checks every 10 s from second `from` to second `to`, each over the 10 s before it. */
  function inconclusiveUntil(r: Rollout, from: number, to: number, extra: Partial<CanaryInput> = {}): CanaryDecision {
    for (let t = from; t <= to; t += 10) r.at(t, { check: check('Inconclusive', t - 10), ...extra });
    return r.decision;
  }

  it.each<[ProgressDeadlinePolicy, Partial<CanaryState> & { phase: string }, number, boolean]>([
    ['Pause', { phase: 'Paused', step: 0, weight: 10 }, 10, true],
    ['Rollback', { phase: 'RolledBack', weight: 0 }, 0, true],
    ['Promote', { phase: 'Promoted', weight: 100 }, 100, false],
  ])('%s: progressDeadlineSeconds after the first inconclusive check', (policy, state, weight, stalled) => {
    const spec = withDeadline({ progressDeadlineSeconds: 120, onProgressDeadline: policy });
    const r = new Rollout(base({ spec }));
    r.at(0);
    // The clock starts at the first inconclusive check (second 10): at 120 it has run 110 s.
    const before = inconclusiveUntil(r, 10, 120);
    expect(before.state).toMatchObject({ phase: 'Progressing', reason: 'InsufficientTraffic' });
    expect(before.state!.message).toMatch(new RegExp(`onProgressDeadline ${policy} in 10s$`));
    expect(before.requeueAfterSeconds).toBe(10);
    const d = r.at(130, { check: check('Inconclusive', 120) });
    expect(d.state).toMatchObject({ ...state, reason: 'RolloutDeadlineExceeded' });
    expect(d.state!.message).toContain(
      'no check could be judged (last: 3 requests < 50 minimum) for 120s (spec.rollout.progressDeadlineSeconds)',
    );
    expect(d.state!.message).toContain(`onProgressDeadline ${policy}`);
    expect(d.weights.find((w) => w.revision === CANDIDATE)?.percent).toBe(weight);
    expect(d.transition).toMatchObject({ from: 'Progressing', to: state.phase, reason: 'RolloutDeadlineExceeded' });
    expect(d.stalled === undefined).toBe(!stalled);
    if (stalled) expect(d.stalled).toMatchObject({ reason: 'RolloutDeadlineExceeded' });
    if (policy === 'Promote') expect(d.stableRevision).toBe(CANDIDATE);
  });

  it('Pause holds and keeps checking: a pass resumes the steps, failed checks still roll back', () => {
    const spec = withDeadline({ progressDeadlineSeconds: 60 });
    const r = new Rollout(base({ spec }));
    r.at(0);
    expect(inconclusiveUntil(r, 10, 80).state).toMatchObject({ phase: 'Paused', reason: 'RolloutDeadlineExceeded' });
    // Still held, still Stalled, and no new transition while nothing changes.
    const held = inconclusiveUntil(r, 90, 200);
    expect(held.state).toMatchObject({ phase: 'Paused', weight: 10 });
    expect(held.stalled).toMatchObject({ reason: 'RolloutDeadlineExceeded' });
    expect(held.transition).toBeUndefined();
    const resumed = r.at(210, { check: check('Passed', 200) });
    expect(resumed.state).toMatchObject({ phase: 'Progressing', step: 1, weight: 50 });
    expect(resumed.stalled).toBeUndefined();

    const failing = new Rollout(base({ spec }));
    failing.at(0);
    inconclusiveUntil(failing, 10, 80);
    expect(failing.at(90, { check: check('Failed', 80) }).state).toMatchObject({ phase: 'Progressing', failures: 1 });
    expect(failing.at(100, { check: check('Failed', 90) }).state).toMatchObject({
      phase: 'RolledBack',
      reason: 'AnalysisFailed',
    });
  });

  it('counts only unbroken time without a verdict: a failed check, a new step or a hold resets it', () => {
    const spec = withDeadline({ progressDeadlineSeconds: 100, analysis: { intervalSeconds: 10, failureLimit: 5 } });
    const r = new Rollout(base({ spec }));
    r.at(0);
    inconclusiveUntil(r, 10, 90);
    // A failed check is a verdict: the clock stops, and starts again at the next inconclusive one.
    expect(r.at(100, { check: check('Failed', 90) }).state!.inconclusiveSince).toBeUndefined();
    expect(inconclusiveUntil(r, 110, 200).state).toMatchObject({
      phase: 'Progressing',
      inconclusiveSince: at(110).toISOString(),
    });
    // spec.rollout.paused holds it: no clock while held, a fresh one after.
    const paused = withDeadline({ progressDeadlineSeconds: 100, paused: true });
    expect(inconclusiveUntil(r, 210, 400, { spec: paused }).state).toMatchObject({ phase: 'Paused' });
    expect(r.state!.inconclusiveSince).toBeUndefined();
    expect(inconclusiveUntil(r, 410, 500).state).toMatchObject({
      phase: 'Progressing',
      inconclusiveSince: at(410).toISOString(),
    });
    // A pass starts step 2 with no clock.
    r.at(510, { check: check('Passed', 500) });
    expect(r.state).toMatchObject({ step: 1 });
    expect(r.state!.inconclusiveSince).toBeUndefined();
  });

  it('wakes up for the deadline itself when checks are further apart', () => {
    const spec = withDeadline({ progressDeadlineSeconds: 90, analysis: { intervalSeconds: 60 } });
    const r = new Rollout(base({ spec }));
    r.at(0);
    r.at(60, { check: check('Inconclusive', 0) });
    // Next check at 120, the deadline at 150: wake for the check; then for the deadline, before the check at 180.
    expect(r.decision.requeueAfterSeconds).toBe(60);
    r.at(120, { check: check('Inconclusive', 60) });
    expect(r.decision.requeueAfterSeconds).toBe(30);
    expect(r.at(150).state).toMatchObject({ phase: 'Paused', reason: 'RolloutDeadlineExceeded' });
  });

  it.each<[ProgressDeadlinePolicy, string]>([
    ['Pause', 'Pending'],
    ['Promote', 'Pending'],
    ['Rollback', 'RolledBack'],
  ])('an unreadable contract for the deadline, %s: %s', (policy, phase) => {
    const spec = withDeadline({ progressDeadlineSeconds: 60, onProgressDeadline: policy });
    const r = new Rollout(base({ spec, contract: UNKNOWN }));
    // Pods that do not start are not the rollout deadline's business.
    expect(r.at(0, { candidateAvailable: false }).state!.inconclusiveSince).toBeUndefined();
    expect(r.at(10).state).toMatchObject({ phase: 'Pending', inconclusiveSince: at(10).toISOString() });
    expect(r.state!.message).toBe(
      `waiting for the contract check: ${UNKNOWN.message}; onProgressDeadline ${policy} in 60s`,
    );
    expect(r.at(60).state).toMatchObject({ phase: 'Pending', reason: 'ContractUnknown' });
    const d = r.at(70);
    expect(d.state).toMatchObject({ phase, weight: 0, reason: 'RolloutDeadlineExceeded' });
    expect(d.state!.message).toContain('the contract gate could not read the model metadata');
    expect(d.stalled).toMatchObject({ reason: 'RolloutDeadlineExceeded' });
    if (policy === 'Promote') expect(d.state!.message).toContain('a promotion never skips the contract gate');
    if (phase === 'Pending') {
      // Read at last: step 1 starts and the stall clears.
      const read = r.at(80, { contract: COMPATIBLE });
      expect(read.state).toMatchObject({ phase: 'Progressing', step: 0 });
      expect(read.stalled).toBeUndefined();
    }
  });
});

describe('nextCanary: shadow first', () => {
  const spec: ModelDeploymentSpec = {
    ...SPEC,
    rollout: { ...SPEC.rollout, shadowFirst: { percent: 100, seconds: 60 }, analysis: { minAgreement: 0.98 } },
  };

  it('mirrors at live weight 0 for the shadow time, then goes live once a shadow check passed', () => {
    const r = new Rollout(base({ spec }));
    const d = r.at(0);
    expect(d.state).toMatchObject({
      phase: 'Shadow',
      step: -1,
      weight: 0,
      mirrorPercent: 100,
      reason: 'ShadowStarted',
    });
    expect(d.weights).toEqual([
      { revision: STABLE, percent: 100 },
      { revision: CANDIDATE, percent: 0 },
    ]);
    expect(d.mirror).toEqual({ revision: CANDIDATE, percent: 100 });
    expect(d.candidateReplicas).toBe(4);
    expect(r.at(50, { check: check('Passed', 40) }).state).toMatchObject({ phase: 'Shadow' });
    const live = r.at(60);
    expect(live.state).toMatchObject({ phase: 'Progressing', step: 0, weight: 10, reason: 'ShadowPassed' });
  });

  it('rolls back a disagreeing candidate during the shadow, before any live request reached it', () => {
    const r = new Rollout(base({ spec }));
    r.at(0);
    r.at(10, { check: check('Failed', 0, 'agreement 90% < 98%') });
    const d = r.at(20, { check: check('Failed', 10, 'agreement 88% < 98%') });
    expect(d.state).toMatchObject({ phase: 'RolledBack', reason: 'AnalysisFailed' });
    expect(d.state!.message).toContain('agreement 88% < 98%');
    expect(d.mirror).toBeUndefined();
  });
});

describe('nextCanary: manual control', () => {
  it('spec.rollout.paused holds the weight, but failed checks still roll back', () => {
    const paused = { ...SPEC, rollout: { ...SPEC.rollout, paused: true } };
    const r = new Rollout(base());
    r.at(0);
    const held = r.at(40, { spec: paused, check: check('Passed', 30) });
    expect(held.state).toMatchObject({ phase: 'Paused', step: 0, weight: 10, reason: 'PausedBySpec' });
    expect(r.at(50, { spec: paused, check: check('Failed', 40) }).state).toMatchObject({
      phase: 'Paused',
      failures: 1,
    });
    expect(r.at(60, { spec: paused, check: check('Failed', 50) }).state).toMatchObject({
      phase: 'RolledBack',
      reason: 'AnalysisFailed',
    });
  });

  it('resumes where it was when unpaused', () => {
    const paused = { ...SPEC, rollout: { ...SPEC.rollout, paused: true } };
    const r = new Rollout(base());
    r.at(0);
    r.at(40, { spec: paused, check: check('Passed', 30) });
    expect(r.at(45).state).toMatchObject({ phase: 'Progressing', step: 1, weight: 50 });
  });

  it('holds a paused spec at weight 0 once available', () => {
    const paused = { ...SPEC, rollout: { ...SPEC.rollout, paused: true } };
    expect(new Rollout(base({ spec: paused })).at(0).state).toMatchObject({
      phase: 'Pending',
      weight: 0,
      reason: 'PausedBySpec',
    });
  });

  it('a fixed weight holds exactly that split; removing it resumes the steps', () => {
    const r = new Rollout(base());
    r.at(0);
    const d = r.at(10, { fixedWeight: 25 });
    expect(d.state).toMatchObject({ phase: 'Paused', weight: 25, reason: 'ManualWeight' });
    expect(d.weights).toEqual([
      { revision: STABLE, percent: 75 },
      { revision: CANDIDATE, percent: 25 },
    ]);
    expect(d.candidateReplicas).toBe(1);
    expect(r.at(100, { fixedWeight: 25, check: check('Passed', 90) }).state).toMatchObject({
      phase: 'Paused',
      weight: 25,
    });
    expect(r.at(110).state).toMatchObject({
      phase: 'Progressing',
      step: 0,
      weight: 10,
      reason: 'StepResumed',
      stepStartedAt: at(110).toISOString(),
    });
  });

  it('promote promotes an available candidate at once and records the action', () => {
    const r = new Rollout(base());
    r.at(0);
    const d = r.at(5, { action: action(`promote:${CANDIDATE}@2026-11-21T0605Z`) });
    expect(d.state).toMatchObject({ phase: 'Promoted', weight: 100, reason: 'ManualPromotion' });
    expect(d.stableRevision).toBe(CANDIDATE);
    expect(d.handledAction).toBe(`promote:${CANDIDATE}@2026-11-21T0605Z`);
  });

  it('promote is refused (and still recorded) while the candidate is not available', () => {
    const r = new Rollout(base({ candidateAvailable: false }));
    const d = r.at(0, { action: action('promote@1') });
    expect(d.state).toMatchObject({ phase: 'Pending' });
    expect(d.actionMessage).toBe(`action promote@1 refused: candidate ${CANDIDATE} is not available`);
    expect(d.handledAction).toBe('promote@1');
  });

  it('ignores an action bound to another revision', () => {
    const r = new Rollout(base());
    r.at(0);
    const d = r.at(5, { action: action(`promote:${OTHER}@1`) });
    expect(d.state).toMatchObject({ phase: 'Progressing', step: 0 });
    expect(d.actionMessage).toBe(
      `action promote:${OTHER}@1 ignored: it targets revision ${OTHER}, the candidate is ${CANDIDATE}`,
    );
  });

  it.each([
    ['abort@1', 'ManualAbort'],
    ['rollback@1', 'ManualRollback'],
  ])('%s sets weight 0 at once (%s) and holds until retry', (raw, reason) => {
    const r = new Rollout(base());
    r.at(0);
    const d = r.at(5, { action: action(raw) });
    expect(d.state).toMatchObject({ phase: 'RolledBack', weight: 0, reason });
    expect(d.weights[1]).toEqual({ revision: CANDIDATE, percent: 0 });
    expect(d.stalled).toMatchObject({ reason });
    expect(r.at(50).state).toMatchObject({ phase: 'RolledBack' });
    const retried = r.at(60, { action: action('retry@2') });
    expect(retried.state).toMatchObject({ phase: 'Progressing', step: 0, weight: 10, failures: 0 });
    expect(retried.stalled).toBeUndefined();
  });

  it('rollback after promotion returns to the retained revision at once, Stalled until the spec changes', () => {
    const r = new Rollout(base());
    r.at(0);
    r.at(1, { action: action('promote@1') });
    expect(r.stable).toBe(CANDIDATE);
    const d = r.at(30, { retained: STABLE, action: action('rollback@2') });
    expect(d.stableRevision).toBe(STABLE);
    expect(d.weights).toEqual([
      { revision: STABLE, percent: 100 },
      { revision: CANDIDATE, percent: 0 },
    ]);
    expect(d.state).toMatchObject({ revision: CANDIDATE, phase: 'RolledBack', reason: 'ManualRollback' });
    expect(d.stalled).toMatchObject({ reason: 'ManualRollback' });
    // Next reconcile: the plan serves the retained revision while the spec still asks for the promoted one.
    const next = r.at(31);
    expect(next.stableRevision).toBe(STABLE);
    expect(next.state).toMatchObject({ phase: 'RolledBack' });
  });

  it('ignores rollback when nothing is rolling out and nothing is retained', () => {
    const d = nextCanary({ ...base(), candidate: STABLE, stable: STABLE, now: at(0), action: action('rollback@1') });
    expect(d).toEqual({
      stableRevision: STABLE,
      weights: [{ revision: STABLE, percent: 100 }],
      handledAction: 'rollback@1',
      actionRefused: true,
      actionMessage: 'action rollback@1 ignored: no rollout in progress and no retained revision to roll back to',
    });
  });
});

describe('nextCanary: the spec moves', () => {
  it('reverting the spec to the stable model rolls back at once, without Stalled, then forgets the canary', () => {
    const r = new Rollout(base());
    r.at(0);
    const d = r.at(5, { candidate: STABLE });
    expect(d.state).toMatchObject({ revision: CANDIDATE, phase: 'RolledBack', reason: 'SpecReverted' });
    expect(d.weights).toEqual([
      { revision: STABLE, percent: 100 },
      { revision: CANDIDATE, percent: 0 },
    ]);
    expect(d.stalled).toBeUndefined();
    expect(d.transition).toMatchObject({ from: 'Progressing', to: 'RolledBack', reason: 'SpecReverted' });
    expect(r.at(6, { candidate: STABLE })).toEqual({
      stableRevision: STABLE,
      weights: [{ revision: STABLE, percent: 100 }],
    });
  });

  it('a newer revision supersedes the candidate and starts from the beginning', () => {
    const r = new Rollout(base());
    r.at(0);
    r.at(40, { check: check('Passed', 30) });
    const d = r.at(45, { candidate: OTHER });
    expect(d.state).toMatchObject({ revision: OTHER, phase: 'Progressing', step: 0, weight: 10, failures: 0 });
    expect(d.weights).toEqual([
      { revision: STABLE, percent: 90 },
      { revision: OTHER, percent: 10 },
    ]);
  });

  it('a spec changed to another revision clears a rolled-back candidate', () => {
    const r = new Rollout(base({ contract: BROKEN }));
    r.at(0);
    expect(r.at(10, { candidate: OTHER, contract: COMPATIBLE }).state).toMatchObject({
      revision: OTHER,
      phase: 'Progressing',
    });
  });
});

describe('nextCanary: webhooks', () => {
  const hook = (type: WebhookType, name = type.toLowerCase()): WebhookSpec => ({ name, type, url: 'http://h/' });
  const withHooks = (...webhooks: WebhookSpec[]): ModelDeploymentSpec => ({
    ...SPEC,
    rollout: { ...SPEC.rollout, analysis: { ...SPEC.rollout!.analysis, webhooks } },
  });
  const ok = (type: WebhookType): WebhookResult[] => [{ name: type.toLowerCase(), passed: true, message: 'HTTP 200' }];
  const refused =
    (message: string, only?: WebhookType) =>
    (type: WebhookType): WebhookResult[] =>
      only !== undefined && type !== only ? ok(type) : [{ name: type.toLowerCase(), passed: false, message }];

  it('needs no answers without webhooks of the type due', () => {
    const r = new Rollout(base({ spec: withHooks(hook('Rollback')) }));
    expect(r.withWebhooks(0, ok)).toEqual([]);
    expect(r.withWebhooks(10, ok, { check: check('Passed', 0) })).toEqual([]);
  });

  it('PreRollout gates the first traffic: asked once the candidate is available, a refusal rolls it back at weight 0', () => {
    const r = new Rollout(base({ spec: withHooks(hook('PreRollout')), candidateAvailable: false }));
    expect(r.withWebhooks(0, ok)).toEqual([]);
    expect(r.state).toMatchObject({ phase: 'Pending', reason: 'Starting' });
    // Provisional: the decision that needs the answers holds at 0% and says why.
    const provisional = nextCanary({
      ...r.base,
      stable: STABLE,
      candidateAvailable: true,
      previous: r.state!,
      now: at(5),
    });
    expect(provisional).toMatchObject({
      webhooksDue: 'PreRollout',
      state: { phase: 'Pending', reason: 'ChecksPending' },
    });
    expect(provisional.weights).toContainEqual({ revision: CANDIDATE, percent: 0 });

    const passing = new Rollout(base({ spec: withHooks(hook('PreRollout')) }));
    expect(passing.withWebhooks(0, ok)).toEqual(['PreRollout']);
    expect(passing.state).toMatchObject({ phase: 'Progressing', step: 0, weight: 10 });

    const failing = new Rollout(base({ spec: withHooks(hook('PreRollout')) }));
    expect(failing.withWebhooks(0, refused('HTTP 503'))).toEqual(['PreRollout']);
    expect(failing.state).toMatchObject({ phase: 'RolledBack', weight: 0, reason: 'WebhookFailed' });
    expect(failing.state!.message).toBe(
      `candidate ${CANDIDATE} rolled back before any traffic: PreRollout webhook prerollout failed (HTTP 503)`,
    );
    expect(failing.decision.candidateReplicas).toBe(0);
    expect(failing.decision.stalled).toMatchObject({ reason: 'WebhookFailed' });
  });

  it.each([
    ['passes with a passing check', 'Passed', true, { lastResult: 'Passed', failures: 0 }],
    [
      'never turns an inconclusive check into a pass',
      'Inconclusive',
      true,
      { lastResult: 'Inconclusive', failures: 0 },
    ],
    ['fails a passing check when it fails', 'Passed', false, { lastResult: 'Failed', failures: 1 }],
    ['fails an inconclusive check when it fails', 'Inconclusive', false, { lastResult: 'Failed', failures: 1 }],
  ] as const)('a Rollout webhook joins each check: it %s', (_, result, passed, expected) => {
    const r = new Rollout(base({ spec: withHooks(hook('Rollout', 'kpi')) }));
    expect(r.withWebhooks(0, ok)).toEqual([]);
    const answer = () => [{ name: 'kpi', passed, message: passed ? 'HTTP 200' : 'ECONNREFUSED' }];
    expect(r.withWebhooks(10, answer, { check: check(result, 0) })).toEqual(['Rollout']);
    expect(r.state).toMatchObject({ phase: 'Progressing', ...expected });
    if (!passed) {
      expect(r.state!.analysisMessage).toMatch(/^Rollout webhook kpi failed \(ECONNREFUSED\) \(analysis: /);
      expect(r.state!.passedAt).toBeUndefined();
    }
  });

  it('at failureLimit, the first broken limit names the rollback: the analysis before the webhook', () => {
    const answer = refused('HTTP 500');
    const both = new Rollout(base({ spec: withHooks(hook('Rollout')) }));
    both.at(0);
    both.withWebhooks(10, answer, { check: { ...check('Failed', 0), broken: ['errorRate'] } });
    both.withWebhooks(20, answer, { check: { ...check('Failed', 10), broken: ['errorRate'] } });
    expect(both.state).toMatchObject({ phase: 'RolledBack', reason: 'ErrorRateExceeded' });
    expect(both.state!.message).toContain('error rate 4.2% > 1%; Rollout webhook rollout failed (HTTP 500)');

    const hookOnly = new Rollout(base({ spec: withHooks(hook('Rollout')) }));
    hookOnly.at(0);
    hookOnly.withWebhooks(10, answer, { check: check('Passed', 0) });
    hookOnly.withWebhooks(20, answer, { check: check('Passed', 10) });
    expect(hookOnly.state).toMatchObject({ phase: 'RolledBack', reason: 'WebhookFailed', failures: 2 });
  });

  it('PrePromotion gates 100%: a refusal is a failed check that holds the last step until a check passes again', () => {
    const r = new Rollout(base({ spec: withHooks(hook('PrePromotion')) }));
    r.at(0);
    r.at(40, { check: check('Passed', 0) });
    expect(r.state).toMatchObject({ step: 1, weight: 50 });
    // The last pause is over and a check passed: the webhook is asked before 100%.
    expect(r.withWebhooks(110, refused('HTTP 409'), { check: check('Passed', 100) })).toEqual(['PrePromotion']);
    expect(r.state).toMatchObject({ phase: 'Progressing', step: 1, weight: 50, failures: 1, reason: 'WebhookFailed' });
    expect(r.state!.message).toBe(
      `candidate ${CANDIDATE} holds 50% short of promotion: PrePromotion webhook prepromotion failed (HTTP 409); failed checks 1 of 2 allowed, the webhook is asked again after a passing check`,
    );
    expect(r.candidateWeight).toBe(50);
    expect(r.decision.stableRevision).toBe(STABLE);
    // Not asked again without a new passing check.
    expect(r.withWebhooks(115, ok)).toEqual([]);
    expect(r.withWebhooks(120, ok, { check: check('Passed', 110) })).toEqual(['PrePromotion']);
    expect(r.state).toMatchObject({ phase: 'Promoted', weight: 100 });
    expect(r.decision.stableRevision).toBe(CANDIDATE);
  });

  it('PrePromotion refused failureLimit times rolls the candidate back', () => {
    const r = new Rollout(base({ spec: withHooks(hook('PrePromotion')) }));
    r.at(0);
    r.at(40, { check: check('Passed', 0) });
    r.withWebhooks(110, refused('no answer within 10s'), { check: check('Passed', 100) });
    r.withWebhooks(120, refused('no answer within 10s'), { check: check('Passed', 110) });
    expect(r.state).toMatchObject({ phase: 'RolledBack', weight: 0, reason: 'WebhookFailed', failures: 2 });
  });

  it('with strategy Replace, PreRollout then PrePromotion are asked before the candidate takes 100%', () => {
    const r = new Rollout(
      base({ spec: withHooks(hook('PreRollout'), hook('PrePromotion')), progression: 'immediate' }),
    );
    expect(r.withWebhooks(0, ok)).toEqual(['PreRollout', 'PrePromotion']);
    expect(r.state).toMatchObject({ phase: 'Promoted', weight: 100 });
    const refusedPromotion = new Rollout(
      base({ spec: withHooks(hook('PreRollout'), hook('PrePromotion')), progression: 'immediate' }),
    );
    refusedPromotion.withWebhooks(0, refused('HTTP 500', 'PrePromotion'));
    expect(refusedPromotion.state).toMatchObject({ phase: 'Pending', weight: 0, failures: 1, reason: 'WebhookFailed' });
  });
});

describe('nextCanary: metrics', () => {
  const orders: ModelDeploymentSpec = {
    ...SPEC,
    rollout: {
      ...SPEC.rollout,
      analysis: {
        ...SPEC.rollout!.analysis,
        metrics: [{ name: 'orders', prometheus: { address: 'http://p', query: 'q' }, thresholdRange: { min: 0.5 } }],
        webhooks: [{ name: 'kpi', type: 'Rollout', url: 'http://h/' }],
      },
    },
  };
  const ok = (): WebhookResult[] => [{ name: 'kpi', passed: true, message: 'HTTP 200' }];

  it('asks the metrics, then the Rollout webhooks, at each check and only then', () => {
    const r = new Rollout(base({ spec: orders }));
    expect(r.withWebhooks(0, ok, {}, [{ name: 'orders', value: 1 }])).toEqual([]);
    expect(r.withWebhooks(10, ok, { check: check('Passed', 0) }, [{ name: 'orders', value: 1 }])).toEqual([
      'Metrics',
      'Rollout',
    ]);
    expect(r.state).toMatchObject({ lastResult: 'Passed' });
    expect(r.state!.analysisMessage).toBe('120 requests, error rate 0%; metric orders 1');
  });

  it('no data holds the step as inconclusive and runs the deadline; out of range rolls back at failureLimit', () => {
    const r = new Rollout(base({ spec: orders }));
    r.at(0);
    r.withWebhooks(10, ok, { check: check('Passed', 0) }, [{ name: 'orders', error: 'no data' }]);
    expect(r.state).toMatchObject({ lastResult: 'Inconclusive', reason: 'InsufficientTraffic', failures: 0 });
    expect(r.state!.inconclusiveSince).toBe(at(10).toISOString());
    r.withWebhooks(20, ok, { check: check('Passed', 10) }, [{ name: 'orders', value: 0.2 }]);
    expect(r.state).toMatchObject({ lastResult: 'Failed', failures: 1, phase: 'Progressing' });
    r.withWebhooks(30, ok, { check: check('Passed', 20) }, [{ name: 'orders', value: 0.3 }]);
    expect(r.state).toMatchObject({ phase: 'RolledBack', reason: 'MetricOutOfRange', failures: 2, weight: 0 });
    expect(r.state!.message).toContain('metric orders 0.3 < min 0.5');
  });
});

describe('replicasForShare: the candidate against the stable’s current replicas', () => {
  it.each<[number, number, number]>([
    [4, 10, 1],
    [4, 50, 2],
    [5, 50, 3],
    [10, 100, 10],
    [3, 0, 1],
    [1, 10, 1],
    [9, 100, 9],
  ])('stable at %d, share %d%% → %d', (stable, share, replicas) => {
    expect(replicasForShare(stable, share)).toBe(replicas);
  });
});

describe('checkDue', () => {
  const state = (over: Partial<CanaryState>): CanaryState => ({
    revision: CANDIDATE,
    phase: 'Progressing',
    step: 0,
    weight: 10,
    mirrorPercent: 0,
    stepStartedAt: at(0).toISOString(),
    failures: 0,
    inconclusive: 0,
    reason: 'StepStarted',
    message: '',
    ...over,
  });
  it.each<[string, CanaryState | undefined, number, boolean]>([
    ['no canary', undefined, 0, false],
    ['pending', state({ phase: 'Pending' }), 0, false],
    ['rolled back', state({ phase: 'RolledBack' }), 100, false],
    ['first check of a step', state({}), 0, true],
    ['an interval after the last', state({ lastCheckAt: at(0).toISOString() }), 10, true],
    ['too soon', state({ lastCheckAt: at(0).toISOString() }), 9, false],
    ['paused rollouts are still analysed', state({ phase: 'Paused', lastCheckAt: at(0).toISOString() }), 10, true],
  ])('%s', (_name, s, seconds, due) => {
    expect(checkDue(SPEC, s, at(seconds))).toBe(due);
  });
});
