import { FETCH_FAILURE_REASONS } from './model-source.js';
import { NODE_CACHE_STATUS, parseNodeCacheError, parseNodeCacheRequest } from './nodecache.js';

const SHA = 'a'.repeat(64);

describe('node cache requests', () => {
  it('reads a full request back', () => {
    const request = {
      uri: 's3://models/digits.onnx',
      sha256: SHA,
      settings: { endpoint: 'http://minio:9000', region: 'eu-west-1', pathStyle: true, caPem: 'PEM' },
      credentials: { s3: { accessKeyId: 'id', secretAccessKey: 'secret' } },
      timeoutSeconds: 300,
    };
    expect(parseNodeCacheRequest(request)).toEqual({ ok: true, request });
  });

  it('takes absent settings and credentials as none (anonymous)', () => {
    expect(parseNodeCacheRequest({ uri: 'http://m/x.onnx', sha256: SHA })).toEqual({
      ok: true,
      request: { uri: 'http://m/x.onnx', sha256: SHA, settings: {}, credentials: {} },
    });
  });

  it.each([
    ['no sha256', { uri: 'http://m/x.onnx' }, /sha256 is required/],
    ['an uppercase sha256', { uri: 'http://m/x.onnx', sha256: SHA.toUpperCase() }, /sha256/],
    ['no uri', { sha256: SHA }, /uri is required/],
    ['half S3 credentials', { uri: 's3://m/k', sha256: SHA, credentials: { s3: { accessKeyId: 'id' } } }, /s3/],
    ['a string timeout', { uri: 's3://m/k', sha256: SHA, timeoutSeconds: '30' }, /timeoutSeconds/],
    ['an array', [], /must be an object/],
  ])('refuses %s, naming the field', (_what, body, message) => {
    const parsed = parseNodeCacheRequest(body);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toMatch(message);
  });

  it('never echoes a credential in its error', () => {
    const parsed = parseNodeCacheRequest({
      uri: 's3://m/k',
      sha256: SHA,
      credentials: { s3: { accessKeyId: 'AKIDSECRETVALUE', secretAccessKey: 42 } },
    });
    expect(parsed.ok).toBe(false);
    expect(JSON.stringify(parsed)).not.toContain('AKIDSECRETVALUE');
  });
});

describe('node cache errors', () => {
  it('gives every fetch failure reason its own client or gateway status', () => {
    for (const reason of FETCH_FAILURE_REASONS) expect(NODE_CACHE_STATUS[reason]).toBeGreaterThanOrEqual(400);
    expect(new Set(Object.values(NODE_CACHE_STATUS)).size).toBe(FETCH_FAILURE_REASONS.length);
  });

  it('reads the reason of the store, and none for the agent’s own failure or another answer', () => {
    expect(parseNodeCacheError('{"error":"no such key","reason":"ModelNotFound"}')).toEqual({
      error: 'no such key',
      reason: 'ModelNotFound',
    });
    expect(parseNodeCacheError('{"error":"disk full"}')).toEqual({ error: 'disk full' });
    expect(parseNodeCacheError('{"error":"x","reason":"Exploded"}')).toEqual({ error: 'x' });
    expect(parseNodeCacheError('<html>bad gateway</html>')).toBeUndefined();
  });
});
