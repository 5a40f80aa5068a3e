/**
 * Services: one per revision (`<md>-<rev>`, what the router and the operator talk to) and the apex
 * Service `<md>` that clients use.
 */
import type { ModelDeployment } from '../api/types.js';
import type { RolloutPlan } from '../rollout/plan.js';
import { apexName, baseLabels, revisionLabels, revisionName, revisionSelector } from './names.js';
import { ownerReferenceTo } from './owner.js';
import type { KubeObject } from './types.js';

/** Port clients use on every Service. */
export const SERVICE_PORT = 80;
/** Container port of the inference server's HTTP API (its MODELSHIP_PORT). */
export const HTTP_PORT = 8080;
/** Container port of the inference server's Prometheus metrics (its MODELSHIP_METRICS_PORT). */
export const METRICS_PORT = 9090;

/** The ClusterIP Service in front of one revision's pods. */
export function revisionServiceFor(md: ModelDeployment, revision: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: revisionName(md, revision),
      namespace: md.metadata.namespace,
      labels: revisionLabels(md, revision),
      ownerReferences: [ownerReferenceTo(md)],
    },
    spec: {
      type: 'ClusterIP',
      selector: revisionSelector(md, revision),
      ports: [
        { name: 'http', port: SERVICE_PORT, targetPort: 'http', protocol: 'TCP' },
        { name: 'metrics', port: METRICS_PORT, targetPort: 'metrics', protocol: 'TCP' },
      ],
    },
  };
}

/**
 * The apex Service. While the plan sends all live traffic to one revision it selects that
 * revision's pods directly (no extra hop); a split between revisions needs the router, which
 * the canary rollout adds behind this same Service.
 */
export function apexServiceFor(md: ModelDeployment, plan: RolloutPlan): KubeObject {
  const serving = plan.weights.filter((w) => w.percent > 0);
  if (serving.length !== 1 || serving[0]!.percent !== 100) {
    throw new Error(
      `build Service ${md.metadata.namespace}/${apexName(md)}: a split between ${serving.map((w) => `${w.revision}=${w.percent}%`).join(', ')} needs the router`,
    );
  }
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: apexName(md),
      namespace: md.metadata.namespace,
      labels: baseLabels(md),
      ownerReferences: [ownerReferenceTo(md)],
    },
    spec: {
      type: 'ClusterIP',
      selector: revisionSelector(md, serving[0]!.revision),
      ports: [{ name: 'http', port: SERVICE_PORT, targetPort: 'http', protocol: 'TCP' }],
    },
  };
}
