/**
 * Server configuration: environment variables with ONE prefix (MODELSHIP_*) and equivalent
 * command-line flags (flags win). `parseConfig` is pure: it takes argv, env and the CPU count and
 * either returns a complete Config or throws a ConfigError whose message is one line naming the
 * offending variable or flag.
 */
import { SERVER_ENV } from '../../contract/env.js';
import { DEFAULT_STORAGE_TIMEOUT_SECONDS, STORAGE_ENV } from '../../contract/model-source.js';
import { ConfigError, parseFlags, Settings } from '../../contract/settings.js';
import type { DataPlaneOptions, StorageOptions } from './dataplane/types.js';
import type { LogLevel } from '../../common/log.js';

/** Everything the server process needs; data-plane fields are passed through unchanged. */
export interface Config {
  modelUri: string;
  sha256?: string;
  allowUnverified: boolean;
  signaturePath?: string;
  publicKeyPath?: string;
  /** The drift reference profile (model/profile.ts): fetched like the model, its digest checked. */
  profileUri?: string;
  profileSha256?: string;
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
  /** How to reach a remote model's store (s3://, gs://, oci://, http(s)://). */
  storage: StorageOptions;
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

interface Setting {
  flag: string;
  env: string;
  /** A flag that takes no value. */
  boolean?: true;
  help: string;
}

/** Every setting, once: its flag, its environment variable, its help line. */
const SETTINGS = {
  modelUri: {
    flag: 'model-uri',
    env: SERVER_ENV.modelUri,
    help: 's3://, gs://, oci://, http(s)://, pvc://<claim>/<path>, file:// or a path',
  },
  sha256: { flag: 'sha256', env: SERVER_ENV.sha256, help: 'expected sha256 of the model file (64 hex)' },
  allowUnverified: {
    flag: 'allow-unverified',
    env: SERVER_ENV.allowUnverified,
    boolean: true,
    help: 'serve a model without a sha256',
  },
  signaturePath: {
    flag: 'signature',
    env: SERVER_ENV.signaturePath,
    help: 'file with a base64 Ed25519 signature over the digest',
  },
  publicKeyPath: {
    flag: 'public-key',
    env: SERVER_ENV.publicKeyPath,
    help: 'PEM public key that checks the signature',
  },
  profileUri: {
    flag: 'profile-uri',
    env: SERVER_ENV.profileUri,
    help: "the model's drift reference profile, from the same stores as the model",
  },
  profileSha256: {
    flag: 'profile-sha256',
    env: SERVER_ENV.profileSha256,
    help: 'expected sha256 of the profile (64 hex)',
  },
  name: { flag: 'name', env: SERVER_ENV.name, help: 'served model name (default: file name)' },
  version: { flag: 'version', env: SERVER_ENV.version, help: 'served model version (default 1)' },
  host: { flag: 'host', env: SERVER_ENV.host, help: 'listen address (default 0.0.0.0)' },
  port: { flag: 'port', env: SERVER_ENV.port, help: 'inference port (default 8080)' },
  metricsPort: { flag: 'metrics-port', env: SERVER_ENV.metricsPort, help: 'metrics port (default 9090)' },
  maxBatchSize: {
    flag: 'max-batch-size',
    env: SERVER_ENV.maxBatchSize,
    help: 'rows per batch; 1 turns batching off (default 32)',
  },
  maxLatencyMs: {
    flag: 'max-latency-ms',
    env: SERVER_ENV.maxLatencyMs,
    help: 'longest wait, with a worker free, for a batch to fill (default 0)',
  },
  processes: {
    flag: 'processes',
    env: SERVER_ENV.processes,
    help: 'serving processes, each with its own copy of the model (default: CPU count)',
  },
  workers: {
    flag: 'workers',
    env: SERVER_ENV.workers,
    help: 'inference worker threads per process (default: CPUs / processes)',
  },
  intraOpThreads: {
    flag: 'intra-op-threads',
    env: SERVER_ENV.intraOpThreads,
    help: 'onnxruntime threads per worker (default 1)',
  },
  cacheDir: {
    flag: 'cache-dir',
    env: SERVER_ENV.cacheDir,
    help: 'model download cache (default /var/cache/modelship)',
  },
  pvcRoot: { flag: 'pvc-root', env: SERVER_ENV.pvcRoot, help: 'where pvc:// claims are mounted (default /mnt/pvc)' },
  storageEndpoint: {
    flag: 'storage-endpoint',
    env: STORAGE_ENV.endpoint,
    help: "s3: the S3 API's URL; gs: the JSON API's URL (default: the provider's)",
  },
  storageRegion: {
    flag: 'storage-region',
    env: STORAGE_ENV.region,
    help: "s3: the bucket's region (default us-east-1)",
  },
  storagePathStyle: {
    flag: 'storage-path-style',
    env: STORAGE_ENV.pathStyle,
    boolean: true,
    help: 's3: address the bucket in the path, as MinIO needs',
  },
  storagePlainHttp: {
    flag: 'storage-plain-http',
    env: STORAGE_ENV.plainHttp,
    boolean: true,
    help: 'oci: the registry speaks plain HTTP',
  },
  storageCredentialsDir: {
    flag: 'storage-credentials-dir',
    env: STORAGE_ENV.credentialsDir,
    help: "the store's credentials, one file per key (AWS_ACCESS_KEY_ID...); unset: anonymous",
  },
  storageCaFile: {
    flag: 'storage-ca-file',
    env: STORAGE_ENV.caFile,
    help: 'PEM CA certificates trusted for the store, beside the system ones',
  },
  storageTimeoutSeconds: {
    flag: 'storage-timeout-seconds',
    env: STORAGE_ENV.timeoutSeconds,
    help: `deadline of a remote model's whole fetch, retries included (default ${DEFAULT_STORAGE_TIMEOUT_SECONDS})`,
  },
  nodeCacheUrl: {
    flag: 'node-cache-url',
    env: STORAGE_ENV.nodeCacheUrl,
    help: "the node cache agent's URL (unset: fetch directly)",
  },
  maxBodyBytes: {
    flag: 'max-body-size',
    env: SERVER_ENV.maxBodyBytes,
    help: 'request body limit, e.g. 32mb (default 32mb)',
  },
  maxResponseBytes: {
    flag: 'max-response-size',
    env: SERVER_ENV.maxResponseBytes,
    help: 'output data one answer may carry, as JSON text or binary bytes; larger answers get a 400 (default 32mb)',
  },
  authTokenFile: {
    flag: 'auth-token-file',
    env: SERVER_ENV.authTokenFile,
    help: 'bearer tokens, one per line; auth off when unset',
  },
  logLevel: { flag: 'log-level', env: SERVER_ENV.logLevel, help: 'debug, info, warn or error (default info)' },
  terminationLogPath: {
    flag: 'termination-log',
    env: SERVER_ENV.terminationLogPath,
    help: 'where a fatal message is written (default /dev/termination-log)',
  },
  shutdownDelayMs: {
    flag: 'shutdown-delay-ms',
    env: SERVER_ENV.shutdownDelayMs,
    help: 'serve this long after SIGTERM while not ready (default 0)',
  },
  shutdownTimeoutMs: {
    flag: 'shutdown-timeout-ms',
    env: SERVER_ENV.shutdownTimeoutMs,
    help: 'hard deadline for graceful shutdown (default 25000)',
  },
} as const satisfies Record<string, Setting>;

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

/**
 * The served name when none is given: the model file's base name without `.onnx`; for oci://, the
 * repository's last part without its tag or digest.
 */
export function defaultModelName(uri: string): string {
  let path = uri.replace(/[?#].*$/, '');
  if (/^oci:\/\//i.test(path)) path = path.replace(/@[^/]*$/, '').replace(/:[^/:]*$/, '');
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
  const settings = new Settings(env, parseFlags(argv, Object.values(SETTINGS)));
  const S = SETTINGS;
  const modelUri = settings.string(S.modelUri, undefined);
  if (!modelUri) throw new ConfigError(`missing model: set ${S.modelUri.env} or --${S.modelUri.flag}`);
  const sha256 = settings.parsed(S.sha256, undefined, 'expected 64 hexadecimal characters', (text) =>
    /^[0-9a-fA-F]{64}$/.test(text) ? text.toLowerCase() : undefined,
  );
  const allowUnverified = settings.boolean(S.allowUnverified, false);
  if (!sha256 && !allowUnverified) {
    throw new ConfigError(
      `missing ${S.sha256.env} (or --${S.sha256.flag}): models are verified unless ${S.allowUnverified.env}=true`,
    );
  }
  const signaturePath = settings.string(S.signaturePath, undefined);
  const publicKeyPath = settings.string(S.publicKeyPath, undefined);
  if (Boolean(signaturePath) !== Boolean(publicKeyPath)) {
    throw new ConfigError(`${S.signaturePath.env} and ${S.publicKeyPath.env} go together: set both or neither`);
  }
  if (signaturePath && !sha256) {
    throw new ConfigError(`${S.signaturePath.env} signs the digest, so ${S.sha256.env} is required with it`);
  }
  const profileUri = settings.string(S.profileUri, undefined) || undefined;
  const profileSha256 = settings.parsed(S.profileSha256, undefined, 'expected 64 hexadecimal characters', (text) =>
    /^[0-9a-fA-F]{64}$/.test(text) ? text.toLowerCase() : undefined,
  );
  if (profileSha256 && !profileUri) throw new ConfigError(`${S.profileSha256.env} needs ${S.profileUri.env}`);
  if (profileUri && !profileSha256 && !allowUnverified) {
    throw new ConfigError(
      `missing ${S.profileSha256.env} (or --${S.profileSha256.flag}): profiles are verified unless ${S.allowUnverified.env}=true`,
    );
  }
  const port = settings.port(S.port, 8080);
  const metricsPort = settings.port(S.metricsPort, 9090);
  if (port !== 0 && port === metricsPort) {
    throw new ConfigError(`${S.port.env} and ${S.metricsPort.env} must differ (both ${port})`);
  }
  const processes = settings.integer(S.processes, Math.max(1, cpus), 1);
  const bytes = (name: Setting, fallback: number) =>
    settings.parsed(name, fallback, 'expected a size such as 1048576, 512kb or 32mb', parseBytes);
  const httpUrl = (text: string): string | undefined => {
    try {
      return ['http:', 'https:'].includes(new URL(text).protocol) ? text : undefined;
    } catch {
      return undefined;
    }
  };
  const storage: StorageOptions = {
    endpoint: settings.parsed(S.storageEndpoint, undefined, 'expected an http:// or https:// URL', httpUrl),
    region: settings.string(S.storageRegion, undefined),
    pathStyle: settings.boolean(S.storagePathStyle, false),
    plainHttp: settings.boolean(S.storagePlainHttp, false),
    credentialsDir: settings.string(S.storageCredentialsDir, undefined),
    caFile: settings.string(S.storageCaFile, undefined),
    timeoutSeconds: settings.integer(S.storageTimeoutSeconds, DEFAULT_STORAGE_TIMEOUT_SECONDS, 1, 3600),
    nodeCacheUrl: settings.parsed(S.nodeCacheUrl, undefined, 'expected an http:// or https:// URL', httpUrl),
  };
  return {
    modelUri,
    sha256,
    allowUnverified,
    signaturePath,
    publicKeyPath,
    ...(profileUri ? { profileUri } : {}),
    ...(profileSha256 ? { profileSha256 } : {}),
    name: settings.string(S.name, defaultModelName(modelUri)),
    version: settings.string(S.version, '1'),
    host: settings.string(S.host, '0.0.0.0'),
    port,
    metricsPort,
    batching: {
      maxBatchSize: settings.integer(S.maxBatchSize, 32, 1),
      maxLatencyMs: settings.nonNegative(S.maxLatencyMs, 0),
    },
    processes,
    workers: settings.integer(S.workers, Math.max(1, Math.floor(cpus / processes)), 1),
    intraOpThreads: settings.integer(S.intraOpThreads, 1, 1),
    cacheDir: settings.string(S.cacheDir, '/var/cache/modelship'),
    pvcRoot: settings.string(S.pvcRoot, '/mnt/pvc'),
    storage,
    maxBodyBytes: bytes(S.maxBodyBytes, 32 * 1024 ** 2),
    // As large as the largest request: an identity model may answer what it was sent, in binary.
    maxResponseBytes: bytes(S.maxResponseBytes, 32 * 1024 ** 2),
    authTokenFile: settings.string(S.authTokenFile, undefined),
    logLevel: settings.choice(S.logLevel, 'info', LOG_LEVELS),
    terminationLogPath: settings.string(S.terminationLogPath, '/dev/termination-log'),
    shutdownDelayMs: settings.nonNegative(S.shutdownDelayMs, 0),
    shutdownTimeoutMs: settings.integer(S.shutdownTimeoutMs, 25_000, 1),
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
    storage: config.storage,
    logLevel: config.logLevel,
    batching: config.batching,
    workers: config.workers,
    intraOpThreads: config.intraOpThreads,
  };
}
