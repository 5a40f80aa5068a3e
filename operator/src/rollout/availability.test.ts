import type { V1Deployment } from '@kubernetes/client-node';

import { isAvailableAtScale, isDeploymentAvailable } from './availability.js';

/** A Deployment as the controller reports it: `replicas` desired, the rest from status. */
function deployment(
  replicas: number,
  status: { updated?: number; ready?: number; available?: number; observed?: number },
  generation = 2,
): V1Deployment {
  return {
    metadata: { name: 'd', generation },
    spec: { replicas, selector: {}, template: {} },
    status: {
      observedGeneration: status.observed ?? generation,
      updatedReplicas: status.updated,
      readyReplicas: status.ready,
      availableReplicas: status.available,
      replicas: status.updated,
    },
  };
}

describe('isDeploymentAvailable: can the revision take traffic?', () => {
  it.each<[string, V1Deployment | undefined, boolean]>([
    ['not observed at all', undefined, false],
    ['every desired pod updated, ready and available', deployment(2, { updated: 2, ready: 2, available: 2 }), true],
    ['one of two pods still starting', deployment(2, { updated: 2, ready: 1, available: 1 }), false],
    [
      'the controller has not seen the latest spec',
      deployment(2, { updated: 2, ready: 2, available: 2, observed: 1 }),
      false,
    ],
    // The controller calls a zero-replica Deployment Available; nothing there can answer a request.
    ['scaled to zero (a rolled-back candidate, before retry scales it up)', deployment(0, {}), false],
    ['scaled to zero with its last pod still reported', deployment(0, { updated: 0, ready: 1, available: 1 }), false],
  ])('%s → %s', (_what, d, expected) => {
    expect(isDeploymentAvailable(d)).toBe(expected);
  });
});

describe('isAvailableAtScale: can it take all of a revision’s traffic?', () => {
  it.each<[string, V1Deployment, { replicas?: number; autoscaling?: { minReplicas: number } }, boolean]>([
    ['available at the stable size', deployment(3, { updated: 3, ready: 3, available: 3 }), { replicas: 3 }, true],
    [
      'available, but sized for a 10% step',
      deployment(1, { updated: 1, ready: 1, available: 1 }),
      { replicas: 3 },
      false,
    ],
    [
      'at the HPA floor',
      deployment(2, { updated: 2, ready: 2, available: 2 }),
      { autoscaling: { minReplicas: 2 } },
      true,
    ],
  ])('%s → %s', (_what, d, scale, expected) => {
    expect(isAvailableAtScale(d, scale)).toBe(expected);
  });
});
