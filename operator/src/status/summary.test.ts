import type { CanaryPhase, Condition, ModelDeploymentStatus } from '../api/types.js';
import { summaryOf } from './summary.js';

const cond = (type: string, status: 'True' | 'False', reason: string): Condition => ({
  type,
  status,
  reason,
  message: '',
  lastTransitionTime: '2026-11-21T06:00:00Z',
});
/** A status with Ready, Reconciling and Stalled as `True`/`False` plus a reason each, and maybe a canary. */
function status(
  ready: [string, string],
  reconciling: [string, string],
  stalled: [string, string],
  canary?: [CanaryPhase, string, number],
): ModelDeploymentStatus {
  const out: ModelDeploymentStatus = {
    conditions: [
      cond('Ready', ready[0] as 'True', ready[1]),
      cond('Reconciling', reconciling[0] as 'True', reconciling[1]),
      cond('Stalled', stalled[0] as 'True', stalled[1]),
    ],
  };
  if (canary) {
    const [phase, reason, weight] = canary;
    out.canary = {
      revision: 'bbbbbbbbbb',
      model: { uri: 'u', sha256: 's' },
      phase,
      weight,
      step: 0,
      readyReplicas: 1,
      reason,
    };
  }
  return out;
}
const OK = ['False', 'NoProblems'] as [string, string];

describe('summaryOf: what kubectl get shows', () => {
  it.each<[string, ModelDeploymentStatus, object]>([
    ['settled', status(['True', 'Available'], ['False', 'Reconciled'], OK), { phase: 'Stable' }],
    ['creating', status(['False', 'Creating'], ['True', 'Creating'], OK), { phase: 'Reconciling', reason: 'Creating' }],
    [
      'router starting, converged',
      status(['False', 'RouterStarting'], ['False', 'Reconciled'], OK),
      { phase: 'Stable', reason: 'RouterStarting' },
    ],
    [
      'the stable cannot pull its image',
      status(['False', 'ImagePullFailed'], ['False', 'Stalled'], ['True', 'ImagePullFailed']),
      { phase: 'Stalled', reason: 'ImagePullFailed' },
    ],
    [
      'a live canary: its revision, weight, phase and reason',
      status(['True', 'Available'], ['True', 'Progressing'], OK, ['Progressing', 'StepInProgress', 10]),
      { phase: 'Progressing', reason: 'StepInProgress', canary: 'bbbbbbbbbb', weight: 10 },
    ],
    [
      'paused by the progress deadline: the Stalled reason',
      status(
        ['True', 'Available'],
        ['False', 'Stalled'],
        ['True', 'RolloutDeadlineExceeded'],
        ['Paused', 'RolloutDeadlineExceeded', 10],
      ),
      { phase: 'Paused', reason: 'RolloutDeadlineExceeded', canary: 'bbbbbbbbbb', weight: 10 },
    ],
    [
      'rolled back: no canary column, the cause as the reason',
      status(
        ['True', 'Available'],
        ['False', 'Stalled'],
        ['True', 'ErrorRateExceeded'],
        ['RolledBack', 'ErrorRateExceeded', 0],
      ),
      { phase: 'RolledBack', reason: 'ErrorRateExceeded' },
    ],
    [
      'rolled back by a spec revert (not Stalled)',
      status(['True', 'Available'], ['False', 'Reconciled'], OK, ['RolledBack', 'SpecReverted', 0]),
      { phase: 'RolledBack', reason: 'SpecReverted' },
    ],
    [
      'an invalid spec over a live canary: the canary is where it was, the reason is the spec',
      status(
        ['False', 'InvalidSpec'],
        ['False', 'InvalidSpec'],
        ['True', 'InvalidSpec'],
        ['Progressing', 'StepInProgress', 50],
      ),
      { phase: 'Progressing', reason: 'InvalidSpec', canary: 'bbbbbbbbbb', weight: 50 },
    ],
  ])('%s', (_name, s, summary) => {
    expect(summaryOf(s)).toEqual(summary);
  });
});
