/**
 * gs://bucket/object models with @google-cloud/storage, imported on first use so that a server with
 * a file:// model never loads it. A service account's JSON key from the Secret, or anonymous (a
 * public object) through google-auth-library's PassThroughClient, the library's own way to send
 * no credentials. The pipeline (download.ts) owns retries and verifies the sha256: the library's
 * retries and its CRC32C/MD5 validation are turned off.
 */
import type { File, StorageOptions } from '@google-cloud/storage';
import { STORAGE_SECRET_KEYS } from '../../../contract/model-source.js';
import { ModelLoadError } from '../dataplane/types.js';
import { causeMessage, errorCode, reasonForConnectionError, reasonForStatus } from './errors.js';
import type { RemoteObject, RemoteRequest, RemoteSource, StoreSettings } from './remote.js';
import { parseBucketUri, redactUri } from './source.js';

/** The library's options for these settings. */
async function storageOptions(settings: StoreSettings): Promise<StorageOptions> {
  const options: StorageOptions = { retryOptions: { autoRetry: false, maxRetries: 0 } };
  if (settings.endpoint !== undefined && settings.endpoint !== '') options.apiEndpoint = settings.endpoint;
  const json = settings.credentials.gcsServiceAccountJson;
  if (json === undefined) {
    const { PassThroughClient } = await import('google-auth-library');
    options.authClient = new PassThroughClient();
    return options;
  }
  let key: { client_email?: unknown; private_key?: unknown; project_id?: unknown };
  try {
    key = JSON.parse(json) as typeof key;
  } catch {
    // Never the parser's message: it quotes the text around the error, which is the secret.
    throw new ModelLoadError(
      `storage credential ${STORAGE_SECRET_KEYS.gcsServiceAccount} is not JSON (a service account key)`,
      'ModelSourceInvalid',
    );
  }
  if (typeof key.client_email !== 'string' || typeof key.private_key !== 'string') {
    throw new ModelLoadError(
      `storage credential ${STORAGE_SECRET_KEYS.gcsServiceAccount} has no client_email and private_key (a service account key)`,
      'ModelSourceInvalid',
    );
  }
  options.credentials = { client_email: key.client_email, private_key: key.private_key };
  if (typeof key.project_id === 'string') options.projectId = key.project_id;
  // The library sends no credentials to an endpoint of one's own unless told to.
  options.useAuthWithCustomEndpoint = true;
  return options;
}

async function fileFor(request: RemoteRequest): Promise<File> {
  const { bucket, key } = parseBucketUri(request.uri);
  const { Storage } = await import('@google-cloud/storage');
  return new Storage(await storageOptions(request.settings)).bucket(bucket).file(key);
}

/** The ModelLoadError of a library error: an HTTP status (its `code`), an auth failure or a connection error. */
function gcsFailure(request: RemoteRequest, verb: string, err: unknown): ModelLoadError {
  if (err instanceof ModelLoadError) return err;
  const e = err as { code?: unknown; response?: { status?: unknown } };
  const status =
    typeof e.code === 'number' ? e.code : typeof e.response?.status === 'number' ? e.response.status : undefined;
  const message = causeMessage(err);
  let reason = status === undefined ? reasonForConnectionError(errorCode(err)) : reasonForStatus(status);
  // The token exchange itself refused the key (a deleted or disabled service account).
  if (status === undefined && /invalid_grant|invalid_client|unauthorized_client/.test(message)) {
    reason = 'ModelAccessDenied';
  }
  const withStatus =
    status !== undefined && !message.includes(String(status)) ? `${message} (HTTP ${status})` : message;
  return new ModelLoadError(`${verb} model ${redactUri(request.uri)}: ${withStatus}`, reason);
}

/** Models in Google Cloud Storage (or an emulator at settings.endpoint). */
export const gcsSource: RemoteSource = {
  async open(request: RemoteRequest): Promise<RemoteObject> {
    try {
      const file = await fileFor(request);
      // Metadata first: a missing object or a refusal is an answer here, not a broken stream later.
      const [metadata] = await file.getMetadata();
      const body = file.createReadStream({ validation: false });
      request.signal.addEventListener('abort', () => body.destroy(request.signal.reason as Error), { once: true });
      const size = Number(metadata.size);
      // A gzip-encoded object is decompressed on the way: its stored size is not the model's.
      const announced = metadata.contentEncoding !== 'gzip' && Number.isSafeInteger(size);
      return { body, ...(announced ? { bytes: size } : {}) };
    } catch (err) {
      throw gcsFailure(request, 'fetch', err);
    }
  },

  async probe(request: RemoteRequest): Promise<void> {
    try {
      await (await fileFor(request)).getMetadata();
    } catch (err) {
      throw gcsFailure(request, 'probe', err);
    }
  },
};
