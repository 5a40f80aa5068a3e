/**
 * ModelDeployments as the operator leaves them at moments of a rollout, for the CLI's table tests.
 */
import type { ModelDeployment } from '../api/types.js';

const SHA_A = '6b6a5e14b0723a58f14c5cf4cbd390121cbcf7c93fffc3a5022016fc4370bbe6';
const SHA_B = '0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0';

/** The moment the fixtures are read at. */
export const NOW = new Date('2026-12-07T09:00:00Z');

/** A settled ModelDeployment: one stable revision, Ready, one Initial history entry. */
export function settled(): ModelDeployment {
  return {
    apiVersion: 'modelship.dev/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name: 'digits', namespace: 'ml', generation: 1, uid: 'uid-1' },
    spec: { model: { uri: 'file:///models/a.onnx', sha256: SHA_A }, replicas: 2 },
    status: {
      observedGeneration: 1,
      conditions: [
        condition('Ready', 'True', 'Available', 'revision 5d4c3b2a10 serves 100% with 2 available pod(s)'),
        condition('Reconciling', 'False', 'Reconciled', 'revision 5d4c3b2a10 is stable'),
        condition('Stalled', 'False', 'NoProblems', 'no problem observed'),
      ],
      stable: {
        revision: '5d4c3b2a10',
        model: { uri: 'file:///models/a.onnx', sha256: SHA_A },
        replicas: 2,
        readyReplicas: 2,
      },
      traffic: [{ revision: '5d4c3b2a10', percent: 100 }],
      history: [
        {
          revision: '5d4c3b2a10',
          model: { uri: 'file:///models/a.onnx', sha256: SHA_A },
          outcome: 'Initial',
          at: '2026-12-07T08:00:00Z',
          reason: 'InitialRevision',
        },
      ],
      url: 'http://digits.ml.svc.cluster.local',
    },
  };
}

/** Step 1 of 2 at 10%, 12 s into its 30 s pause, the last check inconclusive. */
export function midCanary(): ModelDeployment {
  const md = settled();
  md.metadata.generation = 2;
  md.spec.model = { uri: 'file:///models/b.onnx', sha256: SHA_B };
  md.spec.rollout = { analysis: { maxLatencyP99Ms: 250 } };
  md.status!.observedGeneration = 2;
  md.status!.conditions![1] = condition('Reconciling', 'True', 'Progressing', 'step 1/2 (10%): 18s of the pause left');
  md.status!.traffic = [
    { revision: '5d4c3b2a10', percent: 90 },
    { revision: 'a1b2c3d4e5', percent: 10 },
  ];
  md.status!.canary = {
    revision: 'a1b2c3d4e5',
    model: { uri: 'file:///models/b.onnx', sha256: SHA_B },
    phase: 'Progressing',
    weight: 10,
    step: 0,
    stepStartedAt: '2026-12-07T08:59:48Z',
    readyReplicas: 1,
    reason: 'StepInProgress',
    message: 'step 1/2 (10%): 18s of the pause left',
    mirrorPercent: 0,
    lastCheckAt: '2026-12-07T08:59:58Z',
    failures: 0,
    inconclusive: 1,
    lastResult: 'Inconclusive',
    analysis: {
      requests: 12,
      errorRate: 0,
      latencyP99Ms: 8.5167,
      failures: 0,
      lastResult: 'Inconclusive',
      message: 'inconclusive: 12 requests < 50 minimum',
    },
  };
  return md;
}

/** Rolled back by an abort after failing the error-rate limit once; Stalled says why. */
export function rolledBack(): ModelDeployment {
  const md = midCanary();
  const canary = md.status!.canary!;
  canary.phase = 'RolledBack';
  canary.weight = 0;
  canary.reason = 'ManualAbort';
  canary.message = 'candidate a1b2c3d4e5 rolled back by action abort@2026-12-07T085950Z';
  canary.readyReplicas = 0;
  canary.analysis = { requests: 200, errorRate: 0.025, latencyP99Ms: 300, failures: 1, lastResult: 'Failed' };
  md.status!.traffic = [
    { revision: '5d4c3b2a10', percent: 100 },
    { revision: 'a1b2c3d4e5', percent: 0 },
  ];
  md.status!.lastAction = 'abort@2026-12-07T085950Z';
  md.status!.conditions![1] = condition(
    'Reconciling',
    'False',
    'Stalled',
    'progress is blocked; see the Stalled condition',
  );
  md.status!.conditions![2] = condition(
    'Stalled',
    'True',
    'ManualAbort',
    `${canary.message}; stable 5d4c3b2a10 serves 100%`,
  );
  md.status!.history!.push({
    revision: 'a1b2c3d4e5',
    model: canary.model,
    outcome: 'RolledBack',
    at: '2026-12-07T08:59:50Z',
    reason: 'ManualAbort',
  });
  return md;
}

function condition(type: string, status: 'True' | 'False', reason: string, message: string) {
  return { type, status, reason, message, lastTransitionTime: '2026-12-07T08:00:00Z', observedGeneration: 1 };
}
