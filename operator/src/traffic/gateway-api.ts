/**
 * Gateway API traffic routing: the same plans as an HTTPRoute (gateway.networking.k8s.io/v1) on
 * the Gateway named by spec.traffic.gatewayRef, with weighted backendRefs to the revision Services
 * and a RequestMirror filter while the candidate is mirrored. No router pods: the Gateway's
 * implementation splits traffic (by its own algorithm, usually per connection or request).
 *
 * The apex Service `<md>` stays, for a stable in-cluster name, and selects the stable revision's
 * pods: in-cluster callers of the apex reach the stable only; the split happens at the Gateway.
 */
import type { ModelDeployment } from '../api/types.js';
import { apexName, baseLabels, revisionSelector } from '../desired/names.js';
import { ownerReferenceTo } from '../desired/owner.js';
import { SERVICE_PORT } from '../desired/service.js';
import type { KubeObject } from '../desired/types.js';
import { routeNameOf } from './names.js';
import type { TrafficPlan, TrafficRouter } from './types.js';

/** The HTTPRoute `<md>` realising a plan. */
export function httpRouteFor(md: ModelDeployment, plan: TrafficPlan): KubeObject {
  const ref = md.spec.traffic?.gatewayRef;
  if (ref === undefined) {
    throw new Error(
      `build HTTPRoute ${md.metadata.namespace}/${apexName(md)}: spec.traffic.gatewayRef is required with router gateway-api`,
    );
  }
  if (!plan.weights.some((w) => w.percent > 0)) {
    throw new Error(`build HTTPRoute ${md.metadata.namespace}/${apexName(md)}: no revision has a weight above 0`);
  }
  const parentRef: Record<string, string> = { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: ref.name };
  if (ref.namespace !== undefined) parentRef.namespace = ref.namespace;
  if (ref.sectionName !== undefined) parentRef.sectionName = ref.sectionName;
  const rule: Record<string, unknown> = {
    matches: [{ path: { type: 'PathPrefix', value: '/' } }],
    backendRefs: plan.weights.map((w) => ({
      group: '',
      kind: 'Service',
      name: routeNameOf(md, w.revision),
      port: SERVICE_PORT,
      weight: w.percent,
    })),
  };
  if (plan.mirror && plan.mirror.percent > 0) {
    const requestMirror: Record<string, unknown> = {
      backendRef: { group: '', kind: 'Service', name: routeNameOf(md, plan.mirror.revision), port: SERVICE_PORT },
    };
    // percent arrived in Gateway API v1.2; leave it out at 100 (the default) so older CRDs accept the route.
    if (plan.mirror.percent < 100) requestMirror.percent = plan.mirror.percent;
    rule.filters = [{ type: 'RequestMirror', requestMirror }];
  }
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: {
      name: apexName(md),
      namespace: md.metadata.namespace,
      labels: baseLabels(md),
      ownerReferences: [ownerReferenceTo(md)],
    },
    spec: { parentRefs: [parentRef], rules: [rule] },
  };
}

/** The apex Service selecting the stable revision's pods (the first weight of the plan). */
export function stableApexServiceFor(md: ModelDeployment, plan: TrafficPlan): KubeObject {
  const stable = plan.weights[0];
  if (stable === undefined)
    throw new Error(`build Service ${md.metadata.namespace}/${apexName(md)}: the plan has no revisions`);
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
      selector: revisionSelector(md, stable.revision),
      ports: [{ name: 'http', port: SERVICE_PORT, targetPort: 'http', protocol: 'TCP' }],
    },
  };
}

/** Gateway API routing: the HTTPRoute, then the apex Service. */
export function gatewayApiRouter(): TrafficRouter {
  return { objectsFor: (md, plan) => [httpRouteFor(md, plan), stableApexServiceFor(md, plan)] };
}
