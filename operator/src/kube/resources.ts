/**
 * The Kubernetes resources the operator reads or writes, and how to build their REST paths.
 * One table so that RBAC (charts/), informers and apply agree on the same list.
 */

/** How one kind is addressed on the API server. */
export interface ResourceType {
  apiVersion: string;
  kind: string;
  /** Lowercase plural used in URLs and RBAC rules. */
  plural: string;
  namespaced: boolean;
}

/** Every kind the operator touches, keyed by `apiVersion/kind`. */
export const RESOURCES: readonly ResourceType[] = [
  { apiVersion: 'modelship.dev/v1alpha1', kind: 'ModelDeployment', plural: 'modeldeployments', namespaced: true },
  { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments', namespaced: true },
  { apiVersion: 'v1', kind: 'Service', plural: 'services', namespaced: true },
  { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps', namespaced: true },
  { apiVersion: 'v1', kind: 'ServiceAccount', plural: 'serviceaccounts', namespaced: true },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', plural: 'roles', namespaced: true },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', plural: 'rolebindings', namespaced: true },
  { apiVersion: 'v1', kind: 'Pod', plural: 'pods', namespaced: true },
  { apiVersion: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false },
  {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    plural: 'horizontalpodautoscalers',
    namespaced: true,
  },
  { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', plural: 'poddisruptionbudgets', namespaced: true },
  { apiVersion: 'events.k8s.io/v1', kind: 'Event', plural: 'events', namespaced: true },
  { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', plural: 'leases', namespaced: true },
  { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', plural: 'httproutes', namespaced: true },
];

/** Looks up a kind; throws naming the kind when the operator does not know it. */
export function resourceFor(apiVersion: string, kind: string): ResourceType {
  const found = RESOURCES.find((r) => r.apiVersion === apiVersion && r.kind === kind);
  if (!found) throw new Error(`unknown resource ${apiVersion} ${kind}`);
  return found;
}

/**
 * REST path of a collection (name undefined) or of one object, optionally a subresource.
 * Core kinds live under /api/v1, all others under /apis/<group>/<version>.
 */
export function pathFor(type: ResourceType, namespace?: string, name?: string, subresource?: string): string {
  const prefix = type.apiVersion.includes('/') ? `/apis/${type.apiVersion}` : `/api/${type.apiVersion}`;
  let path = prefix;
  if (type.namespaced && namespace) path += `/namespaces/${encodeURIComponent(namespace)}`;
  path += `/${type.plural}`;
  if (name !== undefined) path += `/${encodeURIComponent(name)}`;
  if (subresource) path += `/${subresource}`;
  return path;
}

/**
 * The resource name (with subresource) a REST path addresses, for request metrics:
 * `/apis/apps/v1/namespaces/ns/deployments/x/status` → `deployments/status`.
 */
export function resourceOfPath(path: string): { resource: string; named: boolean } {
  const parts = path.split('?')[0]!.split('/').filter(Boolean);
  // Drop the group/version prefix: api/v1 or apis/<group>/<version>.
  let rest = parts[0] === 'api' ? parts.slice(2) : parts.slice(3);
  if (rest[0] === 'namespaces' && rest.length >= 3) rest = rest.slice(2);
  const resource = rest[0] ?? '';
  const named = rest.length >= 2;
  return { resource: rest.length >= 3 ? `${resource}/${rest[2]}` : resource, named };
}
