/**
 * Part of the cross-process contract (contract/): the environment of the pods the operator runs.
 * The operator writes these variables into the server's and the router's pod templates; the server
 * (server-image/src/config.ts) and the router (server-image/src/router/config.ts) read them. A user
 * may set the server's through spec.server.env too, which is why the CRD reserves the prefix.
 */

/** Picks the image's role: `server` (the default), `router` or `cache`. */
export const MODE_ENV = 'MODELSHIP_MODE';

/** The MODELSHIP_MODE of router pods. */
export const ROUTER_MODE = 'router';

/** The MODELSHIP_MODE of the node cache agent (the chart's DaemonSet; contract/nodecache.ts is its API). */
export const CACHE_MODE = 'cache';

/** Settings both the server and the router read under the same name. */
const SHARED_ENV = {
  host: 'MODELSHIP_HOST',
  port: 'MODELSHIP_PORT',
  metricsPort: 'MODELSHIP_METRICS_PORT',
  logLevel: 'MODELSHIP_LOG_LEVEL',
  shutdownDelayMs: 'MODELSHIP_SHUTDOWN_DELAY_MS',
  shutdownTimeoutMs: 'MODELSHIP_SHUTDOWN_TIMEOUT_MS',
} as const;

/** The inference server's variables, one per setting (each also a flag: `main.js --help` lists them). */
export const SERVER_ENV = {
  ...SHARED_ENV,
  modelUri: 'MODELSHIP_MODEL_URI',
  sha256: 'MODELSHIP_SHA256',
  /** The reference profile for drift (spec.model.profile): fetched like the model, digest checked. */
  profileUri: 'MODELSHIP_PROFILE_URI',
  profileSha256: 'MODELSHIP_PROFILE_SHA256',
  allowUnverified: 'MODELSHIP_ALLOW_UNVERIFIED',
  signaturePath: 'MODELSHIP_SIGNATURE',
  publicKeyPath: 'MODELSHIP_PUBLIC_KEY',
  name: 'MODELSHIP_MODEL_NAME',
  version: 'MODELSHIP_MODEL_VERSION',
  maxBatchSize: 'MODELSHIP_MAX_BATCH_SIZE',
  maxLatencyMs: 'MODELSHIP_MAX_LATENCY_MS',
  processes: 'MODELSHIP_PROCESSES',
  /** Inference worker threads per serving process. */
  workers: 'MODELSHIP_WORKERS',
  intraOpThreads: 'MODELSHIP_INTRA_OP_THREADS',
  cacheDir: 'MODELSHIP_CACHE_DIR',
  pvcRoot: 'MODELSHIP_PVC_ROOT',
  maxBodyBytes: 'MODELSHIP_MAX_BODY_SIZE',
  maxResponseBytes: 'MODELSHIP_MAX_RESPONSE_SIZE',
  authTokenFile: 'MODELSHIP_AUTH_TOKEN_FILE',
  terminationLogPath: 'MODELSHIP_TERMINATION_LOG',
} as const;

/** The router's variables (MODELSHIP_MODE=router). */
export const ROUTER_ENV = {
  ...SHARED_ENV,
  /** The namespace of the routes and stats ConfigMaps (the pod's own, from the downward API). */
  namespace: 'MODELSHIP_NAMESPACE',
  /** The pod's name (downward API): its stats document's key and name. */
  podName: 'MODELSHIP_POD_NAME',
  routesConfigMap: 'MODELSHIP_ROUTES_CONFIGMAP',
  routesFile: 'MODELSHIP_ROUTES_FILE',
  statsConfigMap: 'MODELSHIP_STATS_CONFIGMAP',
  /** The stats publishing period when the Routes document names none (0: no publishing). */
  statsIntervalMs: 'MODELSHIP_STATS_INTERVAL_MS',
  timeoutMs: 'MODELSHIP_ROUTER_TIMEOUT_MS',
  mirrorTimeoutMs: 'MODELSHIP_ROUTER_MIRROR_TIMEOUT_MS',
  mirrorMaxBytes: 'MODELSHIP_ROUTER_MIRROR_MAX_BYTES',
  maxMirrorsInFlight: 'MODELSHIP_ROUTER_MAX_MIRRORS_IN_FLIGHT',
  maxSocketsPerBackend: 'MODELSHIP_ROUTER_MAX_SOCKETS',
  connectRetryBudgetMs: 'MODELSHIP_ROUTER_CONNECT_RETRY_BUDGET_MS',
  /** Most requests one router pod holds for revisions at zero (routes' `hold`); past it, 503. */
  maxHeld: 'MODELSHIP_ROUTER_MAX_HELD',
  /** Where the routes' `tokenFile`s are, relative to which (see contract/routes.ts). */
  tokenDir: 'MODELSHIP_ROUTER_TOKEN_DIR',
  /** Most payload-log events (contract/payload-log.ts) one router pod queues for the sink; past it, dropped. */
  payloadQueue: 'MODELSHIP_ROUTER_PAYLOAD_QUEUE',
  /** Most payload-log bytes (bodies) one router pod queues for the sink; past it, dropped. */
  payloadQueueBytes: 'MODELSHIP_ROUTER_PAYLOAD_QUEUE_BYTES',
  /**
   * Most requests per second of each revision one router pod observes for drift (0: every one);
   * the others pass unobserved, so drift's cost stays bounded.
   */
  driftSampleRps: 'MODELSHIP_ROUTER_DRIFT_SAMPLE_RPS',
} as const;

/**
 * Where router pods find the revisions' auth tokens unless MODELSHIP_ROUTER_TOKEN_DIR says otherwise;
 * the operator mounts them there.
 */
export const DEFAULT_ROUTER_TOKEN_DIR = '/etc/modelship/router-tokens';

/** The node cache agent's variables (MODELSHIP_MODE=cache); the chart sets them on its DaemonSet. */
export const CACHE_ENV = {
  ...SHARED_ENV,
  /** The directory of cached models (the node's hostPath), one file per sha256. */
  cacheDir: 'MODELSHIP_CACHE_DIR',
  /** Bytes of models kept before the least recently used ones are evicted (0: no limit). */
  maxBytes: 'MODELSHIP_CACHE_MAX_BYTES',
  /** The longest a download the agent starts may take, whatever the requester asks for, in seconds. */
  maxTimeoutSeconds: 'MODELSHIP_CACHE_MAX_TIMEOUT_SECONDS',
} as const;
