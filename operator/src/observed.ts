/**
 * What the shell read from its informer caches for one ModelDeployment: the objects it owns.
 * The pure core (plan, computeStatus) decides from this snapshot only, never from the network.
 */
import type {
  V1ConfigMap,
  V1Deployment,
  V1Pod,
  V1PodDisruptionBudget,
  V1Service,
  V2HorizontalPodAutoscaler,
} from '@kubernetes/client-node';
import type { RouterStatsDocument } from '../../contract/stats.js';
import type { StatsReading } from './autoscale/load.js';

/** Owned objects as cached by the shell (label-scoped to one ModelDeployment). */
export interface Observed {
  deployments: V1Deployment[];
  services: V1Service[];
  hpas: V2HorizontalPodAutoscaler[];
  pdbs: V1PodDisruptionBudget[];
  /** Pods of every revision Deployment (matched by the modelship.dev/deployment label). */
  pods: V1Pod[];
  /** ConfigMaps it owns: the router's routes and stats. */
  configMaps: V1ConfigMap[];
  /**
   * The router stats documents the last analysis check read, kept by the shell in memory: the
   * start of the next check's window. Undefined after an operator restart (that check is
   * Inconclusive: it has no window).
   */
  statsBaseline?: RouterStatsDocument[];
  /**
   * The shell's ring of readings of the router stats ConfigMap, oldest first, this reconcile's
   * last: what request autoscaling decides on. Memory only; empty after an operator restart.
   */
  statsReadings?: StatsReading[];
}

/** An empty snapshot: what a brand-new ModelDeployment owns. */
export function emptyObserved(): Observed {
  return { deployments: [], services: [], hpas: [], pdbs: [], pods: [], configMaps: [] };
}

/** The observed ConfigMap with this exact name, if any. */
export function configMapNamed(observed: Observed, name: string): V1ConfigMap | undefined {
  return observed.configMaps.find((c) => c.metadata?.name === name);
}

/** The observed Deployment with this exact name, if any. */
export function deploymentNamed(observed: Observed, name: string): V1Deployment | undefined {
  return observed.deployments.find((d) => d.metadata?.name === name);
}
