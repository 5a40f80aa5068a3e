import { downstreamResponseHeaders, endToEnd, headerValue, upstreamRequestHeaders } from './headers.js';

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

describe('upstreamRequestHeaders', () => {
  it.each([
    [{ host: 'md.ml' }, '10.0.0.7', { host: 'backend:8080', 'x-forwarded-for': '10.0.0.7', 'x-forwarded-host': 'md.ml', 'x-forwarded-proto': 'http' }],
    [{ host: 'md.ml', 'x-forwarded-for': '1.2.3.4', 'x-forwarded-proto': 'https' }, '::ffff:10.0.0.7', { host: 'backend:8080', 'x-forwarded-for': '1.2.3.4, 10.0.0.7', 'x-forwarded-host': 'md.ml', 'x-forwarded-proto': 'https' }],
    [{}, undefined, { host: 'backend:8080', 'x-forwarded-proto': 'http' }],
  ])('%j from %s', (incoming, client, expected) => {
    expect(upstreamRequestHeaders(incoming, 'backend:8080', client)).toEqual(expected);
  });
});

describe('downstreamResponseHeaders', () => {
  it('names the revision and drops hop-by-hop headers', () => {
    expect(downstreamResponseHeaders({ 'content-type': 'text/plain', connection: 'close', 'set-cookie': ['a=1', 'b=2'] }, 'r1')).toEqual({
      'content-type': 'text/plain',
      'set-cookie': ['a=1', 'b=2'],
      'x-modelship-revision': 'r1',
    });
  });
});

describe('headerValue', () => {
  it('returns the first value', () => {
    expect(headerValue({ 'x-user': 'a' }, 'x-user')).toBe('a');
    expect(headerValue({ 'set-cookie': ['a', 'b'] }, 'set-cookie')).toBe('a');
    expect(headerValue({}, 'x-user')).toBeUndefined();
  });
});
