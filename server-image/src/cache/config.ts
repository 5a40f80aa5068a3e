/**
 * The node cache agent's configuration from MODELSHIP_* variables (contract/env.ts CACHE_ENV; the
 * chart's DaemonSet sets them). `parseCacheConfig` is pure: the environment in, a complete config or
 * a one-line ConfigError naming the variable out.
 */
import { CACHE_ENV } from '../../../contract/env.js';
import { NODE_CACHE_DEFAULT_PORT } from '../../../contract/nodecache.js';
import { Settings, type Env } from '../../../contract/settings.js';
import type { LogLevel } from '../../../common/log.js';

/** Everything the agent process needs. */
export interface CacheConfig {
  host: string;
  port: number;
  metricsPort: number;
  cacheDir: string;
  /** Bytes of models kept before LRU eviction; 0: no limit. */
  maxBytes: number;
  /** The longest a download may run, whatever the requester's own deadline. */
  maxTimeoutSeconds: number;
  logLevel: LogLevel;
  shutdownDelayMs: number;
  shutdownTimeoutMs: number;
}

const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

const UNITS: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
};

/** Bytes written as a Kubernetes quantity (`50Gi`, `500M`, `1073741824`), or undefined. */
export function parseBytes(text: string): number | undefined {
  const match = /^(\d+)([kMGT]i?|Ki)?$/.exec(text);
  if (match === null) return undefined;
  const unit = UNITS[match[2] ?? ''];
  if (unit === undefined) return undefined;
  const bytes = Number(match[1]) * unit;
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** Reads the agent's configuration. */
export function parseCacheConfig(env: Env): CacheConfig {
  const settings = new Settings(env);
  return {
    host: settings.string(CACHE_ENV.host, '0.0.0.0'),
    port: settings.port(CACHE_ENV.port, NODE_CACHE_DEFAULT_PORT),
    metricsPort: settings.port(CACHE_ENV.metricsPort, 9090),
    cacheDir: settings.string(CACHE_ENV.cacheDir, '/var/cache/modelship'),
    maxBytes: settings.parsed(CACHE_ENV.maxBytes, 0, 'expected bytes such as 53687091200, 50Gi or 500M', parseBytes),
    maxTimeoutSeconds: settings.integer(CACHE_ENV.maxTimeoutSeconds, 3600, 10, 86_400),
    logLevel: settings.choice(CACHE_ENV.logLevel, 'info', LOG_LEVELS),
    shutdownDelayMs: settings.integer(CACHE_ENV.shutdownDelayMs, 0, 0, 600_000),
    shutdownTimeoutMs: settings.integer(CACHE_ENV.shutdownTimeoutMs, 25_000, 1, 600_000),
  };
}
