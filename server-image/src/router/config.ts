/**
 * Router configuration from MODELSHIP_* environment variables (contract/env.ts names them; the
 * operator sets them on router pods). `parseRouterConfig` is pure: it takes the environment and the
 * host name and returns a complete config or throws a ConfigError whose one-line message names the
 * offending variable.
 */
import { DEFAULT_ROUTER_TOKEN_DIR, ROUTER_ENV } from '../../../contract/env.js';
import { ConfigError, Settings, type Env } from '../../../contract/settings.js';
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
  /** The stats publishing period while the Routes document in force names none. */
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
  /** Most requests this process holds at once for revisions whose route says `hold`. */
  maxHeld: number;
  /** Payload-log events this process queues for the sink at most, and their body bytes. */
  payloadQueue: { events: number; bytes: number };
  /** Most requests per second of each revision observed for drift (0: every one). */
  driftSampleRps: number;
  logLevel: LogLevel;
  shutdownDelayMs: number;
  shutdownTimeoutMs: number;
}

/** How many requests one router process holds at once unless MODELSHIP_ROUTER_MAX_HELD says otherwise. */
export const DEFAULT_MAX_HELD = 1000;

/** Events one router pod queues unless MODELSHIP_ROUTER_PAYLOAD_QUEUE says otherwise. */
export const DEFAULT_PAYLOAD_QUEUE = 10_000;
/** Body bytes one router pod queues unless MODELSHIP_ROUTER_PAYLOAD_QUEUE_BYTES says otherwise. */
export const DEFAULT_PAYLOAD_QUEUE_BYTES = 64 * 1024 * 1024;

/**
 * Requests per second of each revision one router pod observes for drift unless
 * MODELSHIP_ROUTER_DRIFT_SAMPLE_RPS says otherwise: a window of 1000 rows fills in 5 s at full
 * rate, and drift costs a bounded ~1% of a core whatever the traffic.
 */
export const DEFAULT_DRIFT_SAMPLE_RPS = 200;

/** The default connect-retry budget: covers kube-proxy's lag (up to ~1 s) behind a revision turning ready. */
export const DEFAULT_CONNECT_RETRY_BUDGET_MS = 2_000;

const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/**
 * Reads the router's configuration. Exactly one routes source must be set:
 * MODELSHIP_ROUTES_CONFIGMAP (with MODELSHIP_NAMESPACE) or MODELSHIP_ROUTES_FILE.
 */
export function parseRouterConfig(env: Env, hostname: string): RouterConfig {
  const settings = new Settings(env);
  const cm = settings.string(ROUTER_ENV.routesConfigMap, undefined);
  const file = settings.string(ROUTER_ENV.routesFile, undefined);
  if (cm && file) throw new ConfigError(`${ROUTER_ENV.routesConfigMap} and ${ROUTER_ENV.routesFile}: set only one`);
  let source: RoutesSourceConfig;
  if (cm) {
    const namespace = settings.string(ROUTER_ENV.namespace, undefined);
    if (!namespace) throw new ConfigError(`${ROUTER_ENV.namespace}: required with ${ROUTER_ENV.routesConfigMap}`);
    source = { kind: 'configmap', namespace, name: cm };
  } else if (file) {
    source = { kind: 'file', path: file };
  } else {
    throw new ConfigError(`${ROUTER_ENV.routesConfigMap} or ${ROUTER_ENV.routesFile}: one is required`);
  }
  const logLevel = settings.choice(ROUTER_ENV.logLevel, 'info', LOG_LEVELS);
  const timeoutMs = settings.integer(ROUTER_ENV.timeoutMs, 30_000, 1, 3_600_000);
  const statsIntervalMs = settings.integer(ROUTER_ENV.statsIntervalMs, 5_000, 0, 3_600_000);
  const statsName = settings.string(ROUTER_ENV.statsConfigMap, cm ? `${cm}-stats` : undefined);
  const podName = settings.parsed(ROUTER_ENV.podName, hostname, 'not usable as a ConfigMap key', (text) =>
    /^[-._a-zA-Z0-9]+$/.test(text) ? text : undefined,
  );
  return {
    host: settings.string(ROUTER_ENV.host, '0.0.0.0'),
    port: settings.port(ROUTER_ENV.port, 8080),
    metricsPort: settings.port(ROUTER_ENV.metricsPort, 9090),
    source,
    statsConfigMap: source.kind === 'configmap' && statsIntervalMs > 0 ? statsName : undefined,
    statsIntervalMs,
    podName,
    timeoutMs,
    mirrorTimeoutMs: settings.integer(ROUTER_ENV.mirrorTimeoutMs, timeoutMs, 1, 3_600_000),
    mirrorMaxBytes: settings.integer(ROUTER_ENV.mirrorMaxBytes, 16 * 1024 * 1024, 0, 1024 * 1024 * 1024),
    maxMirrorsInFlight: settings.integer(ROUTER_ENV.maxMirrorsInFlight, 256, 0, 100_000),
    maxSocketsPerBackend: settings.integer(ROUTER_ENV.maxSocketsPerBackend, 512, 1, 100_000),
    connectRetryBudgetMs: settings.integer(
      ROUTER_ENV.connectRetryBudgetMs,
      DEFAULT_CONNECT_RETRY_BUDGET_MS,
      0,
      3_600_000,
    ),
    tokenDir: settings.string(ROUTER_ENV.tokenDir, DEFAULT_ROUTER_TOKEN_DIR),
    maxHeld: settings.integer(ROUTER_ENV.maxHeld, DEFAULT_MAX_HELD, 0, 1_000_000),
    payloadQueue: {
      events: settings.integer(ROUTER_ENV.payloadQueue, DEFAULT_PAYLOAD_QUEUE, 1, 10_000_000),
      bytes: settings.integer(ROUTER_ENV.payloadQueueBytes, DEFAULT_PAYLOAD_QUEUE_BYTES, 1, 16 * 1024 ** 3),
    },
    driftSampleRps: settings.integer(ROUTER_ENV.driftSampleRps, DEFAULT_DRIFT_SAMPLE_RPS, 0, 1_000_000),
    logLevel,
    shutdownDelayMs: settings.integer(ROUTER_ENV.shutdownDelayMs, 0, 0, 600_000),
    shutdownTimeoutMs: settings.integer(ROUTER_ENV.shutdownTimeoutMs, 25_000, 1, 600_000),
  };
}
