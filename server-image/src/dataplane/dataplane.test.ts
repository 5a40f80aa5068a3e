/**
 * The data plane on real ONNX models, with real worker threads running the compiled worker.
 */
import { jest } from '@jest/globals';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createOnnxDataPlane, serverVersion, type DataPlaneInternals } from './dataplane.js';
import { compiledWorkerUrl, faultyWorkerUrl } from '../../test/helpers/workers.js';
import {
  InferError,
  ModelLoadError,
  type DataPlane,
  type DataPlaneObserver,
  type DataPlaneOptions,
  type InferRequest,
  type ModelLoadSteps,
  type Tensor,
  type TensorData,
  type WorkerExitInfo,
} from './types.js';
import type { DataType } from '../../../contract/metadata.js';

jest.setTimeout(120_000);

const MODELS = path.resolve('test/fixtures/models');
const SUMS = new Map(
  readFileSync(path.join(MODELS, 'SHA256SUMS'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => line.split(/\s+/).reverse() as [string, string]),
);

class RecordingObserver implements DataPlaneObserver {
  loads: number[] = [];
  steps: ModelLoadSteps[] = [];
  batches: number[] = [];
  depths: number[] = [];
  exits: WorkerExitInfo[] = [];
  modelLoaded(seconds: number, steps: ModelLoadSteps): void {
    this.loads.push(seconds);
    this.steps.push(steps);
  }
  batchRun(size: number): void {
    this.batches.push(size);
  }
  queueDepth(depth: number): void {
    this.depths.push(depth);
  }
  workerExited(info: WorkerExitInfo): void {
    this.exits.push(info);
  }
}

const open: DataPlane[] = [];
let workerUrl: URL;
beforeAll(() => {
  workerUrl = compiledWorkerUrl();
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((dp) => dp.close()));
});

function options(model: string, overrides: Partial<DataPlaneOptions> = {}): DataPlaneOptions {
  return {
    modelUri: path.join(MODELS, model),
    sha256: SUMS.get(model),
    name: 'm',
    version: '1',
    cacheDir: path.resolve('.state/dataplane-test-cache'),
    pvcRoot: '/nonexistent',
    batching: { maxBatchSize: 16, maxLatencyMs: 5 },
    workers: 2,
    intraOpThreads: 1,
    ...overrides,
  };
}

async function loaded(
  model: string,
  overrides: Partial<DataPlaneOptions> = {},
  internals: DataPlaneInternals = {},
): Promise<{ dp: DataPlane; observer: RecordingObserver }> {
  const observer = new RecordingObserver();
  const dp = createOnnxDataPlane(options(model, overrides), observer, { workerUrl, ...internals });
  open.push(dp);
  await dp.load();
  return { dp, observer };
}

const fp32 = (name: string, shape: number[], fill: (i: number) => number): Tensor => {
  const n = shape.reduce((a, b) => a * b, 1);
  return { name, datatype: 'FP32', shape, data: Float32Array.from({ length: n }, (_, i) => fill(i)) };
};

/** The bytes of a tensor's data, for bit-exact comparison. */
const bytesOf = (data: TensorData): Buffer =>
  Array.isArray(data) ? Buffer.from(JSON.stringify(data)) : Buffer.from(data.buffer, data.byteOffset, data.byteLength);

async function rejection(promise: Promise<unknown>): Promise<InferError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(InferError);
    return err as InferError;
  }
  throw new Error('expected a rejection');
}

describe('load', () => {
  test('is live at once, ready only after load and warm-up, and reports the load time', async () => {
    const observer = new RecordingObserver();
    const dp = createOnnxDataPlane(options('tiny.onnx'), observer, { workerUrl });
    open.push(dp);
    expect(dp.live()).toBe(true);
    expect(dp.ready()).toBe(false);
    expect(dp.modelReady('m')).toBe(false);
    expect(dp.models()).toEqual(['m']);
    expect((await rejection(dp.infer('m', undefined, { inputs: [fp32('input', [1, 4], () => 0)] }))).kind).toBe(
      'unavailable',
    );
    await dp.load();
    expect(dp.ready()).toBe(true);
    expect(dp.modelReady('m', '1')).toBe(true);
    expect(dp.modelReady('m', '2')).toBe(false);
    expect(observer.loads).toHaveLength(1);
    expect(observer.loads[0]).toBeGreaterThan(0);
    const { readSeconds, sessionSeconds, warmupSeconds } = observer.steps[0];
    expect(sessionSeconds).toBeGreaterThan(0);
    expect(warmupSeconds).toBeGreaterThan(0);
    expect(readSeconds + sessionSeconds + warmupSeconds).toBeLessThanOrEqual(observer.loads[0]);
  });

  test('reports metadata from the model itself', async () => {
    const { dp } = await loaded('two_inputs.onnx');
    expect(dp.metadata('m')).toEqual({
      name: 'm',
      versions: ['1'],
      platform: 'onnxruntime_onnx',
      inputs: [
        { name: 'x', datatype: 'FP32', shape: [-1, 3] },
        { name: 'k', datatype: 'INT64', shape: [-1, 1] },
      ],
      outputs: [
        { name: 'scaled', datatype: 'FP32', shape: [-1, 3] },
        { name: 'total', datatype: 'FP32', shape: [-1, 1] },
      ],
    });
    expect((await loaded('fixed_batch.onnx')).dp.metadata('m', '1').inputs).toEqual([
      { name: 'input', datatype: 'FP32', shape: [1, 4] },
    ]);
  });

  test('refuses a digest mismatch before any session exists: no load, not ready', async () => {
    const observer = new RecordingObserver();
    const wrong = 'a'.repeat(64);
    const dp = createOnnxDataPlane(options('tiny.onnx', { sha256: wrong }), observer, { workerUrl });
    open.push(dp);
    const failure = dp.load();
    await expect(failure).rejects.toThrow(ModelLoadError);
    await expect(failure).rejects.toThrow(`sha256 mismatch: expected ${wrong}, got ${SUMS.get('tiny.onnx')}`);
    expect(observer.loads).toEqual([]);
    expect(dp.ready()).toBe(false);
    expect(() => dp.metadata('m')).toThrow(/not loaded yet/);
  });

  test('refuses a model without a digest unless unverified models are allowed', async () => {
    const dp = createOnnxDataPlane(options('tiny.onnx', { sha256: undefined }), new RecordingObserver(), { workerUrl });
    open.push(dp);
    await expect(dp.load()).rejects.toThrow(/no sha256 given/);
    const { dp: allowed } = await loaded('tiny.onnx', { sha256: undefined, allowUnverified: true });
    expect(allowed.ready()).toBe(true);
  });

  test('refuses a file that is not an ONNX model, naming it, and stops its workers', async () => {
    const file = path.resolve('test/fixtures/models/SHA256SUMS');
    const sha256 = createHash('sha256').update(readFileSync(file)).digest('hex');
    const dp = createOnnxDataPlane(options('tiny.onnx', { modelUri: file, sha256 }), new RecordingObserver(), {
      workerUrl,
    });
    open.push(dp);
    await expect(dp.load()).rejects.toThrow(/load model .*SHA256SUMS in inference worker \d: /);
    expect(dp.ready()).toBe(false);
  });
});

describe('infer', () => {
  test('runs the tiny classifier and echoes the request id', async () => {
    const { dp } = await loaded('tiny.onnx');
    const response = await dp.infer('m', '1', {
      id: 'req-7',
      inputs: [fp32('input', [2, 4], (i) => [5.1, 3.5, 1.4, 0.2, 6.7, 3.0, 5.2, 2.3][i])],
    });
    expect(response.model_name).toBe('m');
    expect(response.model_version).toBe('1');
    expect(response.id).toBe('req-7');
    const [probabilities, label] = response.outputs;
    expect(probabilities.name).toBe('probabilities');
    expect(probabilities.shape).toEqual([2, 3]);
    const p = probabilities.data as Float32Array;
    expect(p[0] + p[1] + p[2]).toBeCloseTo(1, 5);
    expect(label).toMatchObject({ name: 'label', datatype: 'INT64', shape: [2] });
    // An iris setosa and an iris virginica.
    expect(Array.from(label.data as BigInt64Array)).toEqual([0n, 2n]);
  });

  test('returns only the requested outputs, in the requested order', async () => {
    const { dp } = await loaded('tiny.onnx');
    const response = await dp.infer('m', undefined, {
      inputs: [fp32('input', [1, 4], () => 1)],
      outputs: [{ name: 'label' }],
    });
    expect(response.outputs.map((o) => o.name)).toEqual(['label']);
  });

  test('computes with an INT64 input next to an FP32 one', async () => {
    const { dp } = await loaded('two_inputs.onnx');
    const response = await dp.infer('m', undefined, {
      inputs: [
        fp32('x', [2, 3], (i) => i + 1),
        { name: 'k', datatype: 'INT64', shape: [2, 1], data: BigInt64Array.from([2n, -1n]) },
      ],
    });
    const [scaled, total] = response.outputs;
    expect(Array.from(scaled.data as Float32Array)).toEqual([2, 4, 6, -4, -5, -6]);
    expect(Array.from(total.data as Float32Array)).toEqual([8, 14]);
  });

  const echoes: [DataType, TensorData][] = [
    ['BOOL', Uint8Array.from([1, 0, 0, 1])],
    ['UINT8', Uint8Array.from([0, 1, 254, 255])],
    ['UINT16', Uint16Array.from([0, 1, 65534, 65535])],
    ['UINT32', Uint32Array.from([0, 1, 4294967294, 4294967295])],
    ['UINT64', BigUint64Array.from([0n, 1n, 2n ** 64n - 2n, 2n ** 64n - 1n])],
    ['INT8', Int8Array.from([-128, -1, 1, 127])],
    ['INT16', Int16Array.from([-32768, -1, 1, 32767])],
    ['INT32', Int32Array.from([-(2 ** 31), -1, 1, 2 ** 31 - 1])],
    ['INT64', BigInt64Array.from([-(2n ** 63n), -1n, 1n, 2n ** 63n - 1n])],
    ['FP16', Uint16Array.from([0x3c00, 0xc000, 0x7bff, 0x0001])],
    ['FP32', Float32Array.from([-1.5, 0, 3.4e38, 1e-45])],
    ['FP64', Float64Array.from([-1.5, 0, 1.7e308, 5e-324])],
    ['BYTES', ['', 'héllo', 'tab\there', '🙂']],
  ];
  test.each(echoes)('carries %s through the model unchanged', async (datatype, data) => {
    const { dp } = await loaded(`echo_${datatype.toLowerCase()}.onnx`);
    expect(dp.metadata('m').inputs[0]).toEqual({ name: 'input', datatype, shape: [-1, 2] });
    const response = await dp.infer('m', undefined, { inputs: [{ name: 'input', datatype, shape: [2, 2], data }] });
    const output = response.outputs[0];
    expect(output.datatype).toBe(datatype);
    expect(output.shape).toEqual([2, 2]);
    expect(bytesOf(output.data)).toEqual(bytesOf(data));
  });

  test('keeps inference off the event loop: the loop turns while a large run is in progress', async () => {
    const { dp } = await loaded('mlp.onnx');
    let turns = 0;
    let running = true;
    const spin = (): void => {
      if (!running) return;
      turns++;
      setImmediate(spin);
    };
    const result = dp
      .infer('m', undefined, { inputs: [fp32('input', [4096, 784], (i) => (i % 7) / 7)] })
      .finally(() => {
        running = false;
      });
    setImmediate(spin);
    expect((await result).outputs[0].shape).toEqual([4096, 10]);
    // Had run() occupied this thread, the result would have arrived before the first turn.
    expect(turns).toBeGreaterThan(1);
  });

  test('does not detach or change the caller’s input arrays', async () => {
    const { dp } = await loaded('echo_fp32.onnx');
    const data = Float32Array.from([1, 2, 3, 4]);
    await dp.infer('m', undefined, { inputs: [{ name: 'input', datatype: 'FP32', shape: [2, 2], data }] });
    expect(Array.from(data)).toEqual([1, 2, 3, 4]);
  });

  test('takes input data that is a view into a larger buffer (a decoded HTTP body)', async () => {
    const { dp } = await loaded('echo_int32.onnx');
    const body = new ArrayBuffer(4096);
    const view = new Int32Array(body, 64, 4);
    view.set([7, 8, 9, 10]);
    const response = await dp.infer('m', undefined, {
      inputs: [{ name: 'input', datatype: 'INT32', shape: [2, 2], data: view }],
    });
    expect(Array.from(response.outputs[0].data as Int32Array)).toEqual([7, 8, 9, 10]);
  });

  test('refuses invalid requests with InferError("invalid") and not-served models with "not_found"', async () => {
    const { dp } = await loaded('tiny.onnx');
    const bad = await rejection(dp.infer('m', undefined, { inputs: [fp32('input', [1, 5], () => 0)] }));
    expect(bad.kind).toBe('invalid');
    expect(bad.message).toMatch(/input "input": shape \[1,5\] does not match the model's \[-1,4\]/);
    const name = await rejection(dp.infer('other', undefined, { inputs: [] }));
    expect(name.kind).toBe('not_found');
    expect(name.message).toMatch(/model "other" is not served here/);
    const version = await rejection(dp.infer('m', '9', { inputs: [] }));
    expect(version.kind).toBe('not_found');
    expect(version.message).toMatch(/has no version "9"/);
    expect(() => dp.metadata('m', '9')).toThrow(/has no version "9"/);
  });
});

describe('dynamic batching', () => {
  const mlpRequest = (i: number, rows = 1): InferRequest => ({
    inputs: [fp32('input', [rows, 784], (j) => Math.sin(i * 7919 + j))],
  });

  test('64 concurrent MLP requests batched give bit-identical results to the same requests unbatched', async () => {
    const { dp: unbatched, observer: one } = await loaded('mlp.onnx', {
      batching: { maxBatchSize: 1, maxLatencyMs: 0 },
    });
    const { dp: batched, observer: many } = await loaded('mlp.onnx', {
      batching: { maxBatchSize: 32, maxLatencyMs: 20 },
    });
    const requests = Array.from({ length: 64 }, (_, i) => mlpRequest(i));
    one.batches.length = 0;
    many.batches.length = 0;
    const alone = await Promise.all(requests.map((r) => unbatched.infer('m', undefined, r)));
    const together = await Promise.all(requests.map((r) => batched.infer('m', undefined, r)));

    expect(one.batches.every((size) => size === 1)).toBe(true);
    expect(Math.max(...many.batches)).toBeGreaterThan(1);
    expect(many.batches.reduce((a, b) => a + b, 0)).toBe(64);
    for (let i = 0; i < 64; i++) {
      expect(together[i].outputs[0].shape).toEqual([1, 10]);
      expect(bytesOf(together[i].outputs[0].data)).toEqual(bytesOf(alone[i].outputs[0].data));
    }
    // The requests differ, so identical results are not a coincidence of identical inputs.
    expect(bytesOf(alone[0].outputs[0].data)).not.toEqual(bytesOf(alone[1].outputs[0].data));
    expect(many.depths.some((d) => d > 1)).toBe(true);
  });

  test('with no batching wait, requests that arrive together still run as one batch, and a lone one runs at once', async () => {
    const { dp, observer } = await loaded('mlp.onnx', { batching: { maxBatchSize: 32, maxLatencyMs: 0 }, workers: 1 });
    observer.batches.length = 0;
    await Promise.all(Array.from({ length: 8 }, (_, i) => dp.infer('m', undefined, mlpRequest(i))));
    expect(observer.batches).toEqual([8]);
    await dp.infer('m', undefined, mlpRequest(99));
    expect(observer.batches).toEqual([8, 1]);
  });

  test('requests of different sizes are split back by their own rows; oversize ones run alone', async () => {
    const { dp: unbatched } = await loaded('mlp.onnx', { batching: { maxBatchSize: 1, maxLatencyMs: 0 } });
    const { dp: batched, observer } = await loaded('mlp.onnx', { batching: { maxBatchSize: 8, maxLatencyMs: 20 } });
    const requests = [1, 3, 2, 12, 1, 4, 2].map((rows, i) => mlpRequest(i, rows));
    observer.batches.length = 0;
    const alone = await Promise.all(requests.map((r) => unbatched.infer('m', undefined, r)));
    const together = await Promise.all(requests.map((r) => batched.infer('m', undefined, r)));
    requests.forEach((r, i) => {
      expect(together[i].outputs[0].shape).toEqual([r.inputs[0].shape[0], 10]);
      expect(bytesOf(together[i].outputs[0].data)).toEqual(bytesOf(alone[i].outputs[0].data));
    });
    expect(observer.batches).toContain(12);
    expect(Math.max(...observer.batches.filter((s) => s !== 12))).toBeLessThanOrEqual(8);
    expect(observer.batches.reduce((a, b) => a + b, 0)).toBe(25);
  });

  test('a model with a fixed batch size is never batched', async () => {
    const { dp, observer } = await loaded('fixed_batch.onnx', { batching: { maxBatchSize: 32, maxLatencyMs: 20 } });
    observer.batches.length = 0;
    const responses = await Promise.all(
      Array.from({ length: 8 }, (_, i) => dp.infer('m', undefined, { inputs: [fp32('input', [1, 4], (j) => i + j)] })),
    );
    expect(responses.every((r) => r.outputs[0].shape[0] === 1)).toBe(true);
    expect(observer.batches).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
  });

  test('outputs without a real batch dimension turn batching off and every request still gets its own result', async () => {
    const { dp: unbatched } = await loaded('mlp.onnx', { batching: { maxBatchSize: 1, maxLatencyMs: 0 } });
    const { dp, observer } = await loaded(
      'mlp.onnx',
      { batching: { maxBatchSize: 8, maxLatencyMs: 20 } },
      { workerUrl: await faultyWorkerUrl('unaligned') },
    );
    observer.batches.length = 0;
    const requests = Array.from({ length: 8 }, (_, i) => mlpRequest(i));
    const together = await Promise.all(requests.map((r) => dp.infer('m', undefined, r)));
    const alone = await Promise.all(requests.map((r) => unbatched.infer('m', undefined, r)));
    together.forEach((r, i) => expect(bytesOf(r.outputs[0].data)).toEqual(bytesOf(alone[i].outputs[0].data)));
    expect(observer.batches).toEqual([8, 1, 1, 1, 1, 1, 1, 1, 1]);
    // Batching stays off afterwards.
    observer.batches.length = 0;
    await Promise.all(requests.slice(0, 4).map((r) => dp.infer('m', undefined, r)));
    expect(observer.batches).toEqual([1, 1, 1, 1]);
  });

  test('when the model refuses one request of a batch, only that request fails', async () => {
    const poison = 4242;
    const { dp: unbatched } = await loaded('mlp.onnx', { batching: { maxBatchSize: 1, maxLatencyMs: 0 } });
    const { dp } = await loaded(
      'mlp.onnx',
      { batching: { maxBatchSize: 8, maxLatencyMs: 20 } },
      { workerUrl: await faultyWorkerUrl('refuse', poison) },
    );
    const requests = Array.from({ length: 8 }, (_, i) => mlpRequest(i));
    (requests[3].inputs[0].data as Float32Array)[5] = poison;
    const results = await Promise.allSettled(requests.map((r) => dp.infer('m', undefined, r)));
    const expected = await Promise.all(
      requests.filter((_, i) => i !== 3).map((r) => unbatched.infer('m', undefined, r)),
    );
    expect(results[3].status).toBe('rejected');
    const refusal = (results[3] as PromiseRejectedResult).reason as InferError;
    expect(refusal.kind).toBe('model');
    expect(refusal.message).toMatch(/the model failed on this input: poisoned input refused/);
    const others = results.filter((_, i) => i !== 3);
    others.forEach((result, k) => {
      expect(result.status).toBe('fulfilled');
      const response = (result as PromiseFulfilledResult<Awaited<ReturnType<DataPlane['infer']>>>).value;
      expect(bytesOf(response.outputs[0].data)).toEqual(bytesOf(expected[k].outputs[0].data));
    });
  });
});

describe('worker failure', () => {
  test('a worker that dies fails its in-flight request as internal, is replaced, and serving goes on', async () => {
    const poison = 777;
    const { dp, observer } = await loaded(
      'tiny.onnx',
      { batching: { maxBatchSize: 1, maxLatencyMs: 0 } },
      { workerUrl: await faultyWorkerUrl('crash', poison) },
    );
    const good = (i: number): InferRequest => ({ inputs: [fp32('input', [1, 4], (j) => i + j / 10)] });
    const inflight = [
      dp.infer('m', undefined, { inputs: [fp32('input', [1, 4], () => poison)] }),
      ...[1, 2, 3].map((i) => dp.infer('m', undefined, good(i))),
    ];
    const [crashed, ...rest] = await Promise.allSettled(inflight);
    expect(crashed.status).toBe('rejected');
    const err = (crashed as PromiseRejectedResult).reason as InferError;
    expect(err).toBeInstanceOf(InferError);
    expect(err.kind).toBe('internal');
    expect(err.message).toMatch(/inference worker \d exited with code 7 while running this request/);
    expect(rest.every((r) => r.status === 'fulfilled')).toBe(true);
    expect(observer.exits).toEqual([expect.objectContaining({ exitCode: 7 })]);
    expect(dp.ready()).toBe(true);

    // Serving goes on; the single-worker test below shows the replacement itself serving.
    const after = await Promise.all(Array.from({ length: 20 }, (_, i) => dp.infer('m', undefined, good(i))));
    expect(after).toHaveLength(20);
    expect(observer.exits).toHaveLength(1);
  });

  test('with its only worker dead the data plane is not ready until the replacement has loaded', async () => {
    const poison = 778;
    const { dp, observer } = await loaded(
      'tiny.onnx',
      { workers: 1 },
      { workerUrl: await faultyWorkerUrl('crash', poison) },
    );
    const crashed = await rejection(dp.infer('m', undefined, { inputs: [fp32('input', [1, 4], () => poison)] }));
    expect(crashed.kind).toBe('internal');
    // The exit is seen before the replacement can possibly have loaded the model and warmed up.
    expect(dp.ready()).toBe(false);
    // A request arriving meanwhile waits for the replacement instead of failing.
    const waiting = dp.infer('m', undefined, { inputs: [fp32('input', [1, 4], () => 1)] });
    const deadline = Date.now() + 60_000;
    while (!dp.ready() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(dp.ready()).toBe(true);
    expect((await waiting).outputs[1].shape).toEqual([1]);
    expect(observer.exits).toHaveLength(1);
  });

  test('when replacements cannot load the model, requests fail fast as unavailable until one can', async () => {
    const poison = 779;
    const dir = await mkdtemp(path.join(tmpdir(), 'modelship-replace-'));
    const modelPath = path.join(dir, 'tiny.onnx');
    await copyFile(path.join(MODELS, 'tiny.onnx'), modelPath);
    const { dp, observer } = await loaded(
      'tiny.onnx',
      { workers: 1, modelUri: modelPath },
      { workerUrl: await faultyWorkerUrl('crash', poison) },
    );
    // The file changes on disk after verification: no replacement may load it.
    await copyFile(path.join(MODELS, 'mlp.onnx'), modelPath);
    expect((await rejection(dp.infer('m', undefined, { inputs: [fp32('input', [1, 4], () => poison)] }))).kind).toBe(
      'internal',
    );
    const waiting = rejection(dp.infer('m', undefined, { inputs: [fp32('input', [1, 4], () => 1)] }));

    const queued = await waiting;
    expect(queued.kind).toBe('unavailable');
    expect(queued.message).toMatch(
      /no inference worker can load model m: sha256 of .*tiny\.onnx changed after verification/,
    );
    expect(observer.exits.some((e) => e.whileLoading)).toBe(true);
    expect(dp.ready()).toBe(false);
    const fast = await rejection(dp.infer('m', undefined, { inputs: [fp32('input', [1, 4], () => 1)] }));
    expect(fast.kind).toBe('unavailable');

    // The verified bytes are back: a later replacement (after back-off) loads and serving resumes.
    await copyFile(path.join(MODELS, 'tiny.onnx'), modelPath);
    const deadline = Date.now() + 60_000;
    while (!dp.ready() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(dp.ready()).toBe(true);
    expect((await dp.infer('m', undefined, { inputs: [fp32('input', [1, 4], () => 1)] })).outputs).toHaveLength(2);
    await rm(dir, { recursive: true, force: true });
  });
});

describe('close', () => {
  test('finishes queued and in-flight requests, then refuses new ones and is no longer live', async () => {
    const { dp } = await loaded('mlp.onnx', { batching: { maxBatchSize: 4, maxLatencyMs: 10_000 } });
    const pending = Array.from({ length: 10 }, (_, i) =>
      dp.infer('m', undefined, { inputs: [fp32('input', [1, 784], (j) => i * j)] }),
    );
    const closed = dp.close();
    const late = await rejection(dp.infer('m', undefined, { inputs: [fp32('input', [1, 784], () => 0)] }));
    expect(late.kind).toBe('unavailable');
    const results = await Promise.all(pending);
    expect(results.every((r) => r.outputs[0].shape[1] === 10)).toBe(true);
    await closed;
    expect(dp.live()).toBe(false);
    expect(dp.ready()).toBe(false);
  });
});

describe('serverMetadata', () => {
  test("reports the package's name and version and the binary extension", () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    const dp = createOnnxDataPlane(options('tiny.onnx'), new RecordingObserver(), { workerUrl });
    expect(dp.serverMetadata()).toEqual({
      name: 'modelship',
      version: pkg.version,
      extensions: ['binary_tensor_data'],
    });
    expect(serverVersion(path.resolve('dist/server-image/src/dataplane/dataplane.js'))).toBe(pkg.version);
    expect(serverVersion('/nonexistent/dir/file.js')).toBe('unknown');
  });
});

describe('close before load', () => {
  test('closes at once; a later load is refused', async () => {
    const dp = createOnnxDataPlane(options('tiny.onnx'), new RecordingObserver(), { workerUrl });
    await dp.close();
    expect(dp.live()).toBe(false);
    await expect(dp.load()).rejects.toThrow(ModelLoadError);
    await expect(dp.load()).rejects.toThrow(/load model m: the data plane is already closed/);
  });
});

describe('createDataPlane (compiled)', () => {
  test('finds its worker script next to itself in dist/ and serves', async () => {
    const distIndex = new URL('./index.js', workerUrl).href;
    const { createDataPlane } = (await import(distIndex)) as typeof import('./index.js');
    const dp = createDataPlane(options('tiny.onnx'), new RecordingObserver());
    open.push(dp);
    await dp.load();
    const response = await dp.infer('m', undefined, { inputs: [fp32('input', [1, 4], () => 1)] });
    expect(response.outputs[1].shape).toEqual([1]);
  });
});
