/**
 * gs:// models from a real GCS emulator (fake-gcs-server, test/stores/gcs.ts) on loopback, served
 * by the real server process through @google-cloud/storage.
 */
import { startFakeGcs, type TestGcs } from '../../../test/stores/gcs.js';
import { cacheEntries, failure, inferStatus, serve, TINY, TINY_SHA256 } from './harness.js';

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
