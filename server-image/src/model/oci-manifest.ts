/**
 * Which blob of an OCI artifact is the model: the pure reading of a manifest. `oras push m.onnx` makes a manifest
 * with one layer holding the raw file, titled `m.onnx` by the `org.opencontainers.image.title` annotation; a
 * KServe ModelCar-style image (`COPY m.onnx /models/` last in its Containerfile) has the file in its last tar(.gz)
 * layer.
 */
import { ModelLoadError } from '../dataplane/types.js';

/** The manifest media types asked for and understood. */
export const MANIFEST_MEDIA_TYPES = {
  oci: 'application/vnd.oci.image.manifest.v1+json',
  docker: 'application/vnd.docker.distribution.manifest.v2+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
} as const;

/**
 * The Accept header of a manifest request. The index types are accepted too, so that a reference to one is
 * answered with it and refused with a clear reason, rather than with a registry's "manifest unknown".
 */
export const MANIFEST_ACCEPT = Object.values(MANIFEST_MEDIA_TYPES).join(', ');

/** The annotation oras (and the image spec) use for a layer's file name. */
export const TITLE_ANNOTATION = 'org.opencontainers.image.title';

/** oras's annotation on a directory it pushed as a tar+gzip layer to be unpacked on pull. */
const UNPACK_ANNOTATION = 'io.deis.oras.content.unpack';

/** Layer media types of tar archives, by compression. */
const ARCHIVE_MEDIA_TYPES: Record<string, 'tar' | 'gzip'> = {
  'application/vnd.oci.image.layer.v1.tar': 'tar',
  'application/vnd.docker.image.rootfs.diff.tar': 'tar',
  'application/vnd.oci.image.layer.v1.tar+gzip': 'gzip',
  'application/vnd.docker.image.rootfs.diff.tar.gzip': 'gzip',
};

/** A content descriptor of the image spec: what a manifest says of a blob. */
export interface OciDescriptor {
  mediaType: string;
  /** `sha256:<64 hex>`. */
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

/**
 * The model's layer. `archive` is set when the layer is a tar (`tar`) or a gzip-compressed tar (`gzip`) holding the
 * model file, as image layers are; unset when the blob is the model file itself.
 */
export interface ModelLayer {
  layer: OciDescriptor;
  archive?: 'tar' | 'gzip';
}

const DIGEST = /^sha256:[a-f0-9]{64}$/;

function invalid(why: string): ModelLoadError {
  return new ModelLoadError(why, 'ModelSourceInvalid');
}

function descriptor(value: unknown, index: number): OciDescriptor {
  const d = value as Partial<OciDescriptor> | null;
  if (typeof d?.mediaType !== 'string' || typeof d.digest !== 'string' || typeof d.size !== 'number') {
    throw invalid(`layer ${index} of the manifest is not a descriptor (mediaType, digest, size)`);
  }
  if (!DIGEST.test(d.digest))
    throw invalid(`layer ${index}'s digest ${d.digest} is not sha256 (the only one supported)`);
  const annotations = typeof d.annotations === 'object' && d.annotations !== null ? d.annotations : undefined;
  return { mediaType: d.mediaType, digest: d.digest, size: d.size, ...(annotations ? { annotations } : {}) };
}

function title(layer: OciDescriptor): string | undefined {
  const value = layer.annotations?.[TITLE_ANNOTATION];
  return typeof value === 'string' ? value : undefined;
}

/**
 * The model layer of a manifest (its bytes, and its Content-Type for a manifest without `mediaType`): the layer
 * titled `*.onnx`, else the only layer, else an image's last layer. Throws a ModelLoadError (ModelSourceInvalid)
 * saying why there is none: an index, an unknown media type, several or no candidate layers (listing their titles).
 */
export function modelLayer(bytes: Buffer, contentType: string | undefined): ModelLayer {
  let doc: { mediaType?: unknown; schemaVersion?: unknown; layers?: unknown; manifests?: unknown };
  try {
    doc = JSON.parse(bytes.toString('utf8')) as typeof doc;
  } catch {
    throw invalid('the manifest is not JSON');
  }
  const mediaType =
    typeof doc?.mediaType === 'string' ? doc.mediaType : (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (mediaType === MANIFEST_MEDIA_TYPES.ociIndex || mediaType === MANIFEST_MEDIA_TYPES.dockerList) {
    const count = Array.isArray(doc.manifests) ? doc.manifests.length : 0;
    throw invalid(
      `the reference is an image index (${count} manifests), not a model artifact: push the model as a single ` +
        'platform-less artifact (oras push), or name one manifest of the index by @sha256:<digest>',
    );
  }
  if (mediaType !== MANIFEST_MEDIA_TYPES.oci && mediaType !== MANIFEST_MEDIA_TYPES.docker) {
    throw invalid(`the manifest's media type "${mediaType}" is not supported (expected ${MANIFEST_MEDIA_TYPES.oci})`);
  }
  if (doc.schemaVersion !== 2 || !Array.isArray(doc.layers)) {
    throw invalid('the manifest is not an image manifest (schemaVersion 2 with layers)');
  }
  const layers = doc.layers.map(descriptor);
  const onnx = layers.filter((l) => title(l)?.toLowerCase().endsWith('.onnx'));
  if (onnx.length > 1) {
    throw invalid(`the artifact has ${onnx.length} .onnx layers (${onnx.map(title).join(', ')}): push one model each`);
  }
  // A container image (every layer an untitled tar, as `podman build` of a ModelCar makes): the model is COPYed
  // last, on top of any base layers.
  const image = layers.every((l) => title(l) === undefined && ARCHIVE_MEDIA_TYPES[l.mediaType] !== undefined);
  const layer = onnx[0] ?? (layers.length === 1 || image ? layers.at(-1) : undefined);
  if (layer === undefined) {
    const names = layers.map((l) => title(l) ?? `untitled ${l.mediaType}`);
    throw invalid(
      `the artifact has ${layers.length} layers and none titled *.onnx (${TITLE_ANNOTATION}): ` +
        (names.length > 0 ? names.join(', ') : 'no layers'),
    );
  }
  // oras pushes a file as it is under a tar media type with a title; an image layer (or an oras directory) has no
  // title, or the unpack annotation, and is an archive.
  const archived = title(layer) === undefined || layer.annotations?.[UNPACK_ANNOTATION] === 'true';
  const archive = archived ? ARCHIVE_MEDIA_TYPES[layer.mediaType] : undefined;
  if (archived && archive === undefined && /tar/.test(layer.mediaType)) {
    throw invalid(`the model layer's media type ${layer.mediaType} is not supported (expected tar or tar+gzip)`);
  }
  return { layer, ...(archive === undefined ? {} : { archive }) };
}
