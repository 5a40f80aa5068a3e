import {
  MIRROR_HEADER,
  downstreamResponseHeaders,
  endToEnd,
  rawHeaderValue,
  upstreamRequestHeaders,
  withBackendHost,
} from './headers.js';

describe('endToEnd', () => {
  it('drops hop-by-hop headers and those named by Connection', () => {
    expect(
      endToEnd({
        connection: 'keep-alive, x-secret-hop',
        'keep-alive': 'timeout=5',
        'transfer-encoding': 'chunked',
        te: 'trailers',
        upgrade: 'h2c',
        'proxy-authorization': 'Basic x',
        'x-secret-hop': '1',
        'content-type': 'application/json',
        'content-length': '12',
        authorization: 'Bearer t',
        'inference-header-content-length': '80',
      }),
    ).toEqual({
      'content-type': 'application/json',
      'content-length': '12',
      authorization: 'Bearer t',
      'inference-header-content-length': '80',
    });
  });
});

/** A flat raw header list as a lower-cased object, so expectations ignore case and order. */
const asObject = (raw: string[]): Record<string, string> => {
  const out: Record<string, string> = {};
  for (let i = 0; i < raw.length; i += 2) out[raw[i].toLowerCase()] = raw[i + 1];
  return out;
};

describe('upstreamRequestHeaders', () => {
  it.each([
    [
      ['Host', 'md.ml'],
      '10.0.0.7',
      { host: 'backend:8080', 'x-forwarded-for': '10.0.0.7', 'x-forwarded-host': 'md.ml', 'x-forwarded-proto': 'http' },
    ],
    [
      ['host', 'md.ml', 'X-Forwarded-For', '1.2.3.4', 'x-forwarded-proto', 'https'],
      '::ffff:10.0.0.7',
      {
        host: 'backend:8080',
        'x-forwarded-for': '1.2.3.4, 10.0.0.7',
        'x-forwarded-host': 'md.ml',
        'x-forwarded-proto': 'https',
      },
    ],
    [
      ['x-forwarded-for', '1.2.3.4', 'x-forwarded-for', '5.6.7.8'],
      undefined,
      { host: 'backend:8080', 'x-forwarded-for': '1.2.3.4, 5.6.7.8', 'x-forwarded-proto': 'http' },
    ],
    [[], undefined, { host: 'backend:8080', 'x-forwarded-proto': 'http' }],
  ])('%j from %s', (incoming, client, expected) => {
    expect(asObject(upstreamRequestHeaders(incoming, 'backend:8080', client))).toEqual(expected);
  });

  it('drops hop-by-hop headers, those named by Connection, and Expect; keeps the rest in order and case', () => {
    const raw = [
      'Host',
      'md.ml',
      'Connection',
      'keep-alive, X-Secret-Hop',
      'Keep-Alive',
      'timeout=5',
      'Transfer-Encoding',
      'chunked',
      'TE',
      'trailers',
      'Upgrade',
      'h2c',
      'Proxy-Authorization',
      'Basic x',
      'X-Secret-Hop',
      '1',
      'Expect',
      '100-continue',
      'Content-Type',
      'application/octet-stream',
      'Content-Length',
      '12',
      'Authorization',
      'Bearer t',
      'Inference-Header-Content-Length',
      '80',
      'X-Multi',
      'a',
      'X-Multi',
      'b',
    ];
    expect(upstreamRequestHeaders(raw, 'b:80', '10.0.0.7', [MIRROR_HEADER, 'true'])).toEqual([
      'host',
      'b:80',
      'Content-Type',
      'application/octet-stream',
      'Content-Length',
      '12',
      'Authorization',
      'Bearer t',
      'Inference-Header-Content-Length',
      '80',
      'X-Multi',
      'a',
      'X-Multi',
      'b',
      'x-forwarded-for',
      '10.0.0.7',
      'x-forwarded-host',
      'md.ml',
      'x-forwarded-proto',
      'http',
      MIRROR_HEADER,
      'true',
    ]);
  });
});

describe('downstreamResponseHeaders', () => {
  it('names the revision and drops hop-by-hop headers', () => {
    expect(
      downstreamResponseHeaders(
        { 'content-type': 'text/plain', connection: 'close', 'set-cookie': ['a=1', 'b=2'] },
        'r1',
      ),
    ).toEqual({
      'content-type': 'text/plain',
      'set-cookie': ['a=1', 'b=2'],
      'x-modelship-revision': 'r1',
    });
  });
});

describe('rawHeaderValue', () => {
  it('returns the first value, matching the name in any case', () => {
    expect(rawHeaderValue(['X-User', 'a', 'x-user', 'b'], 'x-user')).toBe('a');
    expect(rawHeaderValue(['x-user-id', 'a'], 'x-user')).toBeUndefined();
    expect(rawHeaderValue([], 'x-user')).toBeUndefined();
  });
});

describe('withBackendHost', () => {
  it('makes the same request headers for another backend: only Host differs, the original is unchanged', () => {
    const raw = ['Host', 'md.ml', 'Content-Type', 'application/json', 'X-User', 'u1'];
    const first = upstreamRequestHeaders(raw, '10.0.0.5:8080', '10.0.0.7');
    const second = withBackendHost(first, 'digits-5f7c9.ml.svc:8080');
    expect(second).toEqual(upstreamRequestHeaders(raw, 'digits-5f7c9.ml.svc:8080', '10.0.0.7'));
    expect(asObject(first).host).toBe('10.0.0.5:8080');
  });
});
