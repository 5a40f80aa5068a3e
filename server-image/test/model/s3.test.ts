/**
 * s3:// models from a real MinIO (test/stores/s3.ts) on loopback, served by the real server
 * process through @aws-sdk/client-s3: credentials from a Secret-like directory, session
 * credentials, anonymous reads of a public bucket, and every way a fetch can fail, reported with
 * its own reason and never with a secret in it.
 */
import { jest } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { startS3, type TestS3 } from '../../../test/stores/s3.js';
import { s3Source } from '../../src/model/s3.js';
import {
  closedPort,
  cacheEntries,
  failure,
  inferStatus,
  removeSecretDirs,
  secretDir,
  serve,
  TINY,
  TINY_SHA256,
} from './harness.js';
import { makeTestTls } from './tls.js';

// Each test starts real server processes against a real store: seconds each, more on a loaded machine.
jest.setTimeout(120_000);

let s3: TestS3;
let rootSecret: string;

beforeAll(async () => {
  s3 = await startS3();
  await s3.createBucket('models');
  await s3.createBucket('public-models', { anonymousRead: true });
  await s3.createBucket('other-team');
  await s3.upload('models', 'team/tiny.onnx', TINY);
  await s3.upload('public-models', 'tiny.onnx', TINY);
  await s3.upload('other-team', 'tiny.onnx', TINY);
  rootSecret = secretDir({
    AWS_ACCESS_KEY_ID: s3.rootCredentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.rootCredentials.secretAccessKey,
  });
}, 180_000);
afterAll(async () => {
  removeSecretDirs();
  await s3?.stop();
});

/** The storage settings the operator would write for this MinIO (path-style, as MinIO needs). */
const storage = (credentialsDir?: string): Record<string, string> => ({
  MODELSHIP_STORAGE_ENDPOINT: s3.endpoint,
  MODELSHIP_STORAGE_PATH_STYLE: 'true',
  MODELSHIP_STORAGE_REGION: s3.region,
  ...(credentialsDir === undefined ? {} : { MODELSHIP_STORAGE_CREDENTIALS_DIR: credentialsDir }),
});

it.each(['1', '2'])(
  'serves a model from s3:// with the Secret credentials (%s serving processes), never logging the secret',
  async (processes) => {
    const server = await serve('s3://models/team/tiny.onnx', {
      ...storage(rootSecret),
      MODELSHIP_PROCESSES: processes,
    });
    try {
      expect(await inferStatus(server)).toBe(200);
      expect(cacheEntries(server)).toEqual([`sha256-${TINY_SHA256}.onnx`]);
      expect(server.logs).toContainEqual(
        expect.objectContaining({ msg: 'model fetched', uri: 's3://models/team/tiny.onnx', cached: false }),
      );
    } finally {
      await server.stop();
    }
    expect(JSON.stringify(server.logs) + server.stderr()).not.toContain(s3.rootCredentials.secretAccessKey);
  },
);

it('serves a model from a public bucket without credentials', async () => {
  const server = await serve('s3://public-models/tiny.onnx', storage());
  try {
    expect(await inferStatus(server)).toBe(200);
  } finally {
    await server.stop();
  }
});

it('serves a model with session credentials (a token) that may read only its bucket, and refuses them elsewhere', async () => {
  const tenant = await s3.readOnlyCredentials('models');
  const dir = secretDir({
    AWS_ACCESS_KEY_ID: tenant.accessKeyId,
    AWS_SECRET_ACCESS_KEY: tenant.secretAccessKey,
    AWS_SESSION_TOKEN: tenant.sessionToken,
  });
  const server = await serve('s3://models/team/tiny.onnx', storage(dir));
  try {
    expect(await inferStatus(server)).toBe(200);
  } finally {
    await server.stop();
  }
  const elsewhere = await failure(await serve('s3://other-team/tiny.onnx', storage(dir), false));
  expect(elsewhere.reason).toBe('ModelAccessDenied');
  expect(elsewhere.termination + elsewhere.logText).not.toContain(tenant.secretAccessKey);
  expect(elsewhere.termination + elsewhere.logText).not.toContain(tenant.sessionToken);
});

it('reports wrong credentials as ModelAccessDenied, keeps nothing, and shows the secret nowhere', async () => {
  const wrongSecret = 'wrong-secret-0123456789abcdef';
  const dir = secretDir({ AWS_ACCESS_KEY_ID: s3.rootCredentials.accessKeyId, AWS_SECRET_ACCESS_KEY: wrongSecret });
  const server = await serve('s3://models/team/tiny.onnx', storage(dir), false);
  const end = await failure(server);
  expect(end.code).toBe(1);
  expect(end.reason).toBe('ModelAccessDenied');
  expect(end.message).toMatch(/^fetch model s3:\/\/models\/team\/tiny\.onnx: SignatureDoesNotMatch: /);
  expect(cacheEntries(server)).toEqual([]);
  expect(end.termination + end.logText).not.toContain(wrongSecret);
});

it('reports a private bucket read without credentials as ModelAccessDenied', async () => {
  const end = await failure(await serve('s3://models/team/tiny.onnx', storage(), false));
  expect(end.reason).toBe('ModelAccessDenied');
  expect(end.message).toMatch(/^fetch model s3:\/\/models\/team\/tiny\.onnx: AccessDenied: /);
});

it.each([
  ['a missing object', 's3://models/team/gone.onnx', 'NoSuchKey'],
  ['a missing bucket', 's3://no-such-bucket/tiny.onnx', 'NoSuchBucket'],
])('reports %s as ModelNotFound, naming the URI', async (_what, uri, code) => {
  const server = await serve(uri, storage(rootSecret), false);
  const end = await failure(server);
  expect(end.reason).toBe('ModelNotFound');
  expect(end.message).toMatch(new RegExp(`^fetch model ${uri.replace(/[./]/g, '\\$&')}: ${code}: `));
  expect(cacheEntries(server)).toEqual([]);
});

it('refuses content with another digest as ModelDigestMismatch, naming both, and keeps nothing', async () => {
  const wrong = 'ef'.repeat(32);
  const server = await serve('s3://models/team/tiny.onnx', { ...storage(rootSecret), MODELSHIP_SHA256: wrong }, false);
  const end = await failure(server);
  expect(end.reason).toBe('ModelDigestMismatch');
  expect(end.message).toBe(`model s3://models/team/tiny.onnx: sha256 mismatch: expected ${wrong}, got ${TINY_SHA256}`);
  expect(cacheEntries(server)).toEqual([]);
});

it('retries a store that is down, then reports it within a short deadline', async () => {
  const port = await closedPort();
  const server = await serve(
    's3://models/team/tiny.onnx',
    {
      ...storage(rootSecret),
      MODELSHIP_STORAGE_ENDPOINT: `http://127.0.0.1:${port}`,
      MODELSHIP_STORAGE_TIMEOUT_SECONDS: '3',
    },
    false,
  );
  const end = await failure(server);
  expect(end.reason).toMatch(/^(ModelSourceUnavailable|ModelFetchTimeout)$/);
  expect(end.message).toMatch(/ECONNREFUSED/);
  expect(end.message).toMatch(/attempts/);
  expect(cacheEntries(server)).toEqual([]);
});

it('trusts an S3 endpoint whose certificate a private CA signed only with that CA, and says so without it', async () => {
  // test/stores starts MinIO over plain HTTP: this endpoint answers GetObject as S3 does, over TLS.
  const tls = makeTestTls();
  const model = readFileSync(TINY);
  const secure = createTlsServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    if (req.url?.startsWith('/models/tiny.onnx'))
      res.writeHead(200, { 'content-length': String(model.length) }).end(model);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => secure.listen(0, '127.0.0.1', resolve));
  const env = {
    MODELSHIP_STORAGE_ENDPOINT: `https://127.0.0.1:${(secure.address() as AddressInfo).port}`,
    MODELSHIP_STORAGE_PATH_STYLE: 'true',
  };
  try {
    const untrusted = await failure(await serve('s3://models/tiny.onnx', env, false));
    expect(untrusted.reason).toBe('ModelSourceInvalid');
    expect(untrusted.message).toMatch(/^fetch model s3:\/\/models\/tiny\.onnx: .*certificate/);
    const server = await serve('s3://models/tiny.onnx', { ...env, MODELSHIP_STORAGE_CA_FILE: tls.caFile });
    try {
      expect(await inferStatus(server)).toBe(200);
    } finally {
      await server.stop();
    }
  } finally {
    secure.closeAllConnections();
    await new Promise((resolve) => secure.close(resolve));
    tls.remove();
  }
});

describe('s3Source.probe (what the node cache asks before it serves a cached model)', () => {
  const probe = (
    uri: string,
    credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined,
  ) =>
    s3Source.probe({
      uri,
      settings: {
        endpoint: s3.endpoint,
        pathStyle: true,
        region: s3.region,
        credentials: credentials ? { s3: credentials } : {},
      },
      signal: AbortSignal.timeout(30_000),
    });

  it('passes for credentials that may read the object, and for anyone on a public bucket', async () => {
    await expect(probe('s3://models/team/tiny.onnx', s3.rootCredentials)).resolves.toBeUndefined();
    await expect(probe('s3://public-models/tiny.onnx', undefined)).resolves.toBeUndefined();
  });

  it('refuses what open would refuse, with the same reasons', async () => {
    const tenant = await s3.readOnlyCredentials('models');
    await expect(probe('s3://other-team/tiny.onnx', tenant)).rejects.toMatchObject({ reason: 'ModelAccessDenied' });
    await expect(probe('s3://models/team/tiny.onnx', undefined)).rejects.toMatchObject({ reason: 'ModelAccessDenied' });
    await expect(
      probe('s3://models/team/tiny.onnx', { accessKeyId: s3.rootCredentials.accessKeyId, secretAccessKey: 'wrong' }),
    ).rejects.toMatchObject({ reason: 'ModelAccessDenied' });
    await expect(probe('s3://models/team/gone.onnx', s3.rootCredentials)).rejects.toMatchObject({
      reason: 'ModelNotFound',
      message: expect.stringMatching(/^probe model s3:\/\/models\/team\/gone\.onnx: .*404/),
    });
  });
});
