/**
 * oci:// against the real distribution registry with token auth, as public registries (Docker Hub, GHCR, Harbor)
 * run: a 401 with a Bearer challenge, a token server issuing ES256 JWTs the registry verifies against the signing
 * certificate it trusts (rootcertbundle). The token server is this test's (the registry has none of its own). The
 * model is pushed by the real oras CLI, through the same token flow.
 *
 * Needs the registry binary built with distribution's token access controller (test/cluster/go/distribution).
 */
import { jest } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { createPrivateKey, randomUUID, sign, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { orasPush, type OrasPushed } from '../../../test/stores/oras.js';
import { answers, type StoreProcess } from '../../../test/stores/process.js';
import type { StoreSettings } from '../../src/model/remote.js';
import { openOci, probeOci } from '../../src/model/oci.js';
import { EXAMPLES, sha256Of } from '../helpers/server.js';
import { failure, registryConfig, request, sha256OfStream, startRegistryProcess } from './oci-harness.js';

// Each test talks to a real registry and its token server: seconds on a loaded machine.
jest.setTimeout(60_000);

const DIGITS = path.join(EXAMPLES, 'digits.onnx');
const USER = { username: 'modeler', password: 'pa55-w0rd-never-shown' };
const REFRESH_TOKEN = 'refresh-token-never-shown';
const SERVICE = 'modelship-test-registry';
const ISSUER = 'modelship-test-token-server';

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'modelship-oci-token-'));
  // The token signing key and its self-signed certificate, which the registry trusts.
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      'token.key',
      '-out',
      'token.pem',
      '-days',
      '1',
      '-subj',
      '/CN=modelship test tokens',
    ],
    { cwd: dir, stdio: 'pipe' },
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function settings(store: Partial<StoreSettings> & { dockerConfig?: object } = {}): StoreSettings {
  const { dockerConfig, ...rest } = store;
  return {
    ...rest,
    credentials: dockerConfig === undefined ? {} : { ociDockerConfigJson: JSON.stringify(dockerConfig) },
  };
}

const base64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url');

/** A token request the token server answered. */
interface TokenCall {
  method: string;
  scope: string[];
  grant?: string;
  basic?: string;
}

/**
 * The token server: Basic credentials (USER) or a refresh token (REFRESH_TOKEN) get the actions asked for; no
 * credentials get a token granting nothing (the registry then refuses it); wrong ones get 401. Tokens are ES256 JWTs
 * carrying the signing certificate (x5c), which the registry checks against its rootcertbundle.
 */
async function startTokenServer(): Promise<{ url: string; calls: TokenCall[]; close(): Promise<void> }> {
  const key = createPrivateKey(readFileSync(path.join(dir, 'token.key')));
  const x5c = [new X509Certificate(readFileSync(path.join(dir, 'token.pem'))).raw.toString('base64')];
  const calls: TokenCall[] = [];
  const jwt = (scopes: string[], granted: boolean): string => {
    const now = Math.floor(Date.now() / 1000);
    const access = granted
      ? scopes.map((s) => {
          const [type, name, actions] = s.split(':');
          return { type, name, actions: actions.split(',') };
        })
      : [];
    const header = base64url(JSON.stringify({ alg: 'ES256', typ: 'JWT', x5c }));
    const claims = base64url(
      JSON.stringify({
        iss: ISSUER,
        sub: 'modeler',
        aud: SERVICE,
        exp: now + 300,
        nbf: now - 10,
        iat: now,
        jti: randomUUID(),
        access,
      }),
    );
    const signature = sign('sha256', Buffer.from(`${header}.${claims}`), { key, dsaEncoding: 'ieee-p1363' });
    return `${header}.${claims}.${base64url(signature)}`;
  };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://token');
      const form = new URLSearchParams(body);
      const scope = req.method === 'POST' ? [form.get('scope') ?? ''] : url.searchParams.getAll('scope');
      const basic = req.headers.authorization?.startsWith('Basic ')
        ? Buffer.from(req.headers.authorization.slice(6), 'base64').toString('utf8')
        : undefined;
      const grant = form.get('grant_type') ?? undefined;
      calls.push({ method: req.method ?? '', scope, ...(grant ? { grant } : {}), ...(basic ? { basic } : {}) });
      const good =
        req.method === 'POST'
          ? grant === 'refresh_token' && form.get('refresh_token') === REFRESH_TOKEN
          : basic === undefined || basic === `${USER.username}:${USER.password}`;
      if (!good) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"incorrect username or password"}');
        return;
      }
      const token = jwt(scope, basic !== undefined || req.method === 'POST');
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify(req.method === 'POST' ? { access_token: token } : { token }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`,
    calls,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('oci:// from a registry with token auth (Bearer)', () => {
  let tokens: Awaited<ReturnType<typeof startTokenServer>>;
  let registry: StoreProcess;
  let pushed: OrasPushed;
  let uri: string;

  beforeAll(async () => {
    tokens = await startTokenServer();
    const auth = `auth:
  token:
    realm: ${tokens.url}
    service: ${SERVICE}
    issuer: ${ISSUER}
    rootcertbundle: ${path.join(dir, 'token.pem')}
`;
    registry = await startRegistryProcess(
      (address, storeDir) => registryConfig(address, path.join(storeDir, 'storage'), auth),
      (address) => answers(`http://${address}/v2/`, [401]),
    );
    pushed = await orasPush({
      address: registry.address,
      repository: 'models/digits',
      tag: 'v1',
      file: DIGITS,
      auth: USER,
    });
    uri = `oci://${registry.address}/models/digits:v1`;
  }, 120_000);
  afterAll(async () => {
    await registry?.stop();
    await tokens?.close();
  });
  beforeEach(() => {
    tokens.calls.length = 0;
  });

  test('a user and password get a pull token with Basic, and the model', async () => {
    const store = settings({ plainHttp: true, dockerConfig: { auths: { [registry.address]: USER } } });
    const object = await openOci(request(uri, store));
    expect(await sha256OfStream(object.body)).toBe(sha256Of(DIGITS));
    expect(object.manifestDigest).toBe(pushed.manifestDigest);
    // One token for the manifest and the blob, asked for pull only.
    expect(tokens.calls).toEqual([
      { method: 'GET', scope: ['repository:models/digits:pull'], basic: `${USER.username}:${USER.password}` },
    ]);
    await expect(probeOci(request(uri, store))).resolves.toBeUndefined();
  });

  test('a refresh token (identitytoken) gets a pull token by the OAuth2 POST, and the model', async () => {
    const store = settings({
      plainHttp: true,
      dockerConfig: { auths: { [registry.address]: { identitytoken: REFRESH_TOKEN } } },
    });
    const object = await openOci(request(uri, store));
    expect(await sha256OfStream(object.body)).toBe(sha256Of(DIGITS));
    expect(tokens.calls).toEqual([
      { method: 'POST', scope: ['repository:models/digits:pull'], grant: 'refresh_token' },
    ]);
  });

  test('a wrong password is refused by the token server: ModelAccessDenied, no secret in the message', async () => {
    const store = settings({
      plainHttp: true,
      dockerConfig: { auths: { [registry.address]: { ...USER, password: 'wrong-never-shown' } } },
    });
    const origin = new URL(tokens.url).origin;
    for (const [verb, call] of [
      ['get', openOci],
      ['check', probeOci],
    ] as const) {
      const failed = await failure(call(request(uri, store)));
      expect(failed).toEqual({
        reason: 'ModelAccessDenied',
        message: `${verb} manifest of ${uri}: get a token from ${origin}: HTTP 401 (with the .dockerconfigjson entry for ${registry.address})`,
      });
      expect(failed.message).not.toMatch(/never-shown|pa55/);
    }
  });

  test('an anonymous token without pull access is refused by the registry: ModelAccessDenied', async () => {
    const failed = await failure(openOci(request(uri, settings({ plainHttp: true }))));
    expect(failed).toEqual({
      reason: 'ModelAccessDenied',
      message:
        `get manifest of ${uri}: HTTP 401 UNAUTHORIZED: authentication required ` +
        `(anonymously: no .dockerconfigjson entry for ${registry.address})`,
    });
    expect(tokens.calls).toEqual([{ method: 'GET', scope: ['repository:models/digits:pull'] }]);
  });
});
