import path from 'node:path';
import { ModelLoadError } from '../dataplane/types.js';
import { modelSource, pvcPath, redactUri } from './source.js';

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

  test('http(s) URIs are downloads', () => {
    const source = modelSource('https://models.example/a.onnx', '/mnt/pvc');
    expect(source.kind).toBe('http');
    expect(source.kind === 'http' && source.url.href).toBe('https://models.example/a.onnx');
  });

  test.each([
    ['s3://bucket/a.onnx', /scheme s3:\/\/ is not supported/],
    ['', /model URI is empty/],
    ['file://remote-host/a.onnx', /model URI file:\/\/remote-host\/a.onnx/],
  ])('refuses %p', (uri, message) => {
    expect(() => modelSource(uri, '/mnt/pvc')).toThrow(ModelLoadError);
    expect(() => modelSource(uri, '/mnt/pvc')).toThrow(message);
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
  ])('%s', (uri, expected) => {
    expect(redactUri(uri)).toBe(expected);
    expect(redactUri(uri)).not.toContain('secret');
  });
});
