/**
 * The worker pool on a real model with the compiled worker.
 */
import { jest } from '@jest/globals';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { WorkerPool } from './pool.js';
import { compiledWorkerUrl } from '../../test/helpers/workers.js';
import { ModelLoadError, type Tensor } from './types.js';

jest.setTimeout(120_000);

const MODELS = path.resolve('test/fixtures/models');
const sha256Of = (model: string): string =>
  readFileSync(path.join(MODELS, 'SHA256SUMS'), 'utf8')
    .split('\n')
    .find((line) => line.endsWith(`  ${model}`))!
    .split(' ')[0];

const noEvents = { idle: () => undefined, workerExited: () => undefined };
const input: Tensor = { name: 'input', datatype: 'FP32', shape: [1, 4], data: Float32Array.from([1, 2, 3, 4]) };

describe('WorkerPool', () => {
  let workerUrl: URL;
  let dir: string;
  beforeAll(async () => {
    workerUrl = compiledWorkerUrl();
    dir = await mkdtemp(path.join(tmpdir(), 'modelship-pool-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  test('starts every worker, reports the metadata, and runs on idle workers only', async () => {
    let idles = 0;
    const pool = new WorkerPool(
      {
        modelPath: path.join(MODELS, 'tiny.onnx'),
        sha256: sha256Of('tiny.onnx'),
        workers: 2,
        intraOpThreads: 1,
        workerUrl,
      },
      { idle: () => idles++, workerExited: () => undefined },
    );
    const loaded = await pool.start();
    expect(loaded.inputs).toEqual([{ name: 'input', isTensor: true, type: 'float32', shape: ['batch', 4] }]);
    expect(pool.idleCount()).toBe(2);
    expect(idles).toBe(2);
    const first = pool.run([input], ['label'], false);
    const second = pool.run([input], ['label'], false);
    expect(pool.idleCount()).toBe(0);
    expect(pool.liveCount()).toBe(2);
    await expect(pool.run([input], ['label'], false)).rejects.toThrow(/no inference worker is free/);
    const [a, b] = await Promise.all([first, second]);
    expect(a).toEqual(b);
    expect(a[0]).toMatchObject({ name: 'label', datatype: 'INT64', shape: [1] });
    expect(pool.idleCount()).toBe(2);
    await pool.close();
  });

  test('a worker refuses a model file whose bytes no longer match the verified digest', async () => {
    const swapped = path.join(dir, 'swapped.onnx');
    await copyFile(path.join(MODELS, 'mlp.onnx'), swapped);
    const pool = new WorkerPool(
      { modelPath: swapped, sha256: sha256Of('tiny.onnx'), workers: 1, intraOpThreads: 1, workerUrl },
      noEvents,
    );
    const start = pool.start();
    await expect(start).rejects.toThrow(ModelLoadError);
    await expect(start).rejects.toThrow(
      `load model ${swapped} in inference worker 0: sha256 of ${swapped} changed after verification: expected ${sha256Of('tiny.onnx')}, got ${sha256Of('mlp.onnx')}`,
    );
  });

  test('a model onnxruntime cannot parse fails the start with the worker named', async () => {
    const garbage = path.join(dir, 'garbage.onnx');
    await writeFile(garbage, 'not a model');
    const { createHash } = await import('node:crypto');
    const sha256 = createHash('sha256').update('not a model').digest('hex');
    const pool = new WorkerPool({ modelPath: garbage, sha256, workers: 2, intraOpThreads: 1, workerUrl }, noEvents);
    await expect(pool.start()).rejects.toThrow(/load model .*garbage.onnx in inference worker \d: /);
  });

  test('close lets the request in hand finish, then stops the workers', async () => {
    const exits: number[] = [];
    const pool = new WorkerPool(
      {
        modelPath: path.join(MODELS, 'mlp.onnx'),
        sha256: sha256Of('mlp.onnx'),
        workers: 1,
        intraOpThreads: 1,
        workerUrl,
      },
      { idle: () => undefined, workerExited: (info) => exits.push(info.exitCode) },
    );
    await pool.start();
    const big: Tensor = { name: 'input', datatype: 'FP32', shape: [2048, 784], data: new Float32Array(2048 * 784) };
    const running = pool.run([big], ['logits'], true);
    await pool.close();
    expect((await running)[0].shape).toEqual([2048, 10]);
    expect(pool.idleCount()).toBe(0);
    expect(exits).toEqual([]);
  });

  test('close while workers are still loading waits for them and stops them', async () => {
    const pool = new WorkerPool(
      {
        modelPath: path.join(MODELS, 'mlp.onnx'),
        sha256: sha256Of('mlp.onnx'),
        workers: 2,
        intraOpThreads: 1,
        workerUrl,
      },
      noEvents,
    );
    const started = pool.start();
    await pool.close();
    await started;
    expect(pool.idleCount()).toBe(0);
  });
});
