/**
 * The data plane's contract: what the HTTP adapters (`../http/`) may call. It knows nothing of HTTP;
 * protocol adapters decode requests into these types and encode responses from them.
 */
import type { DataType, ModelMetadata } from '../../../contract/metadata.js';
import type { LogLevel } from '../../../common/log.js';
import type { FetchFailureReason } from '../../../contract/model-source.js';

/**
 * Tensor contents, flat in row-major order. BOOL is a Uint8Array of 0/1, INT64/UINT64 are bigint
 * arrays, BYTES is one string per element. A BYTES element's bytes are its string's UTF-8: that is
 * what onnxruntime-node gives the model for a string tensor, so elements that are not valid UTF-8
 * (or, from JSON, strings with lone surrogates) are refused where they are decoded, never altered.
 */
export type TensorData =
  | Float32Array
  | Float64Array
  | Int8Array
  | Int16Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array
  | Uint32Array
  | BigUint64Array
  | string[];

/** A concrete tensor in a request or response. */
export interface Tensor {
  name: string;
  datatype: DataType;
  shape: number[];
  data: TensorData;
  parameters?: Record<string, unknown>;
}

/** One inference request, already decoded from whichever protocol carried it. */
export interface InferRequest {
  id?: string;
  inputs: Tensor[];
  /** Requested outputs by name; all outputs when absent. */
  outputs?: { name: string; parameters?: Record<string, unknown> }[];
  parameters?: Record<string, unknown>;
}

/** One inference response, to be encoded by the protocol adapter. */
export interface InferResponse {
  model_name: string;
  model_version: string;
  id?: string;
  outputs: Tensor[];
  parameters?: Record<string, unknown>;
}

/**
 * Why a data-plane call failed. Adapters map kinds to status codes:
 * invalid → 400, not_found → 404, unavailable → 503, model → 500 (a run that failed inside the
 * model after the request passed validation; its message is shown), internal → 500.
 */
export type InferErrorKind = 'invalid' | 'not_found' | 'unavailable' | 'model' | 'internal';

/** A failure the caller can be told about; the message names what is wrong. */
export class InferError extends Error {
  constructor(
    readonly kind: InferErrorKind,
    message: string,
  ) {
    super(message);
    this.name = 'InferError';
  }
}

/**
 * Raised when the model cannot be fetched, verified or loaded; the server must not serve. `reason`
 * says why a fetch failed, for the operator (contract/model-source.ts); undefined for other failures.
 */
export class ModelLoadError extends Error {
  constructor(
    message: string,
    readonly reason?: FetchFailureReason,
  ) {
    super(message);
    this.name = 'ModelLoadError';
  }
}

/** Raised when a model's sha256 or signature is not the one the spec pins: ModelVerificationFailed for the operator. */
export class ModelVerificationError extends ModelLoadError {
  constructor(message: string) {
    super(message);
    this.name = 'ModelVerificationError';
  }
}

/** The steps of a model load after the fetch, in seconds (the slowest worker's). */
export interface ModelLoadSteps {
  /** Reading the verified file again and checking its digest. */
  readSeconds: number;
  /** onnxruntime's session creation (graph optimisation included). */
  sessionSeconds: number;
  /** The warm-up inference. */
  warmupSeconds: number;
}

/** Hooks the data plane reports through; the server's metrics module implements them. */
export interface DataPlaneObserver {
  /** The model is loaded and warmed up: `seconds` from load() (fetch included), and its steps. */
  modelLoaded(seconds: number, steps: ModelLoadSteps): void;
  /**
   * One run of the model: `size` rows along the batch dimension (several requests when batched; 1
   * per run for models without a dynamic batch dimension), `seconds` from dispatch to results.
   */
  batchRun(size: number, seconds: number): void;
  queueDepth(depth: number): void;
  /** Optional: the model file was fetched or found in the cache (for a log line with its size). */
  modelFetched?(info: ModelFetchInfo): void;
  /** Optional: an inference worker died (its in-flight request failed); a replacement is starting. */
  workerExited?(info: WorkerExitInfo): void;
}

/** Why an inference worker is gone. */
export interface WorkerExitInfo {
  worker: number;
  exitCode: number;
  reason: string;
  /** True when it died before serving: a replacement that could not load the model. */
  whileLoading: boolean;
}

/** Where the model file came from; `uri` has credentials and query strings removed, safe to log. */
export interface ModelFetchInfo {
  uri: string;
  path: string;
  bytes: number;
  sha256: string;
  /** True when a verified copy in the cache was reused instead of downloading. */
  cached: boolean;
  seconds: number;
}

/** Everything the data plane needs to load and serve one model. */
export interface DataPlaneOptions {
  /** file://, http(s)://, pvc://<claim>/<path> (mounted under pvcRoot), or a plain path. */
  modelUri: string;
  /** Expected lowercase hex sha256 of the model file; required unless allowUnverified. */
  sha256?: string;
  allowUnverified?: boolean;
  /** Optional Ed25519 signature over the sha256 digest, and the PEM public key that checks it. */
  signaturePath?: string;
  publicKeyPath?: string;
  name: string;
  version: string;
  cacheDir: string;
  pvcRoot: string;
  /** How to reach a remote model's store; unset: anonymous, default endpoints, the default deadline. */
  storage?: StorageOptions;
  /** The level of the fetch's own log lines (a retry, the node cache's path); default info. */
  logLevel?: LogLevel;
  /** Dynamic batching; applies only when the model's first dimension is dynamic. */
  batching: { maxBatchSize: number; maxLatencyMs: number };
  /** Worker threads running inference sessions (each with its own session). */
  workers: number;
  /** onnxruntime intra-op threads per session. */
  intraOpThreads: number;
  /**
   * The model file as another process (a group's primary) already fetched and verified it: load()
   * waits for it and hashes that local file again, just before loading it, instead of fetching
   * modelUri.
   */
  fetched?: Promise<FetchedModel>;
}

/**
 * How to reach the store of a remote model (s3://, gs://, oci://, http(s)://), as the operator wrote
 * it into the environment (contract/model-source.ts STORAGE_ENV). Files are read when the model is
 * fetched, so that a missing or unreadable one is reported as that fetch's failure.
 */
export interface StorageOptions {
  /** s3: the S3 API's URL; gs: the JSON API's URL. */
  endpoint?: string;
  /** s3: the bucket's region. */
  region?: string;
  /** s3: address the bucket in the path. */
  pathStyle?: boolean;
  /** oci: the registry speaks plain HTTP. */
  plainHttp?: boolean;
  /** The mounted credentials Secret (keys: STORAGE_SECRET_KEYS); unset: anonymous. */
  credentialsDir?: string;
  /** A PEM file of CA certificates trusted for the store, beside the system's. */
  caFile?: string;
  /** The whole fetch's deadline, retries included. */
  timeoutSeconds: number;
  /** The node cache agent's URL (unset: this server fetches for itself). */
  nodeCacheUrl?: string;
}

/** A model file on local disk and the digest it had when it was verified. */
export interface FetchedModel {
  path: string;
  sha256: string;
}

/** The data plane of one server: one model, loaded once, inferred many times. */
export interface DataPlane {
  /** Fetch, verify, load and warm up the model. Rejects with ModelLoadError. */
  load(): Promise<void>;
  live(): boolean;
  /** True once the model is loaded and a warm-up inference has run. */
  ready(): boolean;
  /** The names of the models served, loaded or not (KServe V1 `GET /v1/models`). */
  models(): string[];
  serverMetadata(): { name: string; version: string; extensions: string[] };
  modelReady(name: string, version?: string): boolean;
  /**
   * Throws InferError('not_found') unless this server serves model `name` (at `version`, when
   * given): an adapter asks before it reads a request's body, so that a request for a model not
   * here is a 404 whatever its body.
   */
  checkServed(name: string, version?: string): void;
  /** Throws InferError('not_found') for an unknown model or version. */
  metadata(name: string, version?: string): ModelMetadata;
  /**
   * Validates the request against the model's metadata, then runs it (batched when possible).
   * The request's arrays are read, never modified or detached; the response's arrays are the
   * caller's to keep (each owns its buffer).
   */
  infer(name: string, version: string | undefined, request: InferRequest): Promise<InferResponse>;
  /** Finish queued work, then stop the workers. */
  close(): Promise<void>;
}
