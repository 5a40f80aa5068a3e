/**
 * Operator settings from command-line flags, falling back to MODELSHIP_* environment variables,
 * then defaults, read as every Modelship process reads its settings (contract/settings.ts). Pure:
 * argv, env and hostname/pid come in as arguments, errors name the flag or variable.
 */
import { STORAGE_ENV } from '../../contract/model-source.js';
import { parseFlags, Settings } from '../../contract/settings.js';
import type { LogLevel as Level } from '../../common/log.js';

/** Everything main.ts needs to run the operator. */
export interface OperatorConfig {
  /** Kubeconfig file; undefined = default chain (KUBECONFIG, ~/.kube/config, in-cluster). */
  kubeconfig?: string;
  /** Namespace to watch; undefined = all namespaces. */
  namespace?: string;
  /** Reconciles that may run at once (MODELSHIP_RECONCILE_WORKERS). */
  workers: number;
  serverImage: string;
  routerImage?: string;
  /** The node cache agent's URL for the model servers (MODELSHIP_NODE_CACHE_URL); unset: no node cache. */
  nodeCacheUrl?: string;
  metricsHost: string;
  metricsPort: number;
  leaderElect: boolean;
  leaseNamespace: string;
  leaseName: string;
  identity: string;
  resyncSeconds: number;
  logLevel: Level;
}

/**
 * Image of the model pods when --server-image is not given: the one Modelship image (server, router
 * and operator), as the Helm chart's default names it (`make image` builds it under this name).
 * The chart passes its own image reference, so this matters only outside the chart.
 */
export const DEFAULT_SERVER_IMAGE = 'ghcr.io/modelship/modelship:0.1.0';

/**
 * Every setting, once: its flag and its variable (the chart sets flags, and the pod's own name and
 * namespace through the downward API).
 */
const SETTINGS = {
  kubeconfig: { flag: 'kubeconfig', env: 'MODELSHIP_KUBECONFIG' },
  namespace: { flag: 'namespace', env: 'MODELSHIP_WATCH_NAMESPACE' },
  workers: { flag: 'workers', env: 'MODELSHIP_RECONCILE_WORKERS' },
  serverImage: { flag: 'server-image', env: 'MODELSHIP_SERVER_IMAGE' },
  routerImage: { flag: 'router-image', env: 'MODELSHIP_ROUTER_IMAGE' },
  nodeCacheUrl: { flag: 'node-cache-url', env: STORAGE_ENV.nodeCacheUrl },
  metricsHost: { flag: 'metrics-host', env: 'MODELSHIP_METRICS_HOST' },
  metricsPort: { flag: 'metrics-port', env: 'MODELSHIP_METRICS_PORT' },
  leaderElect: { flag: 'leader-elect', env: 'MODELSHIP_LEADER_ELECT' },
  leaseNamespace: { flag: 'lease-namespace', env: 'MODELSHIP_LEASE_NAMESPACE' },
  leaseName: { flag: 'lease-name', env: 'MODELSHIP_LEASE_NAME' },
  identity: { flag: 'identity', env: 'MODELSHIP_POD_NAME' },
  /** The operator pod's namespace: where the Lease is when --lease-namespace does not say. */
  podNamespace: { env: 'MODELSHIP_POD_NAMESPACE' },
  resyncSeconds: { flag: 'resync-seconds', env: 'MODELSHIP_RESYNC_SECONDS' },
  logLevel: { flag: 'log-level', env: 'MODELSHIP_LOG_LEVEL' },
} as const;

const LOG_LEVELS: readonly Level[] = ['debug', 'info', 'warn', 'error'];

/** Parses argv (without node and script) and env into a config, or throws a ConfigError naming the bad setting. */
export function parseConfig(
  argv: string[],
  env: Record<string, string | undefined>,
  host: { hostname: string; pid: number },
): OperatorConfig {
  const settings = new Settings(env, parseFlags(argv, Object.values(SETTINGS)));
  const S = SETTINGS;
  return {
    kubeconfig: settings.string(S.kubeconfig, undefined),
    namespace: settings.string(S.namespace, undefined),
    workers: settings.integer(S.workers, 4, 1, 64),
    serverImage: settings.string(S.serverImage, DEFAULT_SERVER_IMAGE),
    routerImage: settings.string(S.routerImage, undefined),
    nodeCacheUrl: settings.parsed<string | undefined>(
      S.nodeCacheUrl,
      undefined,
      'expected an http:// or https:// URL such as http://modelship-cache.modelship-system.svc:8090',
      (text) => (/^https?:\/\/[^\s/?#@]+(\/\S*)?$/.test(text) ? text : undefined),
    ),
    metricsHost: settings.string(S.metricsHost, '0.0.0.0'),
    metricsPort: settings.port(S.metricsPort, 8080),
    leaderElect: settings.boolean(S.leaderElect, true),
    leaseNamespace: settings.string(S.leaseNamespace, settings.string(S.podNamespace, 'default')),
    leaseName: settings.string(S.leaseName, 'modelship-operator'),
    identity: settings.string(S.identity, `${host.hostname}-${host.pid}`),
    resyncSeconds: settings.integer(S.resyncSeconds, 300, 0, 86_400),
    logLevel: settings.choice(S.logLevel, 'info', LOG_LEVELS),
  };
}
