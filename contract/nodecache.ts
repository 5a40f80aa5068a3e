/**
 * Part of the cross-process contract (contract/): what a model server and its node's cache agent
 * (MODELSHIP_MODE=cache, one per node, reached through a Service with internalTrafficPolicy: Local)
 * say to each other.
 *
 * The server POSTs a NodeCacheRequest (the model's URI and pinned sha256, the store settings and the
 * credentials mounted in the server's pod) to NODE_CACHE_ROUTES.models. The agent answers 200 with
 * the model's bytes, or a NodeCacheError with the status NODE_CACHE_STATUS gives its reason. The
 * server re-hashes what it receives: the agent is never trusted with the digest.
 *
 * An error without a reason is the agent's own failure (its disk, its limits), not the store's
 * answer: the server then fetches directly, as it does when the agent cannot be reached.
 */
import { FETCH_FAILURE_REASONS, type FetchFailureReason } from './model-source.js';

/** The agent's HTTP routes. Probes and metrics answer GET; the models route POST. */
export const NODE_CACHE_ROUTES = {
  /** POST a NodeCacheRequest; 200 streams the model. */
  models: '/v1/models',
  /** Liveness: the process answers. */
  live: '/healthz',
  /** Readiness: the cache directory was scanned and is writable. */
  ready: '/readyz',
} as const;

/** Response headers of a 200 from the models route. */
export const NODE_CACHE_HEADERS = {
  /** The sha256 (hex) of the bytes that follow, as the agent verified them. */
  sha256: 'x-modelship-sha256',
  /** `hit` (served from the node's disk) or `miss` (downloaded for this request, or one it joined). */
  cache: 'x-modelship-cache',
} as const;

/** The models route's largest request body: credentials and a CA bundle fit well inside it. */
export const NODE_CACHE_MAX_REQUEST_BYTES = 1024 * 1024;

/** The agent's port for the models route and its probes when the chart names none. */
export const NODE_CACHE_DEFAULT_PORT = 8090;

/** S3 credentials as the pod has them (STORAGE_SECRET_KEYS' AWS_* files). */
export interface NodeCacheS3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** The credentials mounted in the requesting pod; an absent field means anonymous for that scheme. */
export interface NodeCacheCredentials {
  s3?: NodeCacheS3Credentials;
  /** A GCS service account's JSON key, as text. */
  gcsServiceAccountJson?: string;
  /** A `.dockerconfigjson` document, as text. */
  ociDockerConfigJson?: string;
}

/** How to reach the store: the pod's STORAGE_ENV settings. */
export interface NodeCacheSettings {
  endpoint?: string;
  region?: string;
  pathStyle?: boolean;
  plainHttp?: boolean;
  /** PEM CA certificates trusted beside the system's. */
  caPem?: string;
}

/** The body of a POST to NODE_CACHE_ROUTES.models. */
export interface NodeCacheRequest {
  /** The model's URI, as the ModelDeployment names it (it may carry credentials: never log it as is). */
  uri: string;
  /** The model's pinned sha256, 64 lowercase hex digits: the agent keeps and serves nothing else. */
  sha256: string;
  settings: NodeCacheSettings;
  credentials: NodeCacheCredentials;
  /** The requester's whole-fetch deadline; the agent gives a download it starts no longer. */
  timeoutSeconds?: number;
}

/** The body of every non-200 answer of the agent. */
export interface NodeCacheError {
  /** What failed, naming the URI without credentials. */
  error: string;
  /** The store's answer; absent when the agent itself failed (the requester then fetches directly). */
  reason?: FetchFailureReason;
}

/** The HTTP status the agent answers each fetch failure with. */
export const NODE_CACHE_STATUS: Record<FetchFailureReason, number> = {
  ModelNotFound: 404,
  ModelAccessDenied: 403,
  ModelDigestMismatch: 502,
  ModelFetchTimeout: 504,
  ModelSourceInvalid: 400,
  ModelSourceUnavailable: 503,
};

const SHA256 = /^[0-9a-f]{64}$/;

type Parsed = { ok: true; request: NodeCacheRequest } | { ok: false; error: string };

function optionalString(obj: Record<string, unknown>, key: string, where: string): string | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new TypeError(`${where}.${key} must be a string`);
  return value;
}

function optionalBoolean(obj: Record<string, unknown>, key: string, where: string): boolean | undefined {
  const value = obj[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw new TypeError(`${where}.${key} must be true or false`);
  return value;
}

function object(value: unknown, where: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new TypeError(`${where} must be an object`);
  return value as Record<string, unknown>;
}

function parseS3(value: unknown): NodeCacheS3Credentials | undefined {
  if (value === undefined || value === null) return undefined;
  const s3 = object(value, 'credentials.s3');
  const accessKeyId = optionalString(s3, 'accessKeyId', 'credentials.s3');
  const secretAccessKey = optionalString(s3, 'secretAccessKey', 'credentials.s3');
  if (accessKeyId === undefined || secretAccessKey === undefined) {
    throw new TypeError('credentials.s3 needs accessKeyId and secretAccessKey');
  }
  const sessionToken = optionalString(s3, 'sessionToken', 'credentials.s3');
  return { accessKeyId, secretAccessKey, ...(sessionToken === undefined ? {} : { sessionToken }) };
}

/** Drops the keys whose value is undefined, so a parsed document compares equal to what was meant. */
function defined<T extends object>(obj: T): T {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined)) as T;
}

/**
 * Validates a decoded models-route body. The error names the field and never echoes a value
 * (credentials travel in this document).
 */
export function parseNodeCacheRequest(value: unknown): Parsed {
  try {
    const body = object(value, 'the request');
    const uri = optionalString(body, 'uri', 'request');
    if (uri === undefined || uri === '') throw new TypeError('request.uri is required');
    const sha256 = optionalString(body, 'sha256', 'request');
    if (sha256 === undefined || !SHA256.test(sha256)) {
      throw new TypeError(
        'request.sha256 is required: 64 lowercase hex digits (the node cache keeps only verified models)',
      );
    }
    const s = object(body.settings, 'request.settings');
    const settings = defined<NodeCacheSettings>({
      endpoint: optionalString(s, 'endpoint', 'settings'),
      region: optionalString(s, 'region', 'settings'),
      pathStyle: optionalBoolean(s, 'pathStyle', 'settings'),
      plainHttp: optionalBoolean(s, 'plainHttp', 'settings'),
      caPem: optionalString(s, 'caPem', 'settings'),
    });
    const c = object(body.credentials, 'request.credentials');
    const credentials = defined<NodeCacheCredentials>({
      s3: parseS3(c.s3),
      gcsServiceAccountJson: optionalString(c, 'gcsServiceAccountJson', 'credentials'),
      ociDockerConfigJson: optionalString(c, 'ociDockerConfigJson', 'credentials'),
    });
    const timeout = body.timeoutSeconds;
    if (timeout !== undefined && (typeof timeout !== 'number' || !Number.isInteger(timeout) || timeout < 1)) {
      throw new TypeError('request.timeoutSeconds must be a positive integer');
    }
    return {
      ok: true,
      request: defined<NodeCacheRequest>({ uri, sha256, settings, credentials, timeoutSeconds: timeout }),
    };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

/** The error document of a non-200 answer, or undefined when the body is not one (something else answered). */
export function parseNodeCacheError(text: string): NodeCacheError | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const { error, reason } = value as Record<string, unknown>;
  if (typeof error !== 'string') return undefined;
  const known = FETCH_FAILURE_REASONS.find((r) => r === reason);
  return known === undefined ? { error } : { error, reason: known };
}
