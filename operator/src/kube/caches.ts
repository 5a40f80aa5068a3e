/**
 * The informer caches the reconciler reads from: ModelDeployments and the kinds they own
 * (label-scoped to app.kubernetes.io/managed-by=modelship), in one namespace or all. Every change
 * to an owned object is mapped back to its ModelDeployment's key and handed to `enqueue`.
 */
import { STATS_COMPONENT } from '../../../contract/keys.js';
import { hasHeldRequests } from '../../../contract/stats.js';
import type { KubeApi, KubeObject } from './client.js';
import { Informer, keyOf } from './informer.js';
import { pathFor, resourceFor } from './resources.js';

/** Kinds the operator owns and caches (plus pods, which it only reads for status). */
export const OWNED_KINDS: readonly { apiVersion: string; kind: string }[] = [
  { apiVersion: 'apps/v1', kind: 'Deployment' },
  { apiVersion: 'v1', kind: 'Service' },
  { apiVersion: 'autoscaling/v2', kind: 'HorizontalPodAutoscaler' },
  { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget' },
  { apiVersion: 'v1', kind: 'ConfigMap' },
  { apiVersion: 'v1', kind: 'ServiceAccount' },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role' },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding' },
  { apiVersion: 'v1', kind: 'Pod' },
];

/** Owned kinds cached only when the cluster serves them (the Gateway API is an add-on). */
export const OPTIONAL_OWNED_KINDS = {
  httpRoute: { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute' },
} as const;

/**
 * Label values of owned objects whose changes do not call for a reconcile: the router's stats
 * ConfigMap is rewritten every few seconds, and is read when an analysis check is due (and, with
 * request autoscaling, by the reconcile that requeues itself every second). Except when it reports
 * requests held for a revision at zero: that change starts the revision (see {@link wakesUp}).
 */
export const QUIET_COMPONENTS = [STATS_COMPONENT];

/**
 * Whether a change to an owned object calls for a reconcile of its ModelDeployment: any change but
 * those of quiet components, and of those only a stats ConfigMap holding requests (a router
 * publishes at once when a revision's held count leaves 0, so activation waits for no requeue).
 */
export function wakesUp(obj: KubeObject): boolean {
  if (!QUIET_COMPONENTS.includes(obj.metadata.labels?.['app.kubernetes.io/component'] ?? '')) return true;
  return hasHeldRequests((obj as { data?: Record<string, string> }).data);
}

/** Settings for the caches. */
export interface CachesOptions {
  /** Watch only this namespace; all namespaces when undefined. */
  namespace?: string;
  /** Selector for owned objects. */
  ownedSelector: string;
  /** Label on owned objects naming their ModelDeployment. */
  ownerLabel: string;
  resyncMs: number;
  /** Also cache HTTPRoutes (only when the cluster has the Gateway API CRDs). */
  gatewayApi?: boolean;
  onError?: (kind: string, err: unknown) => void;
}

/**
 * The ModelDeployment key an owned object belongs to: its controller ownerReference to a
 * ModelDeployment, else its owner label (pods are owned by ReplicaSets, not by us).
 */
export function ownerKeyOf(obj: KubeObject, ownerLabel: string): string | undefined {
  const ns = obj.metadata.namespace;
  if (!ns) return undefined;
  const ref = (obj.metadata.ownerReferences ?? []).find((r) => r.kind === 'ModelDeployment' && r.controller);
  if (ref) return `${ns}/${ref.name}`;
  const label = obj.metadata.labels?.[ownerLabel];
  return label ? `${ns}/${label}` : undefined;
}

/** ModelDeployment and owned-object caches. */
export class Caches {
  readonly modelDeployments: Informer;
  /** Owned-object informers keyed by kind. */
  readonly owned: Map<string, Informer>;

  constructor(
    api: KubeApi,
    private readonly opts: CachesOptions,
    enqueue: (key: string) => void,
  ) {
    const mdType = resourceFor('modelship.dev/v1alpha1', 'ModelDeployment');
    this.modelDeployments = new Informer(api, {
      path: pathFor(mdType, opts.namespace),
      apiVersion: mdType.apiVersion,
      kind: mdType.kind,
      resyncMs: opts.resyncMs,
      onError: (err) => opts.onError?.('ModelDeployment', err),
    });
    this.modelDeployments.on((_type, obj) => enqueue(keyOf(obj)));
    this.owned = new Map();
    const kinds = opts.gatewayApi ? [...OWNED_KINDS, OPTIONAL_OWNED_KINDS.httpRoute] : OWNED_KINDS;
    for (const k of kinds) {
      const informer = new Informer(api, {
        path: pathFor(resourceFor(k.apiVersion, k.kind), opts.namespace),
        apiVersion: k.apiVersion,
        kind: k.kind,
        labelSelector: opts.ownedSelector,
        onError: (err) => opts.onError?.(k.kind, err),
      });
      informer.on((_type, obj) => {
        if (!wakesUp(obj)) return;
        const key = ownerKeyOf(obj, opts.ownerLabel);
        if (key) enqueue(key);
      });
      this.owned.set(k.kind, informer);
    }
  }

  private all(): Informer[] {
    return [this.modelDeployments, ...this.owned.values()];
  }

  /** Starts every informer. */
  start(): void {
    for (const i of this.all()) i.start();
  }

  /** Stops every informer. */
  async stop(): Promise<void> {
    await Promise.all(this.all().map((i) => i.stop()));
  }

  /** True once every cache has done its first list. */
  hasSynced(): boolean {
    return this.all().every((i) => i.hasSynced());
  }

  /** Resolves once every cache has done its first list. */
  async waitForSync(): Promise<void> {
    await Promise.all(this.all().map((i) => i.waitForSync()));
  }

  /** The cached ModelDeployment with this namespace/name key. */
  modelDeployment(key: string): KubeObject | undefined {
    return this.modelDeployments.get(key);
  }

  /** Cached objects of one kind that belong to the ModelDeployment with this key. */
  ownedBy(kind: string, mdKey: string): KubeObject[] {
    const [namespace] = mdKey.split('/');
    return (this.owned.get(kind)?.list(namespace) ?? []).filter((o) => ownerKeyOf(o, this.opts.ownerLabel) === mdKey);
  }

  /** The cached live copy of an object the operator applies, if it is a cached kind. */
  live(obj: KubeObject): KubeObject | undefined {
    return this.owned.get(obj.kind ?? '')?.get(keyOf(obj));
  }
}
