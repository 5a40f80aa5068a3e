/**
 * Part of the cross-process contract (contract/): the names by which the operator and the router
 * find each other's data in the API server, ConfigMap keys and labels.
 */

/** The key of the routes ConfigMap that holds the Routes document (contract/routes.ts) as JSON. */
export const ROUTES_KEY = 'routes.json';

/** The key of the stats ConfigMap that router pod `pod` writes its stats document (contract/stats.ts) under. */
export function statsKey(pod: string): string {
  return `${pod}.json`;
}

/** Whether a key of the stats ConfigMap holds a pod's stats document (others are ignored). */
export function isStatsKey(key: string): boolean {
  return key.endsWith('.json');
}

/**
 * The `app.kubernetes.io/component` of the stats ConfigMap. Routers rewrite it every few seconds, so
 * the operator's cache does not reconcile on its writes (it reads the stats when a check is due).
 */
export const STATS_COMPONENT = 'router-stats';

/**
 * Labels of a stats ConfigMap the router had to create itself (the operator normally creates it
 * first, with these and its own), so the operator recognises it as the router's stats.
 */
export const STATS_CONFIGMAP_LABELS: Readonly<Record<string, string>> = {
  'app.kubernetes.io/managed-by': 'modelship',
  'app.kubernetes.io/component': STATS_COMPONENT,
};
