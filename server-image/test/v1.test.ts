/**
 * KServe V1 over real HTTP: liveness at the root, the model list, model status, predictions on the real digits example
 * (every labelled sample file), multi-input models keyed by input name, and a fixed-batch model fed several rows.
 */
import { jest } from '@jest/globals';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { EXAMPLES, FIXTURES, getJson, postJson, startServer, type ServerProcess } from './helpers/server.js';

jest.setTimeout(180_000);

let digits: ServerProcess;
let twoInputs: ServerProcess;
let fixed: ServerProcess;

beforeAll(async () => {
  [digits, twoInputs, fixed] = await Promise.all([
    startServer({ model: path.join(EXAMPLES, 'digits.onnx') }),
    startServer({ model: path.join(FIXTURES, 'two_inputs.onnx') }),
    startServer({ model: path.join(FIXTURES, 'fixed_batch.onnx') }),
  ]);
});
afterAll(async () => {
  await Promise.all([digits?.stop(), twoInputs?.stop(), fixed?.stop()]);
});

interface Sample {
  file: string;
  protocol: 'v1' | 'v2';
  labels: number[];
}
const samples = (JSON.parse(readFileSync(path.join(EXAMPLES, 'samples/index.json'), 'utf8')) as { samples: Sample[] })
  .samples;

describe('server and model status', () => {
  it('answers liveness at the root as KServe does', async () => {
    expect(await getJson(`${digits.url}/`)).toEqual(
      expect.objectContaining({ status: 200, body: { status: 'alive' } }),
    );
  });

  it('lists the served model', async () => {
    expect(await getJson(`${digits.url}/v1/models`)).toEqual(
      expect.objectContaining({ status: 200, body: { models: ['digits'] } }),
    );
  });

  it('reports the model ready', async () => {
    expect(await getJson(`${digits.url}/v1/models/digits`)).toEqual(
      expect.objectContaining({ status: 200, body: { name: 'digits', ready: true } }),
    );
  });

  it('answers other methods on them with 405', async () => {
    for (const p of ['/', '/v1/models']) {
      const res = await postJson(`${digits.url}${p}`, {});
      expect([p, res.status, res.headers.get('allow')]).toEqual([p, 405, 'GET, HEAD']);
    }
  });
});

describe('predict', () => {
  it.each(samples.filter((s) => s.protocol === 'v1').map((s) => [s.file, s.labels] as const))(
    '%s is predicted as %j',
    async (file, labels) => {
      const body = readFileSync(path.join(EXAMPLES, 'samples', file), 'utf8');
      const { status, body: out } = await postJson(`${digits.url}/v1/models/digits:predict`, body);
      expect(status).toBe(200);
      expect(out.predictions.map((p: { label: number }) => p.label)).toEqual(labels);
      for (const p of out.predictions) {
        expect(p.probabilities).toHaveLength(10);
        expect(Math.max(...p.probabilities)).toBe(p.probabilities[p.label]);
      }
    },
  );

  it('agrees with V2 on the same rows', async () => {
    const file =
      samples.find((s) => s.protocol === 'v2' && s.labels.length > 1) ?? samples.find((s) => s.protocol === 'v2');
    const v2 = JSON.parse(readFileSync(path.join(EXAMPLES, 'samples', (file as Sample).file), 'utf8'));
    const input = v2.inputs[0];
    const rows: number[][] = [];
    const flat: number[] = (input.data as unknown[]).flat(Infinity) as number[];
    for (let i = 0; i < input.shape[0]; i++) rows.push(flat.slice(i * 64, (i + 1) * 64));
    const [a, b] = await Promise.all([
      postJson(`${digits.url}/v1/models/digits:predict`, { instances: rows }),
      postJson(`${digits.url}/v2/models/digits/infer`, v2),
    ]);
    const v2Labels = b.body.outputs.find((o: { name: string }) => o.name === 'label').data;
    expect(a.body.predictions.map((p: { label: number }) => p.label)).toEqual(v2Labels);
    expect(v2Labels).toEqual((file as Sample).labels);
  });

  it('feeds each named input of a two-input model from objects', async () => {
    const { status, body } = await postJson(`${twoInputs.url}/v1/models/two_inputs:predict`, {
      instances: [
        { x: [1, 2, 3], k: [2] },
        { x: [0.5, 0, -1], k: [-3] },
      ],
    });
    expect(status).toBe(200);
    // scaled = x * k, total = sum(x) + k
    expect(body.predictions).toEqual([
      { scaled: [2, 4, 6], total: [8] },
      { scaled: [-1.5, 0, 3], total: [-3.5] },
    ]);
  });

  it('runs a fixed-batch model row by row', async () => {
    const { status, body } = await postJson(`${fixed.url}/v1/models/fixed_batch:predict`, {
      instances: [
        [5.1, 3.5, 1.4, 0.2],
        [6.7, 3.0, 5.2, 2.3],
        [5.0, 3.6, 1.4, 0.2],
      ],
    });
    expect(status).toBe(200);
    expect(body.predictions.map((p: { label: number }) => p.label)).toEqual([0, 2, 0]);
  });
});
