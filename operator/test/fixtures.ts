/**
 * Test fixtures for the pure core: a ModelDeployment, and the cluster's view of desired objects
 * (what informers would hold after an apply, with Deployment controller status filled in). Kept
 * outside src/ so that nothing the image compiles can import them.
 */
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import type { ModelDeployment, ModelDeploymentSpec } from '../src/api/types.js';
import type { KubeObject } from '../src/desired/types.js';
import { emptyObserved, type Observed } from '../src/observed.js';

/** A sha256 that looks real (64 lowercase hex), for the first model. */
export const SHA_A = 'a'.repeat(64);
/** Another sha256, for a second model. */
export const SHA_B = 'b'.repeat(64);

/** A ModelDeployment as the API server would return it (uid, generation set). */
export function mdFixture(spec: Partial<ModelDeploymentSpec> = {}, name = 'digits'): ModelDeployment {
  return {
    apiVersion: 'modelship.dev/v1alpha1',
    kind: 'ModelDeployment',
    metadata: { name, namespace: 'ml', uid: '0b5c2e8e-8f0e-4d7e-9d43-2a4a1f1e5a11', generation: 1 },
    spec: { model: { uri: 'https://models.example.com/digits.onnx', sha256: SHA_A }, ...spec },
  };
}

/** How far a Deployment has got: no pods yet, some ready, or fully available. */
export type Progress = 'none' | 'partial' | 'available';

/** The Deployment as the cluster reports it after the controller reached `progress`. */
export function observedDeployment(desired: KubeObject, progress: Progress, replicas = 2): V1Deployment {
  const spec = desired.spec as { replicas?: number };
  const want = spec.replicas ?? replicas;
  const ready = progress === 'available' ? want : progress === 'partial' ? Math.max(0, want - 1) : 0;
  return {
    ...(structuredClone(desired) as unknown as V1Deployment),
    metadata: { ...(structuredClone(desired.metadata) as V1Deployment['metadata']), generation: 1 },
    spec: { ...(structuredClone(desired.spec) as V1Deployment['spec'])!, replicas: want },
    status: {
      observedGeneration: 1,
      replicas: want,
      updatedReplicas: progress === 'none' ? 0 : want,
      readyReplicas: ready,
      availableReplicas: ready,
      conditions: [{ type: 'Available', status: ready >= want ? 'True' : 'False' }],
    },
  };
}

/** Observed state after applying `desired`, every Deployment at `progress` (or per-name overrides). */
export function observedAfter(desired: KubeObject[], progress: Progress | Record<string, Progress>): Observed {
  const observed = emptyObserved();
  for (const obj of desired) {
    if (obj.kind !== 'Deployment') continue;
    const p = typeof progress === 'string' ? progress : (progress[obj.metadata.name] ?? 'none');
    observed.deployments.push(observedDeployment(obj, p));
  }
  return observed;
}

/** A pod of a revision with the given container status and conditions. */
export function podFixture(md: ModelDeployment, revision: string, name: string, status: V1Pod['status']): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace: md.metadata.namespace,
      labels: { 'modelship.dev/deployment': md.metadata.name, 'modelship.dev/revision': revision },
    },
    status,
  };
}
