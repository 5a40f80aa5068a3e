/**
 * gs:// models from a real GCS emulator (fake-gcs-server, test/stores/gcs.ts) on loopback, served
 * by the real server process through @google-cloud/storage.
 */
import { jest } from '@jest/globals';
import { startFakeGcs, type TestGcs } from '../../../test/stores/gcs.js';
import { gcsSource } from '../../src/model/gcs.js';
import { closedPort, cacheEntries, failure, inferStatus, serve, TINY, TINY_SHA256 } from './harness.js';

// Each test starts real server processes against a real store: seconds each, more on a loaded machine.
jest.setTimeout(120_000);

let gcs: TestGcs;

beforeAll(async () => {
  gcs = await startFakeGcs();
  await gcs.createBucket('models');
  await gcs.upload('models', 'team/tiny.onnx', TINY);
}, 120_000);
afterAll(() => gcs?.stop());

it('serves a model from gs:// and answers an inference', async () => {
  const server = await serve('gs://models/team/tiny.onnx', { MODELSHIP_STORAGE_ENDPOINT: gcs.endpoint });
  try {
    expect(await inferStatus(server)).toBe(200);
    expect(cacheEntries(server)).toEqual([`sha256-${TINY_SHA256}.onnx`]);
    expect(server.logs).toContainEqual(
      expect.objectContaining({ msg: 'model fetched', uri: 'gs://models/team/tiny.onnx', cached: false }),
    );
  } finally {
    await server.stop();
  }
});

it.each([
  ['a missing object', 'gs://models/team/gone.onnx'],
  ['a missing bucket', 'gs://no-such-bucket/tiny.onnx'],
])('reports %s as ModelNotFound, naming the URI', async (_what, uri) => {
  const server = await serve(uri, { MODELSHIP_STORAGE_ENDPOINT: gcs.endpoint }, false);
  const end = await failure(server);
  expect(end.code).toBe(1);
  expect(end.reason).toBe('ModelNotFound');
  expect(end.message).toContain(`fetch model ${uri}: `);
  expect(cacheEntries(server)).toEqual([]);
});

it('refuses content with another digest as ModelDigestMismatch and keeps nothing', async () => {
  const wrong = 'cd'.repeat(32);
  const server = await serve(
    'gs://models/team/tiny.onnx',
    { MODELSHIP_STORAGE_ENDPOINT: gcs.endpoint, MODELSHIP_SHA256: wrong },
    false,
  );
  const end = await failure(server);
  expect(end.reason).toBe('ModelDigestMismatch');
  expect(end.message).toContain(`expected ${wrong}, got ${TINY_SHA256}`);
  expect(cacheEntries(server)).toEqual([]);
});

it('refuses a malformed gs:// URI before asking the store', async () => {
  const end = await failure(await serve('gs://Models/tiny.onnx', { MODELSHIP_STORAGE_ENDPOINT: gcs.endpoint }, false));
  expect(end.reason).toBe('ModelSourceInvalid');
  expect(end.message).toMatch(/^model URI gs:\/\/Models\/tiny\.onnx: bucket name "Models" must be lowercase/);
});

it('retries an endpoint that is down, then reports it within a short deadline', async () => {
  const port = await closedPort();
  const server = await serve(
    'gs://models/team/tiny.onnx',
    { MODELSHIP_STORAGE_ENDPOINT: `http://127.0.0.1:${port}`, MODELSHIP_STORAGE_TIMEOUT_SECONDS: '3' },
    false,
  );
  const end = await failure(server);
  expect(end.reason).toMatch(/^(ModelSourceUnavailable|ModelFetchTimeout)$/);
  expect(end.message).toMatch(/^fetch model gs:\/\/models\/team\/tiny\.onnx: .*ECONNREFUSED/);
  expect(end.message).toMatch(/attempts/);
});

describe('gcsSource.probe (what the node cache asks before it serves a cached model)', () => {
  const probe = (uri: string) =>
    gcsSource.probe({
      uri,
      settings: { endpoint: gcs.endpoint, credentials: {} },
      signal: AbortSignal.timeout(30_000),
    });

  it('passes for an object that is there and refuses one that is not, reading metadata only', async () => {
    await expect(probe('gs://models/team/tiny.onnx')).resolves.toBeUndefined();
    await expect(probe('gs://models/team/gone.onnx')).rejects.toMatchObject({
      reason: 'ModelNotFound',
      message: expect.stringMatching(/^probe model gs:\/\/models\/team\/gone\.onnx: /),
    });
  });

  it('refuses a service account key that is not one, naming the key and never its content', async () => {
    const run = gcsSource.probe({
      uri: 'gs://models/team/tiny.onnx',
      settings: {
        endpoint: gcs.endpoint,
        credentials: { gcsServiceAccountJson: '{"private_key": "-----BEGIN secret' },
      },
      signal: AbortSignal.timeout(30_000),
    });
    const err = (await run.catch((e: unknown) => e)) as { reason?: string; message: string };
    expect(err.reason).toBe('ModelSourceInvalid');
    expect(err.message).toBe(
      'storage credential gcloud-application-credentials.json is not JSON (a service account key)',
    );
  });
});
