/**
 * What the shell read from its informer caches for one ModelDeployment: the objects it owns.
 * The pure core (plan, computeStatus) decides from this snapshot only, never from the network.
 */
import type {
  CoreV1Event,
  V1Deployment,
  V1Pod,
  V1PodDisruptionBudget,
  V1Service,
  V2HorizontalPodAutoscaler,
} from '@kubernetes/client-node';

/** Owned objects as cached by the shell (label-scoped to one ModelDeployment). */
export interface Observed {
  deployments: V1Deployment[];
  services: V1Service[];
  hpas: V2HorizontalPodAutoscaler[];
  pdbs: V1PodDisruptionBudget[];
  /** Pods of every revision Deployment (matched by the modelship.dev/deployment label). */
  pods: V1Pod[];
  /** Recent Events about the pods or Deployments, when the shell watches them (optional). */
  events?: CoreV1Event[];
}

/** An empty snapshot: what a brand-new ModelDeployment owns. */
export function emptyObserved(): Observed {
  return { deployments: [], services: [], hpas: [], pdbs: [], pods: [], events: [] };
}

/** The observed Deployment with this exact name, if any. */
export function deploymentNamed(observed: Observed, name: string): V1Deployment | undefined {
  return observed.deployments.find((d) => d.metadata?.name === name);
}
