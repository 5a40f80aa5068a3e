/**
 * The router in front of real model servers (the same image in server mode, on a real ONNX
 * fixture): V2 JSON, V2 binary extension and KServe V1 pass through unchanged, the split is exact,
 * and mirrored copies of a real model agree with the served answers.
 */
import {
  closeClient,
  load,
  request,
  routesFileWith,
  startModelServer,
  startReadyRouter,
  waitFor,
  type ModelServer,
  type RouterProcess,
} from './harness.js';

const LONG = 180_000;
let stable: ModelServer;
let candidate: ModelServer;
let router: RouterProcess;

beforeAll(async () => {
  [stable, candidate] = await Promise.all([startModelServer('mlp.onnx'), startModelServer('mlp.onnx')]);
  const file = routesFileWith({
    version: 1,
    generation: 1,
    revisions: [
      { name: 'mlp-stable', url: stable.url, weight: 50, model: 'mlp' },
      { name: 'mlp-candidate', url: candidate.url, weight: 50, model: 'mlp' },
    ],
    mirror: { revision: 'mlp-candidate', percent: 100, tolerance: 0 },
  });
  router = await startReadyRouter({ MODELSHIP_ROUTES_FILE: file });
}, LONG);

afterAll(async () => {
  expect(await router.stop()).toBe(0);
  await Promise.all([stable.stop(), candidate.stop()]);
  closeClient();
}, LONG);

/** A deterministic 28x28 "image" batch. */
function pixels(rows: number, seed: number): number[] {
  return Array.from({ length: rows * 784 }, (_, i) => ((i * 7919 + seed * 104729) % 256) / 255);
}

const v2Json = (seed: number) => ({
  body: JSON.stringify({ inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 784], data: pixels(2, seed) }] }),
  headers: { 'content-type': 'application/json' },
});

function v2Binary(seed: number) {
  const raw = Buffer.from(new Float32Array(pixels(2, seed)).buffer);
  const header = Buffer.from(
    JSON.stringify({
      inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 784], parameters: { binary_data_size: raw.length } }],
      outputs: [{ name: 'logits', parameters: { binary_data: true } }],
    }),
  );
  return {
    body: Buffer.concat([header, raw]),
    headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) },
  };
}

const v1 = (seed: number) => ({
  body: JSON.stringify({ instances: [pixels(1, seed)] }),
  headers: { 'content-type': 'application/json' },
});

it(
  'serves all three encodings exactly as the model server does, split 50/50, with agreeing mirrors',
  async () => {
    const kinds = [
      { path: '/v2/models/mlp/infer', make: v2Json },
      { path: '/v2/models/mlp/infer', make: v2Binary },
      { path: '/v1/models/mlp:predict', make: v1 },
    ];
    const replies = await load(60, 4, async (i) => {
      const kind = kinds[i % 3];
      const req = kind.make(i);
      const [viaRouter, direct] = await Promise.all([
        request(`${router.url}${kind.path}`, req),
        request(`${stable.url}${kind.path}`, req),
      ]);
      expect(viaRouter.status).toBe(200);
      expect(direct.status).toBe(200);
      // Same model, same input: the router's answer is byte for byte the server's.
      expect(viaRouter.body.equals(direct.body)).toBe(true);
      expect(viaRouter.headers['inference-header-content-length']).toBe(
        direct.headers['inference-header-content-length'],
      );
      return viaRouter;
    });
    const counts: Record<string, number> = {};
    for (const r of replies)
      counts[String(r.headers['x-modelship-revision'])] = (counts[String(r.headers['x-modelship-revision'])] ?? 0) + 1;
    expect(counts).toEqual({ 'mlp-stable': 30, 'mlp-candidate': 30 });
    // Every request served by the stable revision was mirrored to the candidate and compared,
    // binary and V1 included, and a copy of the same model agrees exactly.
    const agreement = await waitFor('30 comparisons', async () => {
      const s = (await request(`${router.metricsUrl}/router/stats`)).json<{
        agreement: Record<string, { compared: number; agreed: number; maxAbsDiff: number }>;
      }>();
      return s.agreement['mlp-candidate']?.compared === 30 ? s.agreement['mlp-candidate'] : undefined;
    });
    expect(agreement).toEqual({ compared: 30, agreed: 30, maxAbsDiff: 0 });
  },
  LONG,
);

it(
  "publishes each revision's V2 model metadata in its stats, as the model server reports it",
  async () => {
    const direct = (await request(`${stable.url}/v2/models/mlp`)).json();
    expect(direct).toMatchObject({ name: 'mlp', inputs: [{ name: 'input', datatype: 'FP32', shape: [-1, 784] }] });
    const models = await waitFor('metadata of both revisions', async () => {
      const s = (await request(`${router.metricsUrl}/router/stats`)).json<{
        models?: Record<string, { metadata: unknown }>;
      }>();
      return s.models?.['mlp-stable'] && s.models['mlp-candidate'] ? s.models : undefined;
    });
    expect(models).toEqual({ 'mlp-stable': { metadata: direct }, 'mlp-candidate': { metadata: direct } });
  },
  LONG,
);
