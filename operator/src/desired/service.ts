/**
 * Revision Services (`<md>-<rev>`, what the router and the Gateway API route to) and the ports
 * every Service of a ModelDeployment uses. The apex Service `<md>` that clients use belongs to the
 * traffic router (operator/src/traffic/).
 */
import type { ModelDeployment } from '../api/types.js';
import { revisionLabels, revisionName, revisionSelector } from './names.js';
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
