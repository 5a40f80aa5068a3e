/**
 * oci:// models (pushed by the real oras to the real distribution registry, test/stores/) served by
 * the real server process: by tag and by digest, with registry credentials from a
 * `.dockerconfigjson` Secret key, and the failures an operator reads from the termination message.
 */
import { jest } from '@jest/globals';
import { orasPush, type OrasPushed } from '../../../test/stores/oras.js';
import { startRegistry, type TestRegistry } from '../../../test/stores/registry.js';
import {
  cacheEntries,
  failure,
  inferStatus,
  removeSecretDirs,
  secretDir,
  serve,
  TINY,
  TINY_SHA256,
} from './harness.js';

// Each test starts real server processes against a real store: seconds each, more on a loaded machine.
jest.setTimeout(120_000);

const auth = { username: 'puller', password: 'Registry-pa55-not-in-logs' };
let open: TestRegistry;
let closed: TestRegistry;
let pushed: OrasPushed;

beforeAll(async () => {
  [open, closed] = await Promise.all([startRegistry(), startRegistry({ auth })]);
  pushed = await orasPush({ address: open.address, repository: 'models/tiny', tag: 'v1', file: TINY });
  await orasPush({ address: closed.address, repository: 'models/tiny', tag: 'v1', file: TINY, auth });
}, 180_000);
afterAll(async () => {
  removeSecretDirs();
  await Promise.all([open?.stop(), closed?.stop()]);
});

const plain = { MODELSHIP_STORAGE_PLAIN_HTTP: 'true' };
const dockerConfig = (address: string, password: string): string =>
  JSON.stringify({
    auths: { [address]: { auth: Buffer.from(`${auth.username}:${password}`).toString('base64') } },
  });

it.each([
  ['a tag', () => `oci://${open.address}/models/tiny:v1`],
  ['a digest', () => `oci://${open.address}/models/tiny@${pushed.manifestDigest}`],
])('serves a model pushed by oras, by %s, and answers an inference', async (_what, uri) => {
  const server = await serve(uri(), plain);
  try {
    expect(await inferStatus(server)).toBe(200);
    expect(cacheEntries(server)).toEqual([`sha256-${TINY_SHA256}.onnx`]);
  } finally {
    await server.stop();
  }
});

it('pulls from a registry that needs credentials with the .dockerconfigjson key, never logging them', async () => {
  const dir = secretDir({ '.dockerconfigjson': dockerConfig(closed.address, auth.password) });
  const server = await serve(`oci://${closed.address}/models/tiny:v1`, {
    ...plain,
    MODELSHIP_STORAGE_CREDENTIALS_DIR: dir,
  });
  try {
    expect(await inferStatus(server)).toBe(200);
  } finally {
    await server.stop();
  }
  expect(JSON.stringify(server.logs) + server.stderr()).not.toContain(auth.password);
});

it('reports a wrong registry password as ModelAccessDenied, showing it nowhere', async () => {
  const wrong = 'Wrong-registry-pa55';
  const dir = secretDir({ '.dockerconfigjson': dockerConfig(closed.address, wrong) });
  const server = await serve(
    `oci://${closed.address}/models/tiny:v1`,
    { ...plain, MODELSHIP_STORAGE_CREDENTIALS_DIR: dir },
    false,
  );
  const end = await failure(server);
  expect(end.reason).toBe('ModelAccessDenied');
  expect(end.termination + end.logText).not.toContain(wrong);
  expect(end.termination + end.logText).not.toContain(Buffer.from(`${auth.username}:${wrong}`).toString('base64'));
  expect(cacheEntries(server)).toEqual([]);
});

it('reports a missing tag as ModelNotFound, and a wrong sha256 as ModelDigestMismatch', async () => {
  const missing = await failure(await serve(`oci://${open.address}/models/tiny:v9`, plain, false));
  expect(missing.reason).toBe('ModelNotFound');
  expect(missing.message).toContain('models/tiny:v9');
  const wrong = '12'.repeat(32);
  const server = await serve(`oci://${open.address}/models/tiny:v1`, { ...plain, MODELSHIP_SHA256: wrong }, false);
  const mismatch = await failure(server);
  expect(mismatch.reason).toBe('ModelDigestMismatch');
  expect(mismatch.message).toContain(`expected ${wrong}, got ${TINY_SHA256}`);
  expect(cacheEntries(server)).toEqual([]);
});
