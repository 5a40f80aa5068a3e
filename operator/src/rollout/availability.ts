/**
 * Whether an observed revision Deployment is serving: a pure reading of its status.
 */
import type { V1Deployment } from '@kubernetes/client-node';

/** Pod counts of a Deployment as the controller last reported them. */
export interface DeploymentCounts {
  desired: number;
  updated: number;
  ready: number;
  available: number;
  total: number;
}

/** Counts from a Deployment's spec and status (0 when not reported yet). */
export function countsOf(deployment: V1Deployment): DeploymentCounts {
  const status = deployment.status ?? {};
  return {
    desired: deployment.spec?.replicas ?? 1,
    updated: status.updatedReplicas ?? 0,
    ready: status.readyReplicas ?? 0,
    available: status.availableReplicas ?? 0,
    total: status.replicas ?? 0,
  };
}

/** True when the Deployment controller has seen the latest spec of this Deployment. */
export function isObservedCurrent(deployment: V1Deployment): boolean {
  const generation = deployment.metadata?.generation;
  const observed = deployment.status?.observedGeneration;
  return generation === undefined || (observed !== undefined && observed >= generation);
}

/**
 * True when the Deployment has rolled out its current spec and every desired pod is available:
 * the revision can take traffic. A Deployment scaled to zero cannot, though its controller calls it
 * Available: a rolled-back candidate re-armed by `retry` is still observed at zero replicas in the
 * reconcile that scales it up, and must warm up before it gets any weight.
 */
export function isDeploymentAvailable(deployment: V1Deployment | undefined): boolean {
  if (deployment === undefined || !isObservedCurrent(deployment)) return false;
  const c = countsOf(deployment);
  return c.desired >= 1 && c.updated >= c.desired && c.available >= c.desired && c.ready >= 1;
}

/** The part of a revision's scale that says how many pods it runs at least. */
export interface ScaleFloor {
  replicas?: number;
  autoscaling?: { minReplicas: number };
}

/**
 * True when the Deployment is available with at least the pods a scale asks for (the HPA's floor
 * when autoscaled): it can take all of a revision's traffic.
 */
export function isAvailableAtScale(deployment: V1Deployment | undefined, scale: ScaleFloor): boolean {
  if (!isDeploymentAvailable(deployment)) return false;
  const floor = scale.autoscaling?.minReplicas ?? scale.replicas ?? 1;
  return countsOf(deployment!).available >= floor;
}
