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
import { FIXTURES, sha256Of, type ServerProcess } from '../helpers/server.js';
import { metric, startAgent } from './harness.js';

jest.setTimeout(240_000);

const MLP = path.join(FIXTURES, 'mlp.onnx');
let gcs: TestGcs | undefined;
let agent: ServerProcess | undefined;

afterEach(async () => {
  await agent?.stop();
  await gcs?.stop();
  agent = gcs = undefined;
});

/** POST a models-route request; the answer's status, cache header and the sha256 of its bytes. */
async function ask(body: unknown): Promise<{ status: number; cache: string | null; sha256: string }> {
  const res = await fetch(`${agent!.url}/v1/models`, { method: 'POST', body: JSON.stringify(body) });
  const bytes = Buffer.from(await res.arrayBuffer());
  return {
    status: res.status,
    cache: res.headers.get('x-modelship-cache'),
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
}

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
