/**
 * Dynamic batching must not change answers: the same 64 concurrent MLP requests (1-3 rows each,
 * distinct inputs) get byte-identical outputs from a server with batching on and one with it off,
 * and the batching server really did combine requests into fewer runs.
 */
import { jest } from '@jest/globals';
import path from 'node:path';
import { FIXTURES, startServer, type ServerProcess } from './helpers/server.js';

jest.setTimeout(240_000);

let batched: ServerProcess;
let unbatched: ServerProcess;

beforeAll(async () => {
  const model = path.join(FIXTURES, 'mlp.onnx');
  [batched, unbatched] = await Promise.all([
    startServer({ model, env: { MODELSHIP_MAX_BATCH_SIZE: '32', MODELSHIP_MAX_LATENCY_MS: '20' } }),
    startServer({ model, env: { MODELSHIP_MAX_BATCH_SIZE: '1' } }),
  ]);
});
afterAll(async () => {
  await Promise.all([batched?.stop(), unbatched?.stop()]);
});

/** Deterministic pseudo-random rows (an LCG), different for every request. */
function rows(seed: number, count: number): Float32Array {
  const out = new Float32Array(count * 784);
  let s = seed * 2654435761;
  for (let i = 0; i < out.length; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    out[i] = (s / 2147483648) * 2 - 1;
  }
  return out;
}

/** One binary V2 request; resolves with the raw bytes of "logits". */
async function infer(server: ServerProcess, seed: number): Promise<Buffer> {
  const count = 1 + (seed % 3);
  const data = rows(seed, count);
  const head = Buffer.from(
    JSON.stringify({
      inputs: [
        { name: 'input', datatype: 'FP32', shape: [count, 784], parameters: { binary_data_size: data.byteLength } },
      ],
      outputs: [{ name: 'logits', parameters: { binary_data: true } }],
    }),
  );
  const res = await fetch(`${server.url}/v2/models/mlp/infer`, {
    method: 'POST',
    headers: { 'inference-header-content-length': String(head.length) },
    body: Buffer.concat([head, Buffer.from(data.buffer)]),
  });
  const body = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) throw new Error(`request ${seed}: ${res.status} ${body.toString()}`);
  const headerLength = Number(res.headers.get('inference-header-content-length'));
  const header = JSON.parse(body.subarray(0, headerLength).toString());
  expect(header.outputs[0]).toMatchObject({
    name: 'logits',
    shape: [count, 10],
    parameters: { binary_data_size: count * 40 },
  });
  return body.subarray(headerLength);
}

async function metric(server: ServerProcess, name: string): Promise<number> {
  const text = await (await fetch(`${server.metricsUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' '));
  return line ? Number(line.split(' ')[1]) : NaN;
}

it('gives byte-identical outputs with batching on and off, under concurrency', async () => {
  const seeds = Array.from({ length: 64 }, (_, i) => i + 1);
  const fromBatched = await Promise.all(seeds.map((s) => infer(batched, s)));
  const fromUnbatched = await Promise.all(seeds.map((s) => infer(unbatched, s)));
  const sequential: Buffer[] = [];
  for (const s of seeds.slice(0, 8)) sequential.push(await infer(unbatched, s));

  seeds.forEach((s, i) => expect([s, fromBatched[i].equals(fromUnbatched[i])]).toEqual([s, true]));
  sequential.forEach((b, i) => expect(b.equals(fromBatched[i])).toBe(true));
  // Distinct inputs gave distinct outputs: a server answering everything alike would fail here.
  expect(new Set(fromBatched.map((b) => b.toString('hex'))).size).toBe(64);

  // 64 requests ran as far fewer inference runs: concurrent requests were combined.
  const batchedRuns = await metric(batched, 'modelship_batch_size_count');
  const unbatchedRuns = await metric(unbatched, 'modelship_batch_size_count');
  expect(batchedRuns).toBeLessThan(seeds.length);
  expect(unbatchedRuns).toBeGreaterThanOrEqual(seeds.length + sequential.length);
});
