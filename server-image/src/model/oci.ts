/**
 * `oci://registry[:port]/repository(:tag|@sha256:<hex>)`: a model pushed to an OCI registry as an artifact
 * (`oras push registry/repo:tag model.onnx`), or in a KServe ModelCar-style image (the .onnx file in the image's
 * last layer). The manifest is fetched and, for an @digest URI, its bytes' sha256 must be that digest; the model
 * layer's blob is streamed, its digest pinned for the pipeline to check as it hashes (for an image layer, the
 * file is streamed out of the tar and the layer digest checked on the way).
 */
import { ModelLoadError } from '../dataplane/types.js';
import type { OciClient } from './oci-client.js';
import { modelLayer } from './oci-manifest.js';
import { extractModel } from './oci-tar.js';
import { formatOciReference, manifestReference, parseOciReference } from './oci-ref.js';
import type { RemoteObject, RemoteRequest, RemoteSource } from './remote.js';

export { parseOciReference } from './oci-ref.js';

/** What open() returns: the model's bytes, and the digests that pin them, for logs and messages. */
export interface OciObject extends RemoteObject {
  /** The manifest's digest (`sha256:<hex>`): what a tag resolved to. */
  manifestDigest: string;
  /** The model layer's digest (`sha256:<hex>`). */
  layerDigest: string;
}

/**
 * A registry client for `ref`. Its module (and undici with it, ~0.1 s of a server's start) loads on
 * the first oci:// fetch, so a server with a model from another source never pays for it.
 */
async function clientFor(...args: ConstructorParameters<typeof OciClient>): Promise<OciClient> {
  const { OciClient: Client } = await import('./oci-client.js');
  return new Client(...args);
}

/** Open the model of an oci:// URI: resolve the manifest, check an @digest, choose the layer, stream its blob. */
export async function openOci({ uri, settings, signal }: RemoteRequest): Promise<OciObject> {
  const ref = parseOciReference(uri);
  const shown = formatOciReference(ref);
  const client = await clientFor(ref, settings, signal);
  const manifest = await client.manifest(`get manifest of ${shown}`, manifestReference(ref), 'GET');
  if (ref.digest !== undefined && manifest.digest !== ref.digest) {
    throw new ModelLoadError(
      `get manifest of ${shown}: the registry's manifest is ${manifest.digest}, not the digest the URI pins`,
      'ModelDigestMismatch',
    );
  }
  let chosen: ReturnType<typeof modelLayer>;
  try {
    chosen = modelLayer(manifest.bytes, manifest.contentType);
  } catch (err) {
    const e = err as ModelLoadError;
    throw new ModelLoadError(`read manifest ${manifest.digest} of ${shown}: ${e.message}`, e.reason);
  }
  const { layer, archive } = chosen;
  const what = `get blob ${layer.digest} (manifest ${manifest.digest}) of ${shown}`;
  const blob = await client.blob(what, layer.digest);
  const digests = { manifestDigest: manifest.digest, layerDigest: layer.digest };
  if (archive !== undefined) {
    // The layer digest pins the archive, not the file in it: extractModel checks it; the spec's sha256 is the file's.
    return { body: extractModel(blob, archive, layer.digest, what), ...digests };
  }
  return { body: blob, bytes: layer.size, pinnedSha256: layer.digest.slice('sha256:'.length), ...digests };
}

/** Prove access to an oci:// model with a HEAD of its manifest (no blob is read). */
export async function probeOci({ uri, settings, signal }: RemoteRequest): Promise<void> {
  const ref = parseOciReference(uri);
  const client = await clientFor(ref, settings, signal);
  await client.manifest(`check manifest of ${formatOciReference(ref)}`, manifestReference(ref), 'HEAD');
}

/** The oci:// model source. */
export const ociSource: RemoteSource = { open: openOci, probe: probeOci };
