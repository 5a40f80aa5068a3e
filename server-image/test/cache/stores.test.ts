/**
 * The node cache in front of real stores (test/stores/, started and stopped here on loopback): a
 * model is downloaded from the store once, then served from the node's disk after a metadata request.
 */
import { jest } from '@jest/globals';
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startFakeGcs, type TestGcs } from '../../../test/stores/gcs.js';
import { startS3, type TestS3 } from '../../../test/stores/s3.js';
import { FIXTURES, sha256Of, type ServerProcess } from '../helpers/server.js';
import { metric, startAgent } from './harness.js';

jest.setTimeout(240_000);

const MLP = path.join(FIXTURES, 'mlp.onnx');
let gcs: TestGcs | undefined;
let s3: TestS3 | undefined;
let agent: ServerProcess | undefined;

afterEach(async () => {
  await agent?.stop();
  await gcs?.stop();
  await s3?.stop();
  agent = gcs = s3 = undefined;
});

/** POST a models-route request; the answer's status, cache header and the sha256 of its bytes. */
async function ask(body: unknown): Promise<{ status: number; cache: string | null; sha256: string; reason?: string }> {
  const res = await fetch(`${agent!.url}/v1/models`, { method: 'POST', body: JSON.stringify(body) });
  const bytes = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) {
    return {
      status: res.status,
      cache: null,
      sha256: '',
      reason: (JSON.parse(bytes.toString()) as { reason?: string }).reason,
    };
  }
  return {
    status: res.status,
    cache: res.headers.get('x-modelship-cache'),
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
}

it('s3://: one download from MinIO for the tenant with access; another tenant is refused though the model is cached', async () => {
  s3 = await startS3();
  await s3.createBucket('models');
  await s3.upload('models', 'mlp.onnx', MLP);
  agent = await startAgent(mkdtempSync(path.join(tmpdir(), 'modelship-nodecache-')));
  const settings = { endpoint: s3.endpoint, region: s3.region, pathStyle: true };
  const request = { uri: 's3://models/mlp.onnx', sha256: sha256Of(MLP), settings };
  const owner = { ...request, credentials: { s3: s3.rootCredentials } };

  expect(await ask(owner)).toEqual({ status: 200, cache: 'miss', sha256: sha256Of(MLP) });
  expect(await ask(owner)).toEqual({ status: 200, cache: 'hit', sha256: sha256Of(MLP) });
  const stranger = { ...request, credentials: { s3: { accessKeyId: 'someone-else', secretAccessKey: 'not-the-key' } } };
  expect(await ask(stranger)).toMatchObject({ status: 403, reason: 'ModelAccessDenied' });
  expect(await ask(request)).toMatchObject({ status: 403, reason: 'ModelAccessDenied' });
  expect(await metric(agent.metricsUrl, 'modelship_cache_downloads_total')).toBe(1);
  const logs = JSON.stringify(agent.logs) + agent.stderr();
  expect(logs).not.toContain(s3.rootCredentials.secretAccessKey);
  expect(logs).not.toContain('not-the-key');
});

it('gs://: downloads once from the GCS emulator, then serves the node’s copy', async () => {
  gcs = await startFakeGcs();
  await gcs.createBucket('models');
  await gcs.upload('models', 'mlp.onnx', MLP);
  agent = await startAgent(mkdtempSync(path.join(tmpdir(), 'modelship-nodecache-')));
  const request = { uri: 'gs://models/mlp.onnx', sha256: sha256Of(MLP), settings: { endpoint: gcs.endpoint } };

  expect(await ask(request)).toEqual({ status: 200, cache: 'miss', sha256: sha256Of(MLP) });
  expect(await ask(request)).toEqual({ status: 200, cache: 'hit', sha256: sha256Of(MLP) });
  expect(await metric(agent.metricsUrl, 'modelship_cache_downloads_total')).toBe(1);

  const missing = await ask({ ...request, uri: 'gs://models/nothing.onnx' });
  expect(missing.status).toBe(404);
});
