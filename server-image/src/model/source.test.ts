import path from 'node:path';
import { ModelLoadError } from '../dataplane/types.js';
import { modelSource, parseBucketUri, pvcPath, redactUri } from './source.js';

describe('modelSource', () => {
  test.each([
    ['/models/a.onnx', { kind: 'file', path: '/models/a.onnx' }],
    ['file:///models/a%20b.onnx', { kind: 'file', path: '/models/a b.onnx' }],
    ['pvc://claim/dir/a.onnx', { kind: 'file', path: '/mnt/pvc/claim/dir/a.onnx', confinedTo: '/mnt/pvc/claim' }],
  ])('%s', (uri, expected) => {
    expect(modelSource(uri, '/mnt/pvc')).toEqual(expected);
  });

  test('a relative path resolves against the working directory', () => {
    expect(modelSource('models/a.onnx', '/mnt/pvc')).toEqual({ kind: 'file', path: path.resolve('models/a.onnx') });
  });

  test.each([
    ['https://models.example/a.onnx', 'https'],
    ['http://models.example/a.onnx', 'http'],
    ['s3://models/digits/v1.onnx', 's3'],
    ['S3://models/a.onnx', 's3'],
    ['s3://my.models-2/dir/a b+c.onnx', 's3'],
    ['gs://models/digits.onnx', 'gs'],
    ['gs://team_models.example.com/digits.onnx', 'gs'],
    ['oci://registry.example:5000/models/digits:v1', 'oci'],
  ])('%s is a remote %s model, its URI kept as given', (uri, scheme) => {
    expect(modelSource(uri, '/mnt/pvc')).toEqual({ kind: 'remote', scheme, uri });
  });

  test.each([
    ['', /model URI is empty/],
    ['file://remote-host/a.onnx', /model URI file:\/\/remote-host\/a.onnx/],
    ['azure://account/container/a.onnx', /scheme azure:\/\/ is not supported \(use s3:\/\/, gs:\/\/, oci:\/\//],
    ['https://[::1/a.onnx', /is not a valid URL/],
    ['s3://', /model URI s3:\/\/: expected s3:\/\/<bucket>\/<key>: the bucket is missing/],
    ['s3:///a.onnx', /the bucket is missing/],
    ['s3://models', /model URI s3:\/\/models: expected s3:\/\/<bucket>\/<key>: the key names no object/],
    ['s3://models/', /the key names no object/],
    ['s3://models/dir/', /the key names a folder, not an object/],
    ['s3://models/../other/a.onnx', /the key has a "." or ".." segment/],
    ['s3://models/a/./b.onnx', /"." or ".." segment/],
    ['s3://models/a\nb.onnx', /control character/],
    ['s3://Models/a.onnx', /bucket name "Models" must be lowercase letters, digits, dots and hyphens/],
    ['s3://my_models/a.onnx', /bucket name "my_models" must be lowercase/],
    ['s3://ab/a.onnx', /bucket name "ab" must be 3 to 63 characters long/],
    [`s3://${'a'.repeat(64)}/a.onnx`, /must be 3 to 63 characters long/],
    ['s3://-models/a.onnx', /starting and ending with a letter or digit/],
    ['s3://my..models/a.onnx', /must not contain two adjacent dots/],
    ['s3://192.168.1.10/a.onnx', /must not be an IP address/],
    ['s3://xn--models/a.onnx', /reserved prefix xn--/],
    ['s3://models-s3alias/a.onnx', /reserved suffix -s3alias/],
    ['gs://models', /expected gs:\/\/<bucket>\/<object>: the object names no object/],
    ['gs://Models/a.onnx', /bucket name "Models" must be lowercase letters, digits, hyphens, underscores and dots/],
    ['gs://googlemodels/a.onnx', /must not start with "goog"/],
    ['gs://my-google-models/a.onnx', /must not contain "google"/],
    ['gs://a..b/a.onnx', /dot-separated parts of 1 to 63 characters/],
    ['gs://models/../a.onnx', /"." or ".." segment/],
    ['oci://', /expected oci:\/\/<registry>\/<repository>/],
  ])('refuses %p, naming the URI', (uri, message) => {
    const classify = (): unknown => modelSource(uri, '/mnt/pvc');
    expect(classify).toThrow(ModelLoadError);
    expect(classify).toThrow(message);
    try {
      classify();
    } catch (err) {
      expect((err as ModelLoadError).reason).toBe('ModelSourceInvalid');
    }
  });

  test('takes a key literally: percent signs and query-like text are part of the name', () => {
    expect(parseBucketUri('s3://models/a%20b?v=1.onnx')).toEqual({ bucket: 'models', key: 'a%20b?v=1.onnx' });
    expect(parseBucketUri('gs://models/dir/a.onnx')).toEqual({ bucket: 'models', key: 'dir/a.onnx' });
  });
});

describe('pvcPath refuses every way out of the claim', () => {
  test.each([
    'pvc://claim/../other/a.onnx',
    'pvc://claim/dir/../../../etc/passwd',
    'pvc://../etc/passwd',
    'pvc://claim/./a.onnx',
    'pvc://claim//etc/passwd',
    'pvc://claim/..',
    'pvc://claim/a\\..\\..\\b',
  ])('%s', (uri) => {
    expect(() => pvcPath(uri, '/mnt/pvc')).toThrow(ModelLoadError);
    expect(() => pvcPath(uri, '/mnt/pvc')).toThrow(/is not allowed/);
  });

  test.each(['pvc://claim', 'pvc://claim/', 'pvc:///a.onnx'])('and malformed %s', (uri) => {
    expect(() => pvcPath(uri, '/mnt/pvc')).toThrow(/expected pvc:\/\/<claim>\/<path>/);
  });

  test('dots inside a name are fine', () => {
    expect(pvcPath('pvc://claim/v1..2/model.v2.onnx', '/mnt/pvc')).toEqual({
      file: '/mnt/pvc/claim/v1..2/model.v2.onnx',
      claimDir: '/mnt/pvc/claim',
    });
  });
});

describe('redactUri', () => {
  test.each([
    [
      'https://user:secret@models.example/a.onnx?X-Amz-Signature=abc',
      'https://models.example/a.onnx (credentials/query redacted)',
    ],
    ['https://models.example/a.onnx', 'https://models.example/a.onnx'],
    ['pvc://claim/a.onnx', 'pvc://claim/a.onnx'],
    ['s3://models/a.onnx', 's3://models/a.onnx'],
    ['gs://models/a.onnx', 'gs://models/a.onnx'],
    ['oci://registry.example/models/digits:v1', 'oci://registry.example/models/digits:v1'],
    [
      'oci://user:secret@registry.example/models/digits:v1',
      'oci://registry.example/models/digits:v1 (credentials redacted)',
    ],
    ['s3://AKIA:secret@models/a.onnx', 's3://models/a.onnx (credentials redacted)'],
  ])('%s', (uri, expected) => {
    expect(redactUri(uri)).toBe(expected);
    expect(redactUri(uri)).not.toContain('secret');
  });
});
