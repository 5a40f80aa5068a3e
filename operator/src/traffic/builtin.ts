/**
 * The builtin traffic router: the server image in router mode, behind the apex Service `<md>`,
 * splitting requests exactly by weight between revision Services. It reads its Routes from the
 * ConfigMap `<md>-routes` through a watch (a weight change reaches the data path in well under a
 * second) and writes per-pod stats into `<md>-stats`, which the operator's analysis reads.
 *
 * The router is always there while the ModelDeployment uses the builtin router, even at 100/0:
 * a rollback is then a ConfigMap update the router sees at once, never a Service selector change
 * waiting for endpoint propagation.
 *
 * Least privilege: the router's Role can get/list/watch its routes ConfigMap and get/patch its
 * stats ConfigMap, by name, and nothing else. The operator creates the stats ConfigMap (empty;
 * the router's pods own their keys), so the router needs no create.
 *
 * With spec.auth the model servers answer the router's metadata fetches (the contract gate's input)
 * only with a bearer token. The router is per ModelDeployment, so it gets exactly the token Secrets
 * of the revisions it routes to, mounted read-only through a projected volume: the kubelet reads
 * them, the router needs no Secret RBAC, and a rotated Secret reaches the file without a restart.
 * The Routes document names each revision's token file; the router sends that token on its own
 * metadata fetches only, and clients' requests keep their own Authorization header.
 */
import type { V1EnvVar, V1Volume } from '@kubernetes/client-node';
import { DEFAULT_ROUTER_TOKEN_DIR, MODE_ENV, ROUTER_ENV, ROUTER_MODE } from '../../../contract/env.js';
import { ROUTES_KEY, STATS_COMPONENT } from '../../../contract/keys.js';
import type { ModelDeployment } from '../api/types.js';
import { apexName, baseLabels, LABEL } from '../desired/names.js';
import { ownerReferenceTo } from '../desired/owner.js';
import { httpProbe } from '../desired/probes.js';
import { containerSecurityContext, podSecurityContext } from '../desired/security.js';
import { HTTP_PORT, METRICS_PORT, SERVICE_PORT } from '../desired/service.js';
import type { DesiredOptions, KubeObject, KubeObjectMeta } from '../desired/types.js';
import { routerName, routesConfigMapName, statsConfigMapName } from './names.js';
import { DEFAULT_TOKEN_KEY } from '../desired/deployment.js';
import { routesFor, tokenFileOf } from './routes.js';
import type { TokenSecretRef, TrafficPlan, TrafficRouter } from './types.js';

/** Router pods: two, so one can be drained or rescheduled while the other routes. */
export const ROUTER_REPLICAS = 2;
/** Requests and limits of a router pod: a proxy, light on CPU and memory. */
export const ROUTER_RESOURCES = { requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '256Mi' } };
/** How long a router keeps serving after SIGTERM, so endpoint removal propagates before it closes. */
export const ROUTER_SHUTDOWN_DELAY_MS = 5_000;

/** The name of the router pods' token volume. */
export const ROUTER_TOKEN_VOLUME = 'auth-tokens';

/** Labels of the router's objects and pods. */
export function routerLabels(md: ModelDeployment): Record<string, string> {
  return { ...baseLabels(md), [LABEL.name]: 'modelship-router', [LABEL.component]: 'router' };
}

/** The router pods' selector (no revision label: revision Services never select them). */
export function routerSelector(md: ModelDeployment): Record<string, string> {
  return { [LABEL.deployment]: md.metadata.name, [LABEL.component]: 'router' };
}

function meta(md: ModelDeployment, name: string, labels = routerLabels(md)): KubeObjectMeta {
  return { name, namespace: md.metadata.namespace, labels, ownerReferences: [ownerReferenceTo(md)] };
}

/** The routes ConfigMap with the plan's Routes document. */
export function routesConfigMapFor(md: ModelDeployment, plan: TrafficPlan): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: meta(md, routesConfigMapName(md)),
    data: { [ROUTES_KEY]: JSON.stringify(routesFor(md, plan)) },
  };
}

/** The stats ConfigMap, created empty: each router pod merge-patches its own `<pod>.json` key. */
export function statsConfigMapFor(md: ModelDeployment): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: meta(md, statsConfigMapName(md), { ...routerLabels(md), [LABEL.component]: STATS_COMPONENT }),
  };
}

/** The router's identity and its least-privilege Role and RoleBinding. */
export function routerRbacFor(md: ModelDeployment): KubeObject[] {
  const name = routerName(md);
  return [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(md, name), automountServiceAccountToken: false },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: meta(md, name),
      rules: [
        {
          apiGroups: [''],
          resources: ['configmaps'],
          resourceNames: [routesConfigMapName(md)],
          verbs: ['get', 'list', 'watch'],
        },
        {
          apiGroups: [''],
          resources: ['configmaps'],
          resourceNames: [statsConfigMapName(md)],
          verbs: ['get', 'patch'],
        },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: meta(md, name),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace: md.metadata.namespace }],
    },
  ];
}

/**
 * The router pods' token volume: a projected volume of every distinct (Secret, key) the revisions'
 * spec.auth names, each at `<secret>/<key>` (what the routes' `tokenFile` says), readable by the
 * router's group only; undefined when no revision requires a token. Sorted, so the pod template
 * changes only when the set of Secrets does (routers restart only when a rollout changes
 * spec.auth's Secret, never for a canary with the same one). The Secrets are optional: a missing
 * one leaves its file out (the router says so, the gate waits) instead of keeping router pods
 * from starting.
 */
export function routerTokenVolumeFor(secrets: readonly TokenSecretRef[]): V1Volume | undefined {
  const keys = new Map<string, Set<string>>();
  for (const ref of secrets) {
    const set = keys.get(ref.name) ?? new Set<string>();
    set.add(ref.key ?? DEFAULT_TOKEN_KEY);
    keys.set(ref.name, set);
  }
  if (keys.size === 0) return undefined;
  const sources = [...keys.keys()].sort().map((name) => ({
    secret: {
      name,
      optional: true,
      items: [...keys.get(name)!].sort().map((key) => ({ key, path: tokenFileOf({ name, key }) })),
    },
  }));
  return { name: ROUTER_TOKEN_VOLUME, projected: { defaultMode: 0o440, sources } };
}

/**
 * The router Deployment: the server image with MODELSHIP_MODE=router, hardened like the servers,
 * with the revisions' auth token Secrets mounted read-only when any revision requires a token.
 */
export function routerDeploymentFor(
  md: ModelDeployment,
  options: DesiredOptions,
  tokenSecrets: readonly TokenSecretRef[] = [],
): KubeObject {
  const labels = routerLabels(md);
  const tokens = routerTokenVolumeFor(tokenSecrets);
  // Only what the pod is: rollout settings (the stats interval among them) travel in the Routes
  // document, so changing them never restarts the routers.
  const env: V1EnvVar[] = [
    { name: MODE_ENV, value: ROUTER_MODE },
    { name: ROUTER_ENV.namespace, valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
    { name: ROUTER_ENV.podName, valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    { name: ROUTER_ENV.routesConfigMap, value: routesConfigMapName(md) },
    { name: ROUTER_ENV.statsConfigMap, value: statsConfigMapName(md) },
    { name: ROUTER_ENV.port, value: String(HTTP_PORT) },
    { name: ROUTER_ENV.metricsPort, value: String(METRICS_PORT) },
    { name: ROUTER_ENV.shutdownDelayMs, value: String(ROUTER_SHUTDOWN_DELAY_MS) },
  ];
  if (tokens) env.push({ name: ROUTER_ENV.tokenDir, value: DEFAULT_ROUTER_TOKEN_DIR });
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(md, routerName(md)),
    spec: {
      // With spec.traffic.routerAutoscaling its HPA owns the count.
      ...(md.spec.traffic?.routerAutoscaling ? {} : { replicas: ROUTER_REPLICAS }),
      revisionHistoryLimit: 2,
      selector: { matchLabels: routerSelector(md) },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: { labels },
        spec: {
          serviceAccountName: routerName(md),
          // The router talks to the API server (watch routes, patch stats): it needs its token.
          automountServiceAccountToken: true,
          enableServiceLinks: false,
          terminationGracePeriodSeconds: 30 + Math.ceil(ROUTER_SHUTDOWN_DELAY_MS / 1000),
          // fsGroup only with tokens: their files are group-readable (0440), like the servers' token.
          securityContext: podSecurityContext({ fsGroup: tokens !== undefined }),
          containers: [
            {
              name: 'router',
              image: options.routerImage ?? options.serverImage,
              imagePullPolicy: options.imagePullPolicy ?? 'IfNotPresent',
              ports: [
                { name: 'http', containerPort: HTTP_PORT, protocol: 'TCP' },
                { name: 'metrics', containerPort: METRICS_PORT, protocol: 'TCP' },
              ],
              env,
              resources: ROUTER_RESOURCES,
              // Ready only once it holds routes: a router without routes must not get requests.
              readinessProbe: httpProbe('/v2/health/ready', 2, 2),
              livenessProbe: httpProbe('/v2/health/live', 10, 3),
              terminationMessagePolicy: 'FallbackToLogsOnError',
              securityContext: containerSecurityContext(),
              ...(tokens
                ? { volumeMounts: [{ name: ROUTER_TOKEN_VOLUME, mountPath: DEFAULT_ROUTER_TOKEN_DIR, readOnly: true }] }
                : {}),
            },
          ],
          ...(tokens ? { volumes: [tokens] } : {}),
        },
      },
    },
  };
}

/** The router HPA's CPU target when spec.traffic.routerAutoscaling names none. */
export const DEFAULT_ROUTER_CPU_TARGET = 70;

/**
 * An autoscaling/v2 HPA on CPU for the router Deployment (spec.traffic.routerAutoscaling), or
 * undefined when the router runs a fixed count. The routers stay up at any load, even when every
 * revision is at zero: they hold the requests that start them.
 */
export function routerHpaFor(md: ModelDeployment): KubeObject | undefined {
  const spec = md.spec.traffic?.routerAutoscaling;
  if (spec === undefined) return undefined;
  const name = routerName(md);
  return {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: meta(md, name),
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name },
      minReplicas: spec.minReplicas ?? 1,
      maxReplicas: spec.maxReplicas,
      metrics: [
        {
          type: 'Resource',
          resource: {
            name: 'cpu',
            target: {
              type: 'Utilization',
              averageUtilization: spec.targetCPUUtilizationPercentage ?? DEFAULT_ROUTER_CPU_TARGET,
            },
          },
        },
      ],
    },
  };
}

/** A PDB so node drains take router pods one at a time: one always routes. */
export function routerPdbFor(md: ModelDeployment): KubeObject {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: meta(md, routerName(md)),
    spec: { maxUnavailable: 1, selector: { matchLabels: routerSelector(md) } },
  };
}

/** The apex Service `<md>`, in front of the router pods. */
export function routerApexServiceFor(md: ModelDeployment): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(md, apexName(md), baseLabels(md)),
    spec: {
      type: 'ClusterIP',
      selector: routerSelector(md),
      ports: [{ name: 'http', port: SERVICE_PORT, targetPort: 'http', protocol: 'TCP' }],
    },
  };
}

/**
 * The builtin router: ConfigMaps first (the router waits for its routes), then RBAC, Deployment,
 * its HPA when asked for, PDB, apex Service.
 */
export function builtinRouter(options: DesiredOptions): TrafficRouter {
  return {
    objectsFor(md, plan) {
      const hpa = routerHpaFor(md);
      return [
        routesConfigMapFor(md, plan),
        statsConfigMapFor(md),
        ...routerRbacFor(md),
        routerDeploymentFor(md, options, Object.values(plan.tokenSecrets ?? {})),
        ...(hpa ? [hpa] : []),
        routerPdbFor(md),
        routerApexServiceFor(md),
      ];
    },
  };
}
