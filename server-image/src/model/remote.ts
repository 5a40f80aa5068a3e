/**
 * What every remote model source (http(s)://, s3://, gs://, oci://) offers the fetch pipeline, and the
 * store settings and credentials they are given. A source opens a stream of the model's bytes, or
 * proves the caller may read the object without reading it (the node cache's check on a hit).
 */
import type { Readable } from 'node:stream';
import type { FetchFailureReason } from '../../../contract/model-source.js';

/** S3 credentials from the Secret's AWS_* keys. */
export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** Credentials read from the mounted Secret; an absent field means anonymous access for that scheme. */
export interface StoreCredentials {
  s3?: S3Credentials;
  /** A GCS service account's JSON key, as text. */
  gcsServiceAccountJson?: string;
  /** A `.dockerconfigjson` document, as text. */
  ociDockerConfigJson?: string;
}

/** How to reach the store: spec.model.storage as the server receives it (contract/model-source.ts STORAGE_ENV). */
export interface StoreSettings {
  endpoint?: string;
  region?: string;
  pathStyle?: boolean;
  plainHttp?: boolean;
  /** PEM CA certificates trusted beside the system's. */
  caPem?: string;
  credentials: StoreCredentials;
}

/** One request to a source: the full URI (never logged as is: see redactUri), settings, and a signal to give up. */
export interface RemoteRequest {
  uri: string;
  settings: StoreSettings;
  signal: AbortSignal;
}

/** An opened model object: its bytes, and what the source itself pins about them. */
export interface RemoteObject {
  body: Readable;
  /** The length the store announced, when it did. */
  bytes?: number;
  /**
   * A sha256 (hex) the source guarantees for these bytes, checked while streaming besides the spec's:
   * an OCI layer's digest.
   */
  pinnedSha256?: string;
}

/** A remote source of models. */
export interface RemoteSource {
  /** Open the object for reading. Rejects with a ModelLoadError carrying a FetchFailureReason. */
  open(request: RemoteRequest): Promise<RemoteObject>;
  /** Prove the caller may read the object, reading only its metadata. Rejects as open does. */
  probe(request: RemoteRequest): Promise<void>;
}

/** Whether a failure with this reason is worth another attempt. */
export function isTransient(reason: FetchFailureReason): boolean {
  return reason === 'ModelSourceUnavailable' || reason === 'ModelFetchTimeout';
}
