import { originOf } from './origin.js';

describe('originOf', () => {
  it('drops what may be secret from an http(s) URI', () => {
    expect(originOf('https://u:p@models.example/a/b.onnx?X-Amz-Signature=s#f', undefined)).toBe(
      'https://models.example/a/b.onnx',
    );
  });

  it('keeps other URIs whole and adds the endpoint', () => {
    expect(originOf('s3://models/digits.onnx', 'http://minio:9000')).toBe(
      's3://models/digits.onnx at http://minio:9000',
    );
    expect(originOf('oci://registry:5000/models/digits:v1', undefined)).toBe('oci://registry:5000/models/digits:v1');
    expect(originOf('oci://user:token@registry:5000/models/digits:v1', undefined)).toBe(
      'oci://registry:5000/models/digits:v1',
    );
  });

  it('tells the same key in two stores apart', () => {
    expect(originOf('s3://m/k', 'http://a')).not.toBe(originOf('s3://m/k', 'http://b'));
  });
});
