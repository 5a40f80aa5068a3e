import type { ModelDeploymentStatus } from './api/types.js';
import { planEvents, transitionEvents } from './reconcile.js';
import type { RolloutPlan } from './rollout/plan.js';

const cond = (type: string, status: 'True' | 'False', reason = 'R', message = 'm') => ({
  type,
  status,
  reason,
  message,
  lastTransitionTime: '2026-01-01T00:00:00Z',
});
const st = (
  ready: 'True' | 'False',
  stalled: 'True' | 'False',
  stalledReason = 'NoProblems',
  revision = 'abc',
): ModelDeploymentStatus => ({
  conditions: [
    cond('Ready', ready, 'Available', `revision ${revision} serves`),
    cond('Stalled', stalled, stalledReason, `why ${stalledReason}`),
  ],
  stable: { revision, model: { uri: 'file:///m', sha256: 'x' }, readyReplicas: 1 },
});

describe('transitionEvents', () => {
  it.each([
    ['first Ready', undefined, st('True', 'False'), ['Normal RevisionReady']],
    ['still Ready: nothing', st('True', 'False'), st('True', 'False'), []],
    [
      'Ready on a new revision',
      st('True', 'False'),
      st('True', 'False', 'NoProblems', 'def'),
      ['Normal RevisionReady'],
    ],
    ['becomes Stalled', st('False', 'False'), st('False', 'True', 'ImagePullFailed'), ['Warning ImagePullFailed']],
    [
      'stays Stalled for the same reason: nothing',
      st('False', 'True', 'CrashLoop'),
      st('False', 'True', 'CrashLoop'),
      [],
    ],
    [
      'Stalled for a new reason',
      st('False', 'True', 'CrashLoop'),
      st('False', 'True', 'DigestMismatch'),
      ['Warning DigestMismatch'],
    ],
    ['not Ready, not Stalled: nothing', undefined, st('False', 'False'), []],
  ])('%s', (_name, before, after, expected) => {
    expect(transitionEvents(before, after).map((e) => `${e.type} ${e.reason}`)).toEqual(expected);
  });
});

describe('planEvents', () => {
  const base = { transition: undefined } as unknown as RolloutPlan;
  const promoted = {
    outcome: 'Promoted',
    revision: 'b',
    previous: 'a',
    reason: 'Promoted',
    message: 'candidate b takes 100%',
  } as const;
  it.each<[string, Partial<RolloutPlan>, string[]]>([
    ['nothing happened', {}, []],
    [
      'a step started',
      { canaryTransition: { to: 'Progressing', step: 0, reason: 'StepStarted', message: 'step 1/2' } },
      ['Normal StepStarted'],
    ],
    [
      'promoted: one Event, not two',
      { transition: promoted, canaryTransition: { to: 'Promoted', step: 1, reason: 'Promoted', message: 'passed' } },
      ['Normal Promoted'],
    ],
    [
      'rolled back: a Warning with the reason',
      {
        transition: {
          outcome: 'RolledBack',
          revision: 'b',
          previous: 'a',
          reason: 'ErrorRateExceeded',
          message: 'error rate 25% > 1%',
        },
        canaryTransition: {
          from: 'Progressing',
          to: 'RolledBack',
          step: 0,
          reason: 'ErrorRateExceeded',
          message: 'error rate 25% > 1%',
        },
      },
      ['Warning ErrorRateExceeded'],
    ],
    ['an action handled', { actionMessage: 'candidate b promoted by action promote@1' }, ['Normal ActionHandled']],
    [
      'an action refused',
      { actionMessage: 'action promote@1 refused: candidate b is not available', actionRefused: true },
      ['Warning ActionRefused'],
    ],
  ])('%s', (_name, plan, expected) => {
    expect(planEvents({ ...base, ...plan } as RolloutPlan).map((e) => `${e.type} ${e.reason}`)).toEqual(expected);
  });
});
