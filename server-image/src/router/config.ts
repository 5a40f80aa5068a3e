/**
 * Router configuration from MODELSHIP_* environment variables. `parseRouterConfig` is pure: it
 * takes the environment and the host name and returns a complete config or throws an Error whose
 * one-line message names the offending variable.
 */
import type { LogLevel } from '../../../common/log.js';

/** Where the routes come from: a ConfigMap watched through the API server, or a local file. */
export type RoutesSourceConfig =
  { kind: 'configmap'; namespace: string; name: string } | { kind: 'file'; path: string };

/** Everything the router process needs. */
export interface RouterConfig {
  host: string;
  port: number;
  metricsPort: number;
  source: RoutesSourceConfig;
  /** Stats ConfigMap (same namespace as the routes); undefined with a file source or when disabled. */
  statsConfigMap?: string;
  statsIntervalMs: number;
  /** The key this process writes its stats document under (`<pod>.json`) and names itself by. */
  podName: string;
  /** How long a backend may take to start answering before the caller gets a 504. */
  timeoutMs: number;
  /** Same, for mirrored copies (whose answers only feed the statistics). */
  mirrorTimeoutMs: number;
  /** Requests (and served responses) larger than this are not mirrored, so memory stays bounded. */
  mirrorMaxBytes: number;
  /** Mirrored copies in flight at once; past it, requests are served without a copy. */
  maxMirrorsInFlight: number;
  /** Connection pool size per backend revision. */
  maxSocketsPerBackend: number;
  /**
   * How long a live request whose backend connection could not be opened is retried for, from its
   * first dispatch (0: not retried); the proxy never lets it run past `timeoutMs` (see retry.ts).
   */
  connectRetryBudgetMs: number;
  /**
   * The directory a route's `tokenFile` is relative to: where the operator mounts the auth
   * Secrets of the revisions that require a bearer token, for the router's metadata fetches.
   */
  tokenDir: string;
  logLevel: LogLevel;
  shutdownDelayMs: number;
  shutdownTimeoutMs: number;
}

/** Where the router looks for routes' `tokenFile`s unless MODELSHIP_ROUTER_TOKEN_DIR says otherwise. */
export const DEFAULT_TOKEN_DIR = '/etc/modelship/router-tokens';

/** The default connect-retry budget: covers kube-proxy's lag (up to ~1 s) behind a revision turning ready. */
export const DEFAULT_CONNECT_RETRY_BUDGET_MS = 2_000;

const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`${name}: must be an integer between ${min} and ${max}, got ${JSON.stringify(raw)}`);
  }
  return n;
}

/**
 * Reads the router's configuration. Exactly one routes source must be set:
 * MODELSHIP_ROUTES_CONFIGMAP (with MODELSHIP_NAMESPACE) or MODELSHIP_ROUTES_FILE.
 */
export function parseRouterConfig(env: NodeJS.ProcessEnv, hostname: string): RouterConfig {
  const cm = env.MODELSHIP_ROUTES_CONFIGMAP || undefined;
  const file = env.MODELSHIP_ROUTES_FILE || undefined;
  if (cm && file) throw new Error('MODELSHIP_ROUTES_CONFIGMAP and MODELSHIP_ROUTES_FILE: set only one');
  let source: RoutesSourceConfig;
  if (cm) {
    const namespace = env.MODELSHIP_NAMESPACE;
    if (!namespace) throw new Error('MODELSHIP_NAMESPACE: required with MODELSHIP_ROUTES_CONFIGMAP');
    source = { kind: 'configmap', namespace, name: cm };
  } else if (file) {
    source = { kind: 'file', path: file };
  } else {
    throw new Error('MODELSHIP_ROUTES_CONFIGMAP or MODELSHIP_ROUTES_FILE: one is required');
  }
  const logLevel = (env.MODELSHIP_LOG_LEVEL || 'info') as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new Error(
      `MODELSHIP_LOG_LEVEL: must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(env.MODELSHIP_LOG_LEVEL)}`,
    );
  }
  const timeoutMs = integer(env, 'MODELSHIP_ROUTER_TIMEOUT_MS', 30_000, 1, 3_600_000);
  const statsIntervalMs = integer(env, 'MODELSHIP_STATS_INTERVAL_MS', 5_000, 0, 3_600_000);
  const statsName = env.MODELSHIP_STATS_CONFIGMAP || (cm ? `${cm}-stats` : undefined);
  const podName = env.MODELSHIP_POD_NAME || hostname;
  if (!/^[-._a-zA-Z0-9]+$/.test(podName))
    throw new Error(`MODELSHIP_POD_NAME: not usable as a ConfigMap key: ${podName}`);
  return {
    host: env.MODELSHIP_HOST || '0.0.0.0',
    port: integer(env, 'MODELSHIP_PORT', 8080, 0, 65535),
    metricsPort: integer(env, 'MODELSHIP_METRICS_PORT', 9090, 0, 65535),
    source,
    statsConfigMap: source.kind === 'configmap' && statsIntervalMs > 0 ? statsName : undefined,
    statsIntervalMs,
    podName,
    timeoutMs,
    mirrorTimeoutMs: integer(env, 'MODELSHIP_ROUTER_MIRROR_TIMEOUT_MS', timeoutMs, 1, 3_600_000),
    mirrorMaxBytes: integer(env, 'MODELSHIP_ROUTER_MIRROR_MAX_BYTES', 16 * 1024 * 1024, 0, 1024 * 1024 * 1024),
    maxMirrorsInFlight: integer(env, 'MODELSHIP_ROUTER_MAX_MIRRORS_IN_FLIGHT', 256, 0, 100_000),
    maxSocketsPerBackend: integer(env, 'MODELSHIP_ROUTER_MAX_SOCKETS', 512, 1, 100_000),
    connectRetryBudgetMs: integer(
      env,
      'MODELSHIP_ROUTER_CONNECT_RETRY_BUDGET_MS',
      DEFAULT_CONNECT_RETRY_BUDGET_MS,
      0,
      3_600_000,
    ),
    tokenDir: env.MODELSHIP_ROUTER_TOKEN_DIR || DEFAULT_TOKEN_DIR,
    logLevel,
    shutdownDelayMs: integer(env, 'MODELSHIP_SHUTDOWN_DELAY_MS', 0, 0, 600_000),
    shutdownTimeoutMs: integer(env, 'MODELSHIP_SHUTDOWN_TIMEOUT_MS', 25_000, 1, 600_000),
  };
}
