import { MANIFEST_ACCEPT, MANIFEST_MEDIA_TYPES, modelLayer, type OciDescriptor } from './oci-manifest.js';

const digest = (c: string): string => `sha256:${c.repeat(64)}`;
const TAR = 'application/vnd.oci.image.layer.v1.tar';
const layer = (c: string, title?: string, mediaType = TAR, extra: Record<string, string> = {}): OciDescriptor => ({
  mediaType,
  digest: digest(c),
  size: 10,
  ...(title === undefined && Object.keys(extra).length === 0
    ? {}
    : { annotations: { ...(title === undefined ? {} : { 'org.opencontainers.image.title': title }), ...extra } }),
});
const manifest = (layers: unknown[], mediaType: string | undefined = MANIFEST_MEDIA_TYPES.oci): Buffer =>
  Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      ...(mediaType === undefined ? {} : { mediaType }),
      artifactType: 'application/vnd.unknown.artifact.v1',
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: digest('4'), size: 2 },
      layers,
    }),
  );

describe('modelLayer chooses', () => {
  test('the raw file oras pushed (a tar media type, but titled: the blob is the file)', () => {
    const only = layer('a', 'digits.onnx');
    expect(modelLayer(manifest([only]), undefined)).toEqual({ layer: only });
  });

  test('the layer titled *.onnx among others', () => {
    const model = layer('b', 'Digits.ONNX', 'application/octet-stream');
    expect(modelLayer(manifest([layer('a', 'README.md'), model, layer('c')]), undefined)).toEqual({ layer: model });
  });

  test('the only layer whatever its title', () => {
    const only = layer('a', 'model.bin', 'application/octet-stream');
    expect(modelLayer(manifest([only]), undefined)).toEqual({ layer: only });
  });

  test.each([
    [TAR, 'tar'],
    ['application/vnd.oci.image.layer.v1.tar+gzip', 'gzip'],
    ['application/vnd.docker.image.rootfs.diff.tar.gzip', 'gzip'],
  ])('an untitled image layer of %s as an archive (ModelCar)', (mediaType, archive) => {
    const only = layer('a', undefined, mediaType);
    expect(modelLayer(manifest([only], MANIFEST_MEDIA_TYPES.docker), undefined)).toEqual({ layer: only, archive });
  });

  test("an image's last layer (a ModelCar COPYs the model last)", () => {
    const gzip = 'application/vnd.oci.image.layer.v1.tar+gzip';
    const last = layer('c', undefined, gzip);
    expect(modelLayer(manifest([layer('a', undefined, gzip), layer('b', undefined, gzip), last]), undefined)).toEqual({
      layer: last,
      archive: 'gzip',
    });
  });

  test('a directory oras packed for unpacking as an archive', () => {
    const dir = layer('a', 'models', 'application/vnd.oci.image.layer.v1.tar+gzip', {
      'io.deis.oras.content.unpack': 'true',
    });
    expect(modelLayer(manifest([dir]), undefined)).toEqual({ layer: dir, archive: 'gzip' });
  });

  test('by the Content-Type when the manifest names no media type', () => {
    const only = layer('a', 'm.onnx');
    expect(modelLayer(manifest([only], undefined), `${MANIFEST_MEDIA_TYPES.docker}; charset=utf-8`)).toEqual({
      layer: only,
    });
  });
});

describe('modelLayer refuses, saying why', () => {
  test.each([
    [Buffer.from('<html>'), undefined, 'the manifest is not JSON'],
    [
      Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MANIFEST_MEDIA_TYPES.ociIndex, manifests: [{}, {}] })),
      undefined,
      'the reference is an image index (2 manifests), not a model artifact: push the model as a single ' +
        'platform-less artifact (oras push), or name one manifest of the index by @sha256:<digest>',
    ],
    [
      Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [] })),
      MANIFEST_MEDIA_TYPES.dockerList,
      'the reference is an image index (0 manifests), not a model artifact: push the model as a single ' +
        'platform-less artifact (oras push), or name one manifest of the index by @sha256:<digest>',
    ],
    [
      Buffer.from(JSON.stringify({ schemaVersion: 1, name: 'x', fsLayers: [] })),
      'application/vnd.docker.distribution.manifest.v1+prettyjws',
      'the manifest\'s media type "application/vnd.docker.distribution.manifest.v1+prettyjws" is not supported ' +
        '(expected application/vnd.oci.image.manifest.v1+json)',
    ],
    [
      manifest([layer('a', 'a.onnx'), layer('b', 'b.onnx')]),
      undefined,
      'the artifact has 2 .onnx layers (a.onnx, b.onnx): push one model each',
    ],
    [
      manifest([layer('a', 'README.md'), layer('b')]),
      undefined,
      'the artifact has 2 layers and none titled *.onnx (org.opencontainers.image.title): README.md, ' +
        'untitled application/vnd.oci.image.layer.v1.tar',
    ],
    [
      manifest([]),
      undefined,
      'the artifact has 0 layers and none titled *.onnx (org.opencontainers.image.title): no layers',
    ],
    [
      manifest([{ mediaType: TAR, digest: 'sha512:00', size: 1 }]),
      undefined,
      "layer 0's digest sha512:00 is not sha256 (the only one supported)",
    ],
    [
      manifest([{ digest: digest('a') }]),
      undefined,
      'layer 0 of the manifest is not a descriptor (mediaType, digest, size)',
    ],
    [
      manifest([layer('a', undefined, 'application/vnd.oci.image.layer.v1.tar+zstd')]),
      undefined,
      "the model layer's media type application/vnd.oci.image.layer.v1.tar+zstd is not supported " +
        '(expected tar or tar+gzip)',
    ],
  ])('%#', (bytes, contentType, message) => {
    expect(() => modelLayer(bytes, contentType)).toThrow(
      expect.objectContaining({ message, reason: 'ModelSourceInvalid' }),
    );
  });
});

test('the Accept header names the manifest and the index types', () => {
  expect(MANIFEST_ACCEPT.split(', ')).toEqual([
    'application/vnd.oci.image.manifest.v1+json',
    'application/vnd.docker.distribution.manifest.v2+json',
    'application/vnd.oci.image.index.v1+json',
    'application/vnd.docker.distribution.manifest.list.v2+json',
  ]);
});
