import type { CanaryPhase, Condition, ModelDeploymentStatus } from '../api/types.js';
import { summaryOf } from './summary.js';

/** A condition from `<status> <reason>`. */
const cond = (type: string, statusAndReason: string): Condition => {
  const [status, reason] = statusAndReason.split(' ') as [Condition['status'], string];
  return { type, status, reason, message: '', lastTransitionTime: '2026-11-21T06:00:00Z' };
};
/** A status from Ready, Reconciling and Stalled as `<status> <reason>`, a canary as `<phase> <reason> <weight>`. */
function status(ready: string, reconciling: string, stalled: string, canary?: string): ModelDeploymentStatus {
  const out: ModelDeploymentStatus = {
    conditions: [cond('Ready', ready), cond('Reconciling', reconciling), cond('Stalled', stalled)],
  };
  if (canary) {
    const [phase, reason, weight] = canary.split(' ') as [CanaryPhase, string, string];
    const model = { uri: 'u', sha256: 's' };
    out.canary = { revision: 'bbbbbbbbbb', model, phase, weight: Number(weight), step: 0, readyReplicas: 1, reason };
  }
  return out;
}
const READY = 'True Available';
const OK = 'False NoProblems';

describe('summaryOf: what kubectl get shows', () => {
  it.each<[string, ModelDeploymentStatus, object]>([
    ['settled', status(READY, 'False Reconciled', OK), { phase: 'Stable' }],
    ['creating', status('False Creating', 'True Creating', OK), { phase: 'Reconciling', reason: 'Creating' }],
    [
      'router starting, converged',
      status('False RouterStarting', 'False Reconciled', OK),
      { phase: 'Stable', reason: 'RouterStarting' },
    ],
    [
      'the stable cannot pull its image',
      status('False ImagePullFailed', 'False Stalled', 'True ImagePullFailed'),
      { phase: 'Stalled', reason: 'ImagePullFailed' },
    ],
    [
      'a live canary: its revision, weight, phase and reason',
      status(READY, 'True Progressing', OK, 'Progressing StepInProgress 10'),
      { phase: 'Progressing', reason: 'StepInProgress', canary: 'bbbbbbbbbb', weight: 10 },
    ],
    [
      'paused by the progress deadline: the Stalled reason',
      status(READY, 'False Stalled', 'True RolloutDeadlineExceeded', 'Paused RolloutDeadlineExceeded 10'),
      { phase: 'Paused', reason: 'RolloutDeadlineExceeded', canary: 'bbbbbbbbbb', weight: 10 },
    ],
    [
      'rolled back: no canary column, the cause as the reason',
      status(READY, 'False Stalled', 'True ErrorRateExceeded', 'RolledBack ErrorRateExceeded 0'),
      { phase: 'RolledBack', reason: 'ErrorRateExceeded' },
    ],
    [
      'rolled back by a spec revert (not Stalled)',
      status(READY, 'False Reconciled', OK, 'RolledBack SpecReverted 0'),
      { phase: 'RolledBack', reason: 'SpecReverted' },
    ],
    [
      'an invalid spec over a live canary: the canary is where it was, the reason is the spec',
      status('False InvalidSpec', 'False InvalidSpec', 'True InvalidSpec', 'Progressing StepInProgress 50'),
      { phase: 'Progressing', reason: 'InvalidSpec', canary: 'bbbbbbbbbb', weight: 50 },
    ],
  ])('%s', (_name, s, summary) => {
    expect(summaryOf(s)).toEqual(summary);
  });
});
