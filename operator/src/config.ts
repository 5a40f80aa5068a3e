/**
 * Operator settings from command-line flags, falling back to MODELSHIP_* environment variables,
 * then defaults. Pure: argv, env and hostname/pid come in as arguments, errors name the flag.
 */
import { parseArgs } from 'node:util';
import type { LogLevel as Level } from '../../common/log.js';

/** Everything main.ts needs to run the operator. */
export interface OperatorConfig {
  /** Kubeconfig file; undefined = default chain (KUBECONFIG, ~/.kube/config, in-cluster). */
  kubeconfig?: string;
  /** Namespace to watch; undefined = all namespaces. */
  namespace?: string;
  workers: number;
  serverImage: string;
  routerImage?: string;
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

const FLAGS = {
  kubeconfig: { type: 'string', env: 'KUBECONFIG_FILE' },
  namespace: { type: 'string', env: 'MODELSHIP_WATCH_NAMESPACE' },
  workers: { type: 'string', env: 'MODELSHIP_WORKERS' },
  'server-image': { type: 'string', env: 'MODELSHIP_SERVER_IMAGE' },
  'router-image': { type: 'string', env: 'MODELSHIP_ROUTER_IMAGE' },
  'metrics-host': { type: 'string', env: 'MODELSHIP_METRICS_HOST' },
  'metrics-port': { type: 'string', env: 'MODELSHIP_METRICS_PORT' },
  'leader-elect': { type: 'string', env: 'MODELSHIP_LEADER_ELECT' },
  'lease-namespace': { type: 'string', env: 'MODELSHIP_LEASE_NAMESPACE' },
  'lease-name': { type: 'string', env: 'MODELSHIP_LEASE_NAME' },
  identity: { type: 'string', env: 'POD_NAME' },
  'resync-seconds': { type: 'string', env: 'MODELSHIP_RESYNC_SECONDS' },
  'log-level': { type: 'string', env: 'MODELSHIP_LOG_LEVEL' },
} as const;

type FlagName = keyof typeof FLAGS;

function integer(name: FlagName, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new Error(`--${name}: "${raw}" is not an integer in [${min}, ${max}]`);
  return n;
}

function boolean(name: FlagName, raw: string | undefined, fallback: boolean): boolean {
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  throw new Error(`--${name}: "${raw}" is not true or false`);
}

/** Parses argv (without node and script) and env into a config, or throws naming the bad flag. */
export function parseConfig(
  argv: string[],
  env: Record<string, string | undefined>,
  host: { hostname: string; pid: number },
): OperatorConfig {
  const options = Object.fromEntries(Object.keys(FLAGS).map((k) => [k, { type: 'string' as const }]));
  let parsed: Record<string, string | undefined>;
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as Record<
      string,
      string | undefined
    >;
  } catch (err) {
    throw new Error(`parse flags: ${(err as Error).message}`, { cause: err });
  }
  const get = (name: FlagName): string | undefined => {
    const v = parsed[name] ?? env[FLAGS[name].env];
    return v === '' ? undefined : v;
  };
  const logLevel = get('log-level') ?? 'info';
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel))
    throw new Error(`--log-level: "${logLevel}" is not debug, info, warn or error`);
  return {
    kubeconfig: get('kubeconfig'),
    namespace: get('namespace'),
    workers: integer('workers', get('workers'), 4, 1, 64),
    serverImage: get('server-image') ?? DEFAULT_SERVER_IMAGE,
    routerImage: get('router-image'),
    metricsHost: get('metrics-host') ?? '0.0.0.0',
    metricsPort: integer('metrics-port', get('metrics-port'), 8080, 0, 65535),
    leaderElect: boolean('leader-elect', get('leader-elect'), true),
    leaseNamespace: get('lease-namespace') ?? env.POD_NAMESPACE ?? 'default',
    leaseName: get('lease-name') ?? 'modelship-operator',
    identity: get('identity') ?? `${host.hostname}-${host.pid}`,
    resyncSeconds: integer('resync-seconds', get('resync-seconds'), 300, 0, 86_400),
    logLevel: logLevel as Level,
  };
}
