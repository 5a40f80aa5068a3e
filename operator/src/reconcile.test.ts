import type { ModelDeploymentStatus } from './api/types.js';
import { transitionEvents } from './reconcile.js';

const cond = (type: string, status: 'True' | 'False', reason = 'R', message = 'm') => ({ type, status, reason, message, lastTransitionTime: '2026-01-01T00:00:00Z' });
const st = (ready: 'True' | 'False', stalled: 'True' | 'False', stalledReason = 'NoProblems', revision = 'abc'): ModelDeploymentStatus => ({
  conditions: [cond('Ready', ready, 'Available', `revision ${revision} serves`), cond('Stalled', stalled, stalledReason, `why ${stalledReason}`)],
  stable: { revision, model: { uri: 'file:///m', sha256: 'x' }, readyReplicas: 1 },
});

describe('transitionEvents', () => {
  it.each([
    ['first Ready', undefined, st('True', 'False'), ['Normal RevisionReady']],
    ['still Ready: nothing', st('True', 'False'), st('True', 'False'), []],
    ['Ready on a new revision', st('True', 'False'), st('True', 'False', 'NoProblems', 'def'), ['Normal RevisionReady']],
    ['becomes Stalled', st('False', 'False'), st('False', 'True', 'ImagePullFailed'), ['Warning ImagePullFailed']],
    ['stays Stalled for the same reason: nothing', st('False', 'True', 'CrashLoop'), st('False', 'True', 'CrashLoop'), []],
    ['Stalled for a new reason', st('False', 'True', 'CrashLoop'), st('False', 'True', 'DigestMismatch'), ['Warning DigestMismatch']],
    ['not Ready, not Stalled: nothing', undefined, st('False', 'False'), []],
  ])('%s', (_name, before, after, expected) => {
    expect(transitionEvents(before, after).map((e) => `${e.type} ${e.reason}`)).toEqual(expected);
  });
});
