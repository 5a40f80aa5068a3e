import {
  basicAuthorization,
  dockerConfigCredentials,
  parseWwwAuthenticate,
  tokenFromResponse,
  tokenRequest,
} from './oci-auth.js';

describe('parseWwwAuthenticate', () => {
  test.each([
    [
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/x:pull"',
      [
        {
          scheme: 'bearer',
          params: {
            realm: 'https://auth.docker.io/token',
            service: 'registry.docker.io',
            scope: 'repository:library/x:pull',
          },
        },
      ],
    ],
    ['Basic realm="Registry Realm"', [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]],
    // ghcr.io's form, spaces after commas, a token (unquoted) value, a scope with a comma inside quotes.
    [
      'Bearer realm="https://ghcr.io/token", service=ghcr.io, scope="repository:o/m:pull,push"',
      [
        {
          scheme: 'bearer',
          params: { realm: 'https://ghcr.io/token', service: 'ghcr.io', scope: 'repository:o/m:pull,push' },
        },
      ],
    ],
    [
      'Basic realm="a \\"quoted\\" realm", Bearer realm="https://t.example/token",error="invalid_token"',
      [
        { scheme: 'basic', params: { realm: 'a "quoted" realm' } },
        { scheme: 'bearer', params: { realm: 'https://t.example/token', error: 'invalid_token' } },
      ],
    ],
    ['', []],
    [
      'Bearer realm=, Basic',
      [
        { scheme: 'bearer', params: {} },
        { scheme: 'basic', params: {} },
      ],
    ],
  ])('%s', (header, expected) => {
    expect(parseWwwAuthenticate(header)).toEqual(expected);
  });
});

describe('dockerConfigCredentials', () => {
  const b64 = (s: string): string => Buffer.from(s).toString('base64');
  const config = JSON.stringify({
    auths: {
      'registry.example': { auth: b64('alice:pa:ss') },
      'registry.example:5000': { username: 'bob', password: 'hunter2' },
      'https://index.docker.io/v1/': { auth: b64('hub:token') },
      'http://refresh.example/v2/': { identitytoken: 'refresh-me', auth: b64('<token>:') },
      'empty.example': {},
    },
  });

  test.each([
    ['registry.example', { kind: 'basic', username: 'alice', password: 'pa:ss' }],
    ['Registry.Example', { kind: 'basic', username: 'alice', password: 'pa:ss' }],
    ['registry.example:5000', { kind: 'basic', username: 'bob', password: 'hunter2' }],
    ['docker.io', { kind: 'basic', username: 'hub', password: 'token' }],
    ['refresh.example', { kind: 'identityToken', identityToken: 'refresh-me' }],
    ['registry.example:5001', undefined],
    ['other.example', undefined],
  ])('for %s', (registry, expected) => {
    expect(dockerConfigCredentials(config, registry)).toEqual(expected);
  });

  test.each([
    ['{"auths": {"r.example": {"auth": "c2VjcmV0"}', 'not valid JSON'],
    ['{"r.example": {"auth": "c2VjcmV0"}}', 'no "auths" object'],
    [
      JSON.stringify({ auths: { 'r.example': { auth: b64('s3cretnocolon') } } }),
      'the "auth" of "r.example" is not base64 of user:password',
    ],
    [
      JSON.stringify({ auths: { 'r.example': { username: 'u' } } }),
      'the entry "r.example" has neither "auth", "username" and "password", nor "identitytoken"',
    ],
  ])('refuses a broken document without quoting it: %s', (json, why) => {
    let thrown: Error | undefined;
    try {
      dockerConfigCredentials(json, 'r.example');
    } catch (err) {
      thrown = err as Error;
    }
    expect(thrown).toMatchObject({ reason: 'ModelSourceInvalid' });
    expect(thrown?.message).toBe(`read the .dockerconfigjson credentials for r.example: ${why}`);
    expect(thrown?.message).not.toMatch(/s3cret|c2VjcmV0|czNjcmV0/);
  });
});

describe('tokenRequest', () => {
  const bearer = {
    scheme: 'bearer',
    params: { realm: 'https://auth.example/token?x=1', service: 'reg.example', scope: 'repository:other:push' },
  };

  test('anonymous: a GET for a pull scope of our repository, whatever scope the challenge named', () => {
    expect(tokenRequest(bearer, 'models/digits', undefined)).toEqual({
      url: 'https://auth.example/token?x=1&service=reg.example&scope=repository%3Amodels%2Fdigits%3Apull',
      method: 'GET',
      headers: {},
    });
  });

  test('with a user and password: Basic on the token request', () => {
    const request = tokenRequest(bearer, 'm', { kind: 'basic', username: 'u', password: 'p' });
    expect(request.method).toBe('GET');
    expect(request.headers).toEqual({ authorization: basicAuthorization('u', 'p') });
    expect(basicAuthorization('u', 'p')).toBe('Basic dTpw');
  });

  test('with a refresh token: the OAuth2 POST', () => {
    const request = tokenRequest(bearer, 'm', { kind: 'identityToken', identityToken: 'rt' });
    expect(request).toMatchObject({ url: 'https://auth.example/token?x=1', method: 'POST' });
    expect(Object.fromEntries(new URLSearchParams(request.body))).toEqual({
      grant_type: 'refresh_token',
      refresh_token: 'rt',
      client_id: 'modelship',
      scope: 'repository:m:pull',
      service: 'reg.example',
    });
  });

  test.each<Record<string, string>>([{}, { realm: 'not a url' }, { realm: 'file:///etc/passwd' }])(
    'refuses a realm of %p',
    (params) => {
      expect(() => tokenRequest({ scheme: 'bearer', params }, 'm', undefined)).toThrow(/realm/);
    },
  );
});

test.each([
  [{ token: 't1' }, 't1'],
  [{ access_token: 't2' }, 't2'],
  [{ token: '' }, undefined],
  [null, undefined],
])('tokenFromResponse(%p)', (body, token) => {
  expect(tokenFromResponse(body)).toBe(token);
});
