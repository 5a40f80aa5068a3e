/**
 * s3://bucket/key models, from AWS S3 or any S3-compatible store (MinIO, Ceph, R2...), with
 * @aws-sdk/client-s3. The SDK is imported on first use so that a server with a file:// model never
 * loads it. The pipeline (download.ts) owns retries and the deadline, and verifies the sha256
 * itself: the SDK's own retries and response checksums are turned off.
 */
import http from 'node:http';
import https from 'node:https';
import { rootCertificates } from 'node:tls';
import type { S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import { ModelLoadError } from '../dataplane/types.js';
import { causeMessage, errorCode, reasonForS3Error } from './errors.js';
import type { RemoteObject, RemoteRequest, RemoteSource, StoreSettings } from './remote.js';
import { parseBucketUri, redactUri } from './source.js';

/** The region when the settings name none: the one every S3-compatible store accepts. */
const DEFAULT_REGION = 'us-east-1';

/** The client's configuration for these settings (pure but for the agents it creates). */
export function s3ClientConfig(settings: StoreSettings): S3ClientConfig {
  const config: S3ClientConfig = {
    region: settings.region ?? DEFAULT_REGION,
    forcePathStyle: settings.pathStyle ?? false,
    // One attempt per call: download.ts retries with its own backoff, within the fetch's deadline.
    maxAttempts: 1,
    // The content is verified by its sha256; the SDK's CRCs would hash every byte a second time.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: {
      httpAgent: new http.Agent(),
      // `ca` replaces the system's roots: keep them beside the store's own CA.
      httpsAgent: new https.Agent(settings.caPem === undefined ? {} : { ca: [...rootCertificates, settings.caPem] }),
    },
  };
  if (settings.endpoint !== undefined && settings.endpoint !== '') config.endpoint = settings.endpoint;
  const credentials = settings.credentials.s3;
  if (credentials !== undefined) {
    config.credentials = { ...credentials };
  } else {
    // Anonymous (a public bucket): an unsigned request. Without this the SDK would look for
    // credentials in the environment, ~/.aws and the instance metadata service, and sign with them.
    config.httpAuthSchemes = [
      { schemeId: 'aws.auth#sigv4', identityProvider: () => async () => ({}), signer: { sign: async (req) => req } },
    ];
  }
  return config;
}

async function clientFor(
  settings: StoreSettings,
): Promise<{ client: S3Client; sdk: typeof import('@aws-sdk/client-s3') }> {
  const sdk = await import('@aws-sdk/client-s3');
  return { client: new sdk.S3Client(s3ClientConfig(settings)), sdk };
}

/** The ModelLoadError of an SDK error: its S3 code, HTTP status, or connection error. */
function s3Failure(request: RemoteRequest, verb: string, err: unknown): ModelLoadError {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  const reason = reasonForS3Error({ name: e.name, code: errorCode(err), status });
  // A HEAD's error has no body, so the SDK names it after the status ("NotFound", "403"): say the status.
  const message = causeMessage(err);
  // The S3 code (NoSuchKey, AccessDenied...) says more than its message; a HEAD's "name" is only the status.
  const code = e.name !== undefined && /^[A-Z][A-Za-z]+$/.test(e.name) && e.name !== 'Error' ? e.name : undefined;
  const detail = code !== undefined && !message.startsWith(code) ? `${code}: ${message}` : message;
  const withStatus = status !== undefined && !detail.includes(String(status)) ? `${detail} (HTTP ${status})` : detail;
  return new ModelLoadError(`${verb} model ${redactUri(request.uri)}: ${withStatus}`, reason);
}

/** Models in S3 and S3-compatible stores. */
export const s3Source: RemoteSource = {
  async open(request: RemoteRequest): Promise<RemoteObject> {
    const { bucket, key } = parseBucketUri(request.uri);
    const { client, sdk } = await clientFor(request.settings);
    try {
      const out = await client.send(new sdk.GetObjectCommand({ Bucket: bucket, Key: key }), {
        abortSignal: request.signal,
      });
      // In Node the body is the response itself (an IncomingMessage): stream it as is.
      const body = out.Body as unknown as RemoteObject['body'];
      return { body, ...(out.ContentLength === undefined ? {} : { bytes: out.ContentLength }) };
    } catch (err) {
      throw s3Failure(request, 'fetch', err);
    }
  },

  async probe(request: RemoteRequest): Promise<void> {
    const { bucket, key } = parseBucketUri(request.uri);
    const { client, sdk } = await clientFor(request.settings);
    try {
      await client.send(new sdk.HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: request.signal });
    } catch (err) {
      throw s3Failure(request, 'probe', err);
    }
  },
};
