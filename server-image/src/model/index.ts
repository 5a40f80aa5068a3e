/**
 * Model fetch and verification: the one entry point the data plane calls before it creates any
 * onnxruntime session.
 */
import { createLogger, type Logger } from '../../../common/log.js';
import { DEFAULT_STORAGE_TIMEOUT_SECONDS } from '../../../contract/model-source.js';
import type { DataPlaneOptions, ModelFetchInfo } from '../dataplane/types.js';
import { ModelLoadError } from '../dataplane/types.js';
import { loadStoreSettings } from './credentials.js';
import { downloadVerified, remoteSourceFor } from './download.js';
import { cachedModel, readLocal, type LocalModel } from './fetch.js';
import { viaNodeCache } from './nodecache.js';
import { modelSource, redactUri } from './source.js';
import { checkDigest, checkSignature, normaliseSha256 } from './verify.js';

export { redactUri } from './source.js';

/** A model file on local disk whose digest (and signature, when configured) checked out. */
export type VerifiedModel = LocalModel;

type FetchOptions = Pick<
  DataPlaneOptions,
  | 'modelUri'
  | 'sha256'
  | 'allowUnverified'
  | 'signaturePath'
  | 'publicKeyPath'
  | 'cacheDir'
  | 'pvcRoot'
  | 'storage'
  | 'logLevel'
>;

/**
 * Fetch the model named by `options.modelUri`, verify its sha256 against `options.sha256` (required
 * unless allowUnverified) and its Ed25519 signature when signaturePath/publicKeyPath are set.
 * Remote models (http(s)://, s3://, gs://, oci://) come through the node cache agent when
 * options.storage names one, and land in the cache only once verified, with retries within
 * options.storage's deadline; a cached copy is re-hashed before reuse. `log` (default: a logger at
 * options.logLevel) hears of each retry and of the node cache's path. Rejects with ModelLoadError
 * naming the URI and what failed, with a FetchFailureReason when the model could not be fetched.
 */
export async function fetchVerifiedModel(
  options: FetchOptions,
  onFetched?: (info: ModelFetchInfo) => void,
  log: Pick<Logger, 'info' | 'warn'> = createLogger(options.logLevel ?? 'info'),
): Promise<VerifiedModel> {
  const started = performance.now();
  const uri = redactUri(options.modelUri);
  const allowUnverified = options.allowUnverified ?? false;
  const expected = options.sha256 === undefined || options.sha256 === '' ? undefined : normaliseSha256(options.sha256);
  if (expected === undefined && !allowUnverified) {
    throw new ModelLoadError(
      `model ${uri}: no sha256 given; refusing to serve an unverified model (set allowUnverified to override)`,
    );
  }
  // An empty setting (an unset environment variable passed through) means "not set".
  const signaturePath = options.signaturePath === '' ? undefined : options.signaturePath;
  const publicKeyPath = options.publicKeyPath === '' ? undefined : options.publicKeyPath;
  if ((signaturePath === undefined) !== (publicKeyPath === undefined)) {
    throw new ModelLoadError(`model ${uri}: a signature check needs both signaturePath and publicKeyPath`);
  }

  const source = modelSource(options.modelUri, options.pvcRoot);
  let model: LocalModel;
  let cached = false;
  if (source.kind === 'file') {
    model = await readLocal(uri, source.path, source.confinedTo);
    checkDigest(uri, model.sha256, expected, allowUnverified);
  } else {
    const hit = expected === undefined ? undefined : await cachedModel(options.cacheDir, expected);
    if (hit !== undefined) {
      model = hit;
      cached = true;
    } else {
      const direct = remoteSourceFor(source.uri);
      if (direct === undefined) {
        throw new ModelLoadError(
          `model URI ${uri}: scheme ${source.scheme}:// is not supported by this server`,
          'ModelSourceInvalid',
        );
      }
      const timeoutSeconds = options.storage?.timeoutSeconds ?? DEFAULT_STORAGE_TIMEOUT_SECONDS;
      const agentUrl = options.storage?.nodeCacheUrl;
      // The agent keeps models by digest: one without a digest is fetched directly.
      const remote =
        agentUrl !== undefined && expected !== undefined
          ? viaNodeCache({ agentUrl, sha256: expected, timeoutSeconds, log }, direct)
          : direct;
      model = await downloadVerified({ uri: source.uri, settings: await loadStoreSettings(options.storage) }, remote, {
        cacheDir: options.cacheDir,
        expectedSha256: expected,
        deadlineMs: timeoutSeconds * 1000,
        onAttempt: (failed) => {
          if (failed.retryInMs === undefined) return;
          log.warn('model fetch failed; retrying', {
            uri,
            attempt: failed.attempt,
            reason: failed.reason,
            error: failed.message,
            retryInMs: failed.retryInMs,
          });
        },
      });
    }
  }
  if (signaturePath !== undefined && publicKeyPath !== undefined) {
    await checkSignature(uri, model.sha256, signaturePath, publicKeyPath);
  }
  onFetched?.({
    uri,
    path: model.path,
    bytes: model.bytes,
    sha256: model.sha256,
    cached,
    seconds: (performance.now() - started) / 1000,
  });
  return model;
}
