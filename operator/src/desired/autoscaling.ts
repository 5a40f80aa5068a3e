/**
 * Scale-related objects of one revision: an autoscaling/v2 HPA when the spec asks for
 * autoscaling, and a PodDisruptionBudget when more than one pod serves.
 */
import type { ModelDeployment } from '../api/types.js';
import type { RevisionPlan } from '../rollout/plan.js';
import { revisionLabels, revisionName, revisionSelector } from './names.js';
import { ownerReferenceTo } from './owner.js';
import type { KubeObject } from './types.js';

/** The HPA of one revision, or undefined when the revision has a fixed replica count. */
export function hpaFor(md: ModelDeployment, rev: RevisionPlan): KubeObject | undefined {
  const autoscaling = rev.scale.autoscaling;
  if (autoscaling === undefined) return undefined;
  const name = revisionName(md, rev.revision);
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: {
      name,
      namespace: md.metadata.namespace,
      labels: revisionLabels(md, rev.revision),
      ownerReferences: [ownerReferenceTo(md)],
    },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
      minReplicas: autoscaling.minReplicas,
      maxReplicas: autoscaling.maxReplicas,
      metrics: [
        {
          type: 'Resource',
          resource: {
            name: 'cpu',
            target: { type: 'Utilization', averageUtilization: autoscaling.targetCPUUtilizationPercentage },
          },
        },
      ],
    },
  };
}

/**
 * A PDB allowing one voluntary disruption at a time, when the revision runs more than one pod
 * (with a single pod, a PDB would only block node drains).
 */
export function pdbFor(md: ModelDeployment, rev: RevisionPlan): KubeObject | undefined {
  const floor = rev.scale.autoscaling?.minReplicas ?? rev.scale.replicas ?? 1;
  if (floor <= 1) return undefined;
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: {
      name: revisionName(md, rev.revision),
      namespace: md.metadata.namespace,
      labels: revisionLabels(md, rev.revision),
      ownerReferences: [ownerReferenceTo(md)],
    },
    spec: {
      maxUnavailable: 1,
      selector: { matchLabels: revisionSelector(md, rev.revision) },
    },
  };
}
