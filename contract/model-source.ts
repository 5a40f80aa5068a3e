/**
 * Part of the cross-process contract (contract/): how a model server learns where its model is kept
 * and how to reach the store, and how it tells the operator why its model could not be had.
 *
 * The operator writes spec.model.storage into the server's environment (STORAGE_ENV) and mounts the
 * Secret spec.model.storage.secretRef names as a directory whose files are named by
 * STORAGE_SECRET_KEYS. When a fetch or the model's verification fails, the server leaves
 * `<reason>: <message>` as the container's termination message (formatModelFailure); the operator
 * reads the reason back (parseModelFailure) into the ModelDeployment's status, and reads nothing
 * else there as a reason: when a container is killed, Kubernetes shows its last log lines instead.
 * Messages name the URI without credentials.
 */

/** The URI schemes a model may come from. */
export const MODEL_SCHEMES = ['file', 'pvc', 'http', 'https', 's3', 'gs', 'oci'] as const;

/** One of MODEL_SCHEMES. */
export type ModelScheme = (typeof MODEL_SCHEMES)[number];

/** The schemes fetched over the network: these go through the node cache when one is configured. */
export const REMOTE_SCHEMES: readonly ModelScheme[] = ['http', 'https', 's3', 'gs', 'oci'];

/** Environment variables for the store (all optional; the operator sets only what the spec gives). */
export const STORAGE_ENV = {
  /** s3: the S3 API's URL (MinIO, Ceph, R2...); gs: the JSON API's URL (emulators, private endpoints). */
  endpoint: 'MODELSHIP_STORAGE_ENDPOINT',
  /** s3: the bucket's region (default us-east-1). */
  region: 'MODELSHIP_STORAGE_REGION',
  /** s3: address the bucket in the path (`endpoint/bucket/key`), as MinIO and most S3-compatible stores need. */
  pathStyle: 'MODELSHIP_STORAGE_PATH_STYLE',
  /** oci: the registry speaks plain HTTP (a local registry). */
  plainHttp: 'MODELSHIP_STORAGE_PLAIN_HTTP',
  /** A directory holding the credentials Secret's keys (STORAGE_SECRET_KEYS); unset: anonymous. */
  credentialsDir: 'MODELSHIP_STORAGE_CREDENTIALS_DIR',
  /** A PEM file of CA certificates trusted for the store, beside the system's. */
  caFile: 'MODELSHIP_STORAGE_CA_FILE',
  /** The whole fetch's deadline, retries included, in seconds. */
  timeoutSeconds: 'MODELSHIP_STORAGE_TIMEOUT_SECONDS',
  /** The node cache agent's URL on this node (unset: every pod fetches for itself). */
  nodeCacheUrl: 'MODELSHIP_NODE_CACHE_URL',
} as const;

/** The fetch deadline when the spec gives none: well inside the server's 600 s startup probe. */
export const DEFAULT_STORAGE_TIMEOUT_SECONDS = 300;

/**
 * The keys read from the credentials Secret. The names are KServe's and Kubernetes' own, so a
 * Secret made for them works here unchanged.
 */
export const STORAGE_SECRET_KEYS = {
  /** s3: access key id and secret (and a session token for temporary credentials). */
  s3AccessKeyId: 'AWS_ACCESS_KEY_ID',
  s3SecretAccessKey: 'AWS_SECRET_ACCESS_KEY',
  s3SessionToken: 'AWS_SESSION_TOKEN',
  /** gs: a service account's JSON key. */
  gcsServiceAccount: 'gcloud-application-credentials.json',
  /** oci: a `kubernetes.io/dockerconfigjson` Secret's key, as imagePullSecrets use. */
  ociDockerConfig: '.dockerconfigjson',
} as const;

/** Why a model could not be fetched; each becomes the reason of the ModelDeployment's condition. */
export const FETCH_FAILURE_REASONS = [
  /** The object, bucket, repository or tag does not exist. */
  'ModelNotFound',
  /** The store refused the credentials (or their absence). */
  'ModelAccessDenied',
  /** The content's sha256 (or an oci:// digest) is not the one the spec pins. */
  'ModelDigestMismatch',
  /** The fetch's deadline passed, retries included. */
  'ModelFetchTimeout',
  /** The URI or the storage settings cannot be used (malformed, unsupported artifact...). */
  'ModelSourceInvalid',
  /** The store kept failing (5xx, connection refused) until the retries ran out. */
  'ModelSourceUnavailable',
] as const;

/** One of FETCH_FAILURE_REASONS. */
export type FetchFailureReason = (typeof FETCH_FAILURE_REASONS)[number];

/**
 * Why a server refused its model: a failed fetch (FETCH_FAILURE_REASONS), or a model whose sha256
 * or signature is not the one the spec pins.
 */
export const MODEL_FAILURE_REASONS = [...FETCH_FAILURE_REASONS, 'ModelVerificationFailed'] as const;

/** One of MODEL_FAILURE_REASONS. */
export type ModelFailureReason = (typeof MODEL_FAILURE_REASONS)[number];

/** The termination message of a server that refused its model: `<reason>: <message>`. */
export function formatModelFailure(reason: ModelFailureReason, message: string): string {
  return `${reason}: ${message}`;
}

/** The reason and message of a termination message written by formatModelFailure, else undefined. */
export function parseModelFailure(text: string): { reason: ModelFailureReason; message: string } | undefined {
  const match = /^(\w+): ([\s\S]*)$/.exec(text.trim());
  if (match === null) return undefined;
  const reason = MODEL_FAILURE_REASONS.find((r) => r === match[1]);
  return reason === undefined ? undefined : { reason, message: match[2] };
}
