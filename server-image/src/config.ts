/**
 * Server configuration: environment variables with ONE prefix (MODELSHIP_*) and equivalent
 * command-line flags (flags win). `parseConfig` is pure: it takes argv, env and the CPU count and
 * either returns a complete Config or throws a ConfigError whose message is one line naming the
 * offending variable or flag.
 */
import { parseArgs } from 'node:util';
import type { DataPlaneOptions } from './dataplane/types.js';
import type { LogLevel } from '../../common/log.js';

/** Everything the server process needs; data-plane fields are passed through unchanged. */
export interface Config {
  modelUri: string;
  sha256?: string;
  allowUnverified: boolean;
  signaturePath?: string;
  publicKeyPath?: string;
  name: string;
  version: string;
  host: string;
  port: number;
  metricsPort: number;
  batching: { maxBatchSize: number; maxLatencyMs: number };
  /** Serving processes; more than 1 runs a primary that shares the port among them. */
  processes: number;
  workers: number;
  intraOpThreads: number;
  cacheDir: string;
  pvcRoot: string;
  maxBodyBytes: number;
  /** Output data one answer may carry: binary outputs' bytes plus JSON outputs' data text. */
  maxResponseBytes: number;
  authTokenFile?: string;
  logLevel: LogLevel;
  terminationLogPath: string;
  /** Wait this long after SIGTERM (not ready, still serving) before closing listeners. */
  shutdownDelayMs: number;
  /** Hard deadline for a graceful shutdown; past it the process exits non-zero. */
  shutdownTimeoutMs: number;
}

/** An invalid configuration; the message is a single line fit for stderr. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Kind = 'string' | 'boolean' | 'port' | 'count' | 'nonNegative' | 'bytes' | 'sha256' | 'logLevel';

interface Setting {
  flag: string;
  env: string;
  kind: Kind;
  help: string;
}

/** Every setting, once: its flag, its environment variable, how to parse it. */
const SETTINGS = {
  modelUri: {
    flag: 'model-uri',
    env: 'MODELSHIP_MODEL_URI',
    kind: 'string',
    help: 'file://, http(s)://, pvc://<claim>/<path> or a path',
  },
  sha256: {
    flag: 'sha256',
    env: 'MODELSHIP_SHA256',
    kind: 'sha256',
    help: 'expected sha256 of the model file (64 hex)',
  },
  allowUnverified: {
    flag: 'allow-unverified',
    env: 'MODELSHIP_ALLOW_UNVERIFIED',
    kind: 'boolean',
    help: 'serve a model without a sha256',
  },
  signaturePath: {
    flag: 'signature',
    env: 'MODELSHIP_SIGNATURE',
    kind: 'string',
    help: 'file with a base64 Ed25519 signature over the digest',
  },
  publicKeyPath: {
    flag: 'public-key',
    env: 'MODELSHIP_PUBLIC_KEY',
    kind: 'string',
    help: 'PEM public key that checks the signature',
  },
  name: { flag: 'name', env: 'MODELSHIP_MODEL_NAME', kind: 'string', help: 'served model name (default: file name)' },
  version: {
    flag: 'version',
    env: 'MODELSHIP_MODEL_VERSION',
    kind: 'string',
    help: 'served model version (default 1)',
  },
  host: { flag: 'host', env: 'MODELSHIP_HOST', kind: 'string', help: 'listen address (default 0.0.0.0)' },
  port: { flag: 'port', env: 'MODELSHIP_PORT', kind: 'port', help: 'inference port (default 8080)' },
  metricsPort: {
    flag: 'metrics-port',
    env: 'MODELSHIP_METRICS_PORT',
    kind: 'port',
    help: 'metrics port (default 9090)',
  },
  maxBatchSize: {
    flag: 'max-batch-size',
    env: 'MODELSHIP_MAX_BATCH_SIZE',
    kind: 'count',
    help: 'rows per batch; 1 turns batching off (default 32)',
  },
  maxLatencyMs: {
    flag: 'max-latency-ms',
    env: 'MODELSHIP_MAX_LATENCY_MS',
    kind: 'nonNegative',
    help: 'longest wait, with a worker free, for a batch to fill (default 0)',
  },
  processes: {
    flag: 'processes',
    env: 'MODELSHIP_PROCESSES',
    kind: 'count',
    help: 'serving processes, each with its own copy of the model (default: CPU count)',
  },
  workers: {
    flag: 'workers',
    env: 'MODELSHIP_WORKERS',
    kind: 'count',
    help: 'inference worker threads per process (default: CPUs / processes)',
  },
  intraOpThreads: {
    flag: 'intra-op-threads',
    env: 'MODELSHIP_INTRA_OP_THREADS',
    kind: 'count',
    help: 'onnxruntime threads per worker (default 1)',
  },
  cacheDir: {
    flag: 'cache-dir',
    env: 'MODELSHIP_CACHE_DIR',
    kind: 'string',
    help: 'model download cache (default /var/cache/modelship)',
  },
  pvcRoot: {
    flag: 'pvc-root',
    env: 'MODELSHIP_PVC_ROOT',
    kind: 'string',
    help: 'where pvc:// claims are mounted (default /mnt/pvc)',
  },
  maxBodyBytes: {
    flag: 'max-body-size',
    env: 'MODELSHIP_MAX_BODY_SIZE',
    kind: 'bytes',
    help: 'request body limit, e.g. 32mb (default 32mb)',
  },
  maxResponseBytes: {
    flag: 'max-response-size',
    env: 'MODELSHIP_MAX_RESPONSE_SIZE',
    kind: 'bytes',
    help: 'output data one answer may carry, as JSON text or binary bytes; larger answers get a 400 (default 32mb)',
  },
  authTokenFile: {
    flag: 'auth-token-file',
    env: 'MODELSHIP_AUTH_TOKEN_FILE',
    kind: 'string',
    help: 'bearer tokens, one per line; auth off when unset',
  },
  logLevel: {
    flag: 'log-level',
    env: 'MODELSHIP_LOG_LEVEL',
    kind: 'logLevel',
    help: 'debug, info, warn or error (default info)',
  },
  terminationLogPath: {
    flag: 'termination-log',
    env: 'MODELSHIP_TERMINATION_LOG',
    kind: 'string',
    help: 'where a fatal message is written (default /dev/termination-log)',
  },
  shutdownDelayMs: {
    flag: 'shutdown-delay-ms',
    env: 'MODELSHIP_SHUTDOWN_DELAY_MS',
    kind: 'nonNegative',
    help: 'serve this long after SIGTERM while not ready (default 0)',
  },
  shutdownTimeoutMs: {
    flag: 'shutdown-timeout-ms',
    env: 'MODELSHIP_SHUTDOWN_TIMEOUT_MS',
    kind: 'count',
    help: 'hard deadline for graceful shutdown (default 25000)',
  },
} as const satisfies Record<string, Setting>;

type Key = keyof typeof SETTINGS;

/** One line per setting, for `--help`. */
export function usage(): string {
  const lines = Object.values(SETTINGS).map((s) => `  --${s.flag.padEnd(20)} ${s.env.padEnd(30)} ${s.help}`);
  return ['usage: main.js [flags]   (every flag also reads from its MODELSHIP_* variable)', ...lines].join('\n');
}

const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];
const BYTE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** Parse "123", "64kb", "32mb", "1gi", "2GiB" (binary multiples) into bytes. */
export function parseBytes(text: string): number | undefined {
  const m = /^\s*(\d+)\s*([kmg]?)(?:i?b)?\s*$/i.exec(text);
  if (!m) return undefined;
  const value = Number(m[1]) * BYTE_UNITS[m[2].toLowerCase()];
  return Number.isSafeInteger(value) && value > 0 ? value : undefined;
}

function convert(key: Key, source: string, raw: string | boolean): string | number | boolean {
  const setting: Setting = SETTINGS[key];
  const fail = (why: string): never => {
    throw new ConfigError(`invalid ${source}=${JSON.stringify(raw)}: ${why}`);
  };
  if (setting.kind === 'boolean') {
    if (typeof raw === 'boolean') return raw;
    const lower = raw.trim().toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(lower)) return true;
    if (['0', 'false', 'no', 'off', ''].includes(lower)) return false;
    return fail('expected true or false');
  }
  const text = String(raw).trim();
  switch (setting.kind) {
    case 'string':
      return text === '' ? fail('must not be empty') : text;
    case 'port': {
      const n = /^\d+$/.test(text) ? Number(text) : NaN;
      return Number.isInteger(n) && n >= 0 && n <= 65535 ? n : fail('expected a port number 0-65535');
    }
    case 'count': {
      const n = /^\d+$/.test(text) ? Number(text) : NaN;
      return Number.isSafeInteger(n) && n >= 1 ? n : fail('expected an integer >= 1');
    }
    case 'nonNegative': {
      const n = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
      return Number.isFinite(n) && n >= 0 ? n : fail('expected a number >= 0');
    }
    case 'bytes':
      return parseBytes(text) ?? fail('expected a size such as 1048576, 512kb or 32mb');
    case 'sha256':
      return /^[0-9a-fA-F]{64}$/.test(text) ? text.toLowerCase() : fail('expected 64 hexadecimal characters');
    case 'logLevel':
      return (LOG_LEVELS as readonly string[]).includes(text.toLowerCase())
        ? text.toLowerCase()
        : fail(`expected one of ${LOG_LEVELS.join(', ')}`);
  }
  return fail('unknown setting kind');
}

/**
 * CPUs this process may really use: the scheduler's count, capped by a cgroup v2 CPU quota
 * (`/sys/fs/cgroup/cpu.max`, e.g. "200000 100000" = 2 CPUs, "max 100000" = no quota). In a
 * container with a CPU limit, node's availableParallelism() still reports every core of the node,
 * and one inference worker per core would oversubscribe the quota.
 */
export function usableCpus(available: number, cpuMax: string | undefined): number {
  const m = /^\s*(\d+)\s+(\d+)\s*$/.exec(cpuMax ?? '');
  const quota = m ? Math.ceil(Number(m[1]) / Number(m[2])) : Infinity;
  return Math.max(1, Math.min(available, quota));
}

/** The served name when none is given: the model file's base name without `.onnx`. */
export function defaultModelName(uri: string): string {
  const path = uri.replace(/[?#].*$/, '');
  const base = path.slice(path.lastIndexOf('/') + 1).replace(/\.onnx$/i, '');
  const cleaned = base.replace(/[^A-Za-z0-9_.-]/g, '-');
  return cleaned === '' ? 'model' : cleaned;
}

/**
 * Build the Config from flags (`argv`, without node and script), environment and CPU count.
 * Flags override environment variables. Throws ConfigError on the first problem found.
 */
export function parseConfig(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  cpus: number,
): Config {
  const options = Object.fromEntries(
    Object.values(SETTINGS).map((s) => [
      s.flag,
      { type: s.kind === 'boolean' ? ('boolean' as const) : ('string' as const) },
    ]),
  );
  let flags: Record<string, string | boolean | undefined>;
  try {
    ({ values: flags } = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new ConfigError((err as Error).message.split('\n')[0]);
  }
  const values: Partial<Record<Key, string | number | boolean>> = {};
  for (const key of Object.keys(SETTINGS) as Key[]) {
    const s = SETTINGS[key];
    const flag = flags[s.flag];
    if (flag !== undefined) values[key] = convert(key, `--${s.flag}`, flag);
    else if (env[s.env] !== undefined) values[key] = convert(key, s.env, env[s.env] as string);
  }
  const modelUri = values.modelUri as string | undefined;
  if (!modelUri) throw new ConfigError(`missing model: set ${SETTINGS.modelUri.env} or --${SETTINGS.modelUri.flag}`);
  const allowUnverified = (values.allowUnverified as boolean | undefined) ?? false;
  const sha256 = values.sha256 as string | undefined;
  if (!sha256 && !allowUnverified) {
    throw new ConfigError(
      `missing ${SETTINGS.sha256.env} (or --${SETTINGS.sha256.flag}): models are verified unless ${SETTINGS.allowUnverified.env}=true`,
    );
  }
  const signaturePath = values.signaturePath as string | undefined;
  const publicKeyPath = values.publicKeyPath as string | undefined;
  if (Boolean(signaturePath) !== Boolean(publicKeyPath)) {
    throw new ConfigError(
      `${SETTINGS.signaturePath.env} and ${SETTINGS.publicKeyPath.env} go together: set both or neither`,
    );
  }
  if (signaturePath && !sha256) {
    throw new ConfigError(
      `${SETTINGS.signaturePath.env} signs the digest, so ${SETTINGS.sha256.env} is required with it`,
    );
  }
  const port = (values.port as number | undefined) ?? 8080;
  const processes = (values.processes as number | undefined) ?? Math.max(1, cpus);
  const metricsPort = (values.metricsPort as number | undefined) ?? 9090;
  if (port !== 0 && port === metricsPort) {
    throw new ConfigError(`${SETTINGS.port.env} and ${SETTINGS.metricsPort.env} must differ (both ${port})`);
  }
  return {
    modelUri,
    sha256,
    allowUnverified,
    signaturePath,
    publicKeyPath,
    name: (values.name as string | undefined) ?? defaultModelName(modelUri),
    version: (values.version as string | undefined) ?? '1',
    host: (values.host as string | undefined) ?? '0.0.0.0',
    port,
    metricsPort,
    batching: {
      maxBatchSize: (values.maxBatchSize as number | undefined) ?? 32,
      maxLatencyMs: (values.maxLatencyMs as number | undefined) ?? 0,
    },
    processes,
    workers: (values.workers as number | undefined) ?? Math.max(1, Math.floor(cpus / processes)),
    intraOpThreads: (values.intraOpThreads as number | undefined) ?? 1,
    cacheDir: (values.cacheDir as string | undefined) ?? '/var/cache/modelship',
    pvcRoot: (values.pvcRoot as string | undefined) ?? '/mnt/pvc',
    maxBodyBytes: (values.maxBodyBytes as number | undefined) ?? 32 * 1024 ** 2,
    // As large as the largest request: an identity model may answer what it was sent, in binary.
    maxResponseBytes: (values.maxResponseBytes as number | undefined) ?? 32 * 1024 ** 2,
    authTokenFile: values.authTokenFile as string | undefined,
    logLevel: ((values.logLevel as string | undefined) ?? 'info') as LogLevel,
    terminationLogPath: (values.terminationLogPath as string | undefined) ?? '/dev/termination-log',
    shutdownDelayMs: (values.shutdownDelayMs as number | undefined) ?? 0,
    shutdownTimeoutMs: (values.shutdownTimeoutMs as number | undefined) ?? 25_000,
  };
}

/** The data plane's share of the configuration. */
export function dataPlaneOptions(config: Config): DataPlaneOptions {
  return {
    modelUri: config.modelUri,
    sha256: config.sha256,
    allowUnverified: config.allowUnverified,
    signaturePath: config.signaturePath,
    publicKeyPath: config.publicKeyPath,
    name: config.name,
    version: config.version,
    cacheDir: config.cacheDir,
    pvcRoot: config.pvcRoot,
    batching: config.batching,
    workers: config.workers,
    intraOpThreads: config.intraOpThreads,
  };
}
