/**
 * Everything a ModelDeployment should own, given the rollout plan: pure, deterministic, no clock.
 * The shell server-side applies the list and prunes owned objects that are not in it.
 */
import type { ModelDeployment } from '../api/types.js';
import { revisionsOf, type RolloutPlan } from '../rollout/plan.js';
import { hpaFor, pdbFor } from './autoscaling.js';
import { deploymentFor } from './deployment.js';
import { revisionServiceFor } from './service.js';
import { trafficRouterFor, type TrafficPlan } from '../traffic/index.js';
import type { DesiredOptions, KubeObject } from './types.js';

export type { DesiredOptions, KubeObject } from './types.js';

/**
 * The desired objects in apply order: per revision (stable, candidate, retained) a Deployment,
 * a Service and optionally an HPA and a PDB; then what the traffic router needs to realise the
 * plan's weights and mirror, given each revision's model name and auth token Secret (the builtin
 * router's ConfigMaps, RBAC, Deployment and the apex Service, or an HTTPRoute and the apex Service).
 * `routerPeers` are the router pods' base URLs, which spec.monitoring.accuracy's routes list.
 */
export function desiredObjects(
  md: ModelDeployment,
  plan: RolloutPlan,
  options: DesiredOptions,
  routerPeers: string[] = [],
): KubeObject[] {
  const objects: KubeObject[] = [];
  for (const rev of revisionsOf(plan)) {
    objects.push(deploymentFor(md, rev, options), revisionServiceFor(md, rev.revision));
    const hpa = hpaFor(md, rev);
    if (hpa) objects.push(hpa);
    const pdb = pdbFor(md, rev);
    if (pdb) objects.push(pdb);
  }
  const revisions = revisionsOf(plan);
  const models = Object.fromEntries(revisions.map((r) => [r.revision, r.template.model.name ?? md.metadata.name]));
  const withAuth = revisions.filter((r) => r.template.auth !== undefined);
  const traffic: TrafficPlan = { weights: plan.weights, models, ...(plan.mirror ? { mirror: plan.mirror } : {}) };
  const held = revisions.filter((r) => r.hold).map((r) => r.revision);
  if (held.length > 0) traffic.hold = held;
  const starting = revisions.filter((r) => r.hold && r.startingPods !== undefined);
  if (starting.length > 0)
    traffic.startingPods = Object.fromEntries(starting.map((r) => [r.revision, r.startingPods!]));
  const profiled = revisions.filter((r) => r.template.model.profile !== undefined).map((r) => r.revision);
  if (profiled.length > 0) traffic.profiles = profiled;
  if (md.spec.monitoring?.accuracy !== undefined) traffic.routerPeers = routerPeers;
  if (withAuth.length > 0)
    traffic.tokenSecrets = Object.fromEntries(withAuth.map((r) => [r.revision, r.template.auth!.tokenSecretRef]));
  objects.push(...trafficRouterFor(md, options).objectsFor(md, traffic));
  return objects;
}
