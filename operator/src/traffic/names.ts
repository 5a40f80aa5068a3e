/**
 * Names of the traffic objects of a ModelDeployment. Routes name revisions by their Service
 * (`<md>-<rev>`), so the router's metrics and stats read like the cluster.
 */
import type { ModelDeployment } from '../api/types.js';
import { MAX_NAME_LENGTH, revisionName } from '../desired/names.js';

function checked(md: ModelDeployment, name: string): string {
  if (name.length > MAX_NAME_LENGTH) {
    throw new Error(
      `name ModelDeployment ${md.metadata.namespace}/${md.metadata.name}: "${name}" is longer than ${MAX_NAME_LENGTH} characters`,
    );
  }
  return name;
}

/** The router's Deployment, ServiceAccount, Role and RoleBinding: `<md>-router`. */
export function routerName(md: ModelDeployment): string {
  return checked(md, `${md.metadata.name}-router`);
}

/** The ConfigMap holding the Routes document the router watches: `<md>-routes`. */
export function routesConfigMapName(md: ModelDeployment): string {
  return checked(md, `${md.metadata.name}-routes`);
}

/** The ConfigMap the router pods write their stats documents into: `<md>-stats`. */
export function statsConfigMapName(md: ModelDeployment): string {
  return checked(md, `${md.metadata.name}-stats`);
}

/** A revision's name in the Routes document, the router's stats and its metrics: its Service name. */
export function routeNameOf(md: ModelDeployment, revision: string): string {
  return revisionName(md, revision);
}
