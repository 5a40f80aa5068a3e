/**
 * Open Inference Protocol V2 over real HTTP against real models: every endpoint, every datatype in
 * JSON and in the binary extension both ways. Binary bodies are built here with Buffer's own
 * little-endian writers, independently of the server's codec.
 */
import { jest } from '@jest/globals';
import path from 'node:path';
import { FIXTURES, getJson, postJson, startServer, type ServerProcess } from './helpers/server.js';

jest.setTimeout(180_000);

let tiny: ServerProcess;
let dtypes: ServerProcess;

beforeAll(async () => {
  [tiny, dtypes] = await Promise.all([
    startServer({ model: path.join(FIXTURES, 'tiny.onnx') }),
    startServer({
      model: path.join(FIXTURES, 'dtypes.onnx'),
      env: { MODELSHIP_MODEL_NAME: 'dtypes', MODELSHIP_MODEL_VERSION: '3' },
    }),
  ]);
});
afterAll(async () => {
  await Promise.all([tiny?.stop(), dtypes?.stop()]);
});

/** Iris flowers: a setosa and a virginica, which the tiny classifier must tell apart. */
const SETOSA = [5.1, 3.5, 1.4, 0.2];
const VIRGINICA = [6.7, 3.0, 5.2, 2.3];

describe('health and metadata', () => {
  it('is live and ready', async () => {
    expect(await getJson(`${tiny.url}/v2/health/live`)).toMatchObject({ status: 200, body: { live: true } });
    expect(await getJson(`${tiny.url}/v2/health/ready`)).toMatchObject({ status: 200, body: { ready: true } });
  });

  it('describes the server and its extensions', async () => {
    const { status, body } = await getJson(`${tiny.url}/v2`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ name: 'modelship', version: expect.any(String) });
    expect(body.extensions).toContain('binary_tensor_data');
  });

  it('describes the model with and without a version', async () => {
    const expected = {
      name: 'dtypes',
      versions: ['3'],
      platform: 'onnxruntime_onnx',
      inputs: expect.arrayContaining([
        { name: 'int64_in', datatype: 'INT64', shape: [-1, 2] },
        { name: 'bytes_in', datatype: 'BYTES', shape: [-1, 2] },
      ]),
      outputs: expect.arrayContaining([{ name: 'bool_out', datatype: 'BOOL', shape: [-1, 2] }]),
    };
    expect(await getJson(`${dtypes.url}/v2/models/dtypes`)).toMatchObject({ status: 200, body: expected });
    expect(await getJson(`${dtypes.url}/v2/models/dtypes/versions/3`)).toMatchObject({ status: 200, body: expected });
  });

  it('reports model readiness, with and without a version', async () => {
    expect(await getJson(`${dtypes.url}/v2/models/dtypes/ready`)).toMatchObject({
      status: 200,
      body: { name: 'dtypes', ready: true },
    });
    expect(await getJson(`${dtypes.url}/v2/models/dtypes/versions/3/ready`)).toMatchObject({ status: 200 });
  });

  it('answers 404 with a JSON error for an unknown model or version', async () => {
    for (const url of [
      `${tiny.url}/v2/models/nope`,
      `${tiny.url}/v2/models/nope/ready`,
      `${tiny.url}/v2/models/tiny/versions/9`,
      `${tiny.url}/v2/models/tiny/versions/9/ready`,
    ]) {
      const { status, body } = await getJson(url);
      expect([url, status]).toEqual([url, 404]);
      expect(body.error).toMatch(/nope|9/);
    }
  });
});

describe('JSON inference', () => {
  it('classifies real inputs, echoes the id and returns every output', async () => {
    const { status, body, headers } = await postJson(`${tiny.url}/v2/models/tiny/infer`, {
      id: 'req-42',
      parameters: { note: 'accepted and ignored' },
      inputs: [{ name: 'input', shape: [2, 4], datatype: 'FP32', data: [SETOSA, VIRGINICA] }],
    });
    expect(status).toBe(200);
    expect(headers.get('content-type')).toMatch(/^application\/json/);
    expect(body).toMatchObject({ model_name: 'tiny', model_version: '1', id: 'req-42' });
    const probs = body.outputs.find((o: { name: string }) => o.name === 'probabilities');
    const label = body.outputs.find((o: { name: string }) => o.name === 'label');
    expect(probs).toMatchObject({ datatype: 'FP32', shape: [2, 3] });
    expect(label).toEqual({ name: 'label', datatype: 'INT64', shape: [2], data: [0, 2] });
    expect(probs.data[0] + probs.data[1] + probs.data[2]).toBeCloseTo(1, 5);
    expect(probs.data[0]).toBeGreaterThan(0.5);
  });

  it('returns only the requested outputs, on the versioned path too', async () => {
    const { status, body } = await postJson(`${tiny.url}/v2/models/tiny/versions/1/infer`, {
      inputs: [{ name: 'input', shape: [1, 4], datatype: 'FP32', data: VIRGINICA }],
      outputs: [{ name: 'label' }],
    });
    expect(status).toBe(200);
    expect(body.id).toBeUndefined();
    expect(body.outputs).toEqual([{ name: 'label', datatype: 'INT64', shape: [1], data: [2] }]);
  });

  it('carries every datatype through the model and back', async () => {
    const { status, body } = await postJson(`${dtypes.url}/v2/models/dtypes/infer`, {
      inputs: [
        { name: 'fp32_in', datatype: 'FP32', shape: [2, 2], data: [1.5, -2.25, 1e30, 0] },
        {
          name: 'fp64_in',
          datatype: 'FP64',
          shape: [2, 2],
          data: [
            [1.5, -2.25],
            [1e300, 0.1],
          ],
        },
        { name: 'int32_in', datatype: 'INT32', shape: [2, 2], data: [1, -2, 2147483646, -2147483648] },
        { name: 'int64_in', datatype: 'INT64', shape: [2, 2], data: [1, -2, 9007199254740990, -9007199254740991] },
        { name: 'bool_in', datatype: 'BOOL', shape: [2, 2], data: [true, false, false, true] },
        { name: 'bytes_in', datatype: 'BYTES', shape: [2, 2], data: ['hello', '', 'ünïcode', 'a b'] },
      ],
    });
    expect(status).toBe(200);
    const out = Object.fromEntries(
      body.outputs.map((o: { name: string; data: unknown[]; datatype: string; shape: number[] }) => [o.name, o]),
    );
    expect(out.fp32_out).toEqual({
      name: 'fp32_out',
      datatype: 'FP32',
      shape: [2, 2],
      data: [2.5, -1.25, Math.fround(1e30), 1],
    });
    expect(out.fp64_out.data).toEqual([2.5, -1.25, 1e300, 1.1]);
    expect(out.int32_out.data).toEqual([2, -1, 2147483647, -2147483647]);
    expect(out.int64_out.data).toEqual([2, -1, 9007199254740991, -9007199254740990]);
    expect(out.bool_out).toEqual({
      name: 'bool_out',
      datatype: 'BOOL',
      shape: [2, 2],
      data: [false, true, true, false],
    });
    expect(out.bytes_out.data).toEqual(['hello', '', 'ünïcode', 'a b']);
  });
});

/** Raw little-endian bytes of values of one datatype, written with Buffer (not the server's codec). */
function rawBytes(datatype: string, values: readonly (number | bigint | boolean | string)[]): Buffer {
  if (datatype === 'BYTES') {
    return Buffer.concat(
      values.map((v) => {
        const s = Buffer.from(String(v));
        const len = Buffer.alloc(4);
        len.writeUInt32LE(s.length);
        return Buffer.concat([len, s]);
      }),
    );
  }
  const size = { FP32: 4, FP64: 8, INT32: 4, INT64: 8, BOOL: 1 }[datatype] as number;
  const buf = Buffer.alloc(size * values.length);
  values.forEach((v, i) => {
    if (datatype === 'FP32') buf.writeFloatLE(v as number, i * 4);
    else if (datatype === 'FP64') buf.writeDoubleLE(v as number, i * 8);
    else if (datatype === 'INT32') buf.writeInt32LE(v as number, i * 4);
    else if (datatype === 'INT64') buf.writeBigInt64LE(v as bigint, i * 8);
    else buf.writeUInt8(v ? 1 : 0, i);
  });
  return buf;
}

/** Read a binary response into {name → {header entry, bytes}}. */
function readBinary(
  body: Buffer,
  headerLength: number,
): {
  header: {
    id?: string;
    outputs: {
      name: string;
      datatype: string;
      shape: number[];
      data?: unknown[];
      parameters?: { binary_data_size?: number };
    }[];
  };
  bytes: Map<string, Buffer>;
} {
  const header = JSON.parse(body.subarray(0, headerLength).toString());
  const bytes = new Map<string, Buffer>();
  let at = headerLength;
  for (const o of header.outputs) {
    const size = o.parameters?.binary_data_size;
    if (size === undefined) continue;
    bytes.set(o.name, body.subarray(at, at + size));
    at += size;
  }
  expect(at).toBe(body.length);
  return { header, bytes };
}

const BINARY_INPUTS: [string, string, (number | bigint | boolean | string)[]][] = [
  ['fp32_in', 'FP32', [1.5, -2.25, 3.4028234663852886e38, 0]],
  ['fp64_in', 'FP64', [1.5, -2.25, 1e300, 0.1]],
  ['int32_in', 'INT32', [1, -2, 2147483646, -2147483648]],
  ['int64_in', 'INT64', [1n, -2n, 9007199254740993n, -9223372036854775808n]],
  ['bool_in', 'BOOL', [true, false, false, true]],
  ['bytes_in', 'BYTES', ['hello', '', 'ünïcode', 'a b']],
];

describe('binary tensor data extension', () => {
  async function postBinary(header: unknown, blobs: Buffer[]): Promise<Response> {
    const head = Buffer.from(JSON.stringify(header));
    return fetch(`${dtypes.url}/v2/models/dtypes/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(head.length) },
      body: Buffer.concat([head, ...blobs]),
    });
  }

  it('takes binary inputs and returns binary outputs, exact for every datatype', async () => {
    const blobs = BINARY_INPUTS.map(([, dt, values]) => rawBytes(dt, values));
    const header = {
      id: 'bin-1',
      parameters: { binary_data_output: true },
      inputs: BINARY_INPUTS.map(([name, datatype], i) => ({
        name,
        datatype,
        shape: [2, 2],
        parameters: { binary_data_size: blobs[i].length },
      })),
    };
    const res = await postBinary(header, blobs);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    const headerLength = Number(res.headers.get('inference-header-content-length'));
    const { header: out, bytes } = readBinary(Buffer.from(await res.arrayBuffer()), headerLength);
    expect(out.id).toBe('bin-1');
    expect(out.outputs.every((o) => o.data === undefined)).toBe(true);
    expect(bytes.get('fp32_out')).toEqual(rawBytes('FP32', [2.5, -1.25, 3.4028234663852886e38, 1]));
    expect(bytes.get('fp64_out')).toEqual(rawBytes('FP64', [2.5, -1.25, 1e300, 1.1]));
    expect(bytes.get('int32_out')).toEqual(rawBytes('INT32', [2, -1, 2147483647, -2147483647]));
    expect(bytes.get('int64_out')).toEqual(rawBytes('INT64', [2n, -1n, 9007199254740994n, -9223372036854775807n]));
    expect(bytes.get('bool_out')).toEqual(rawBytes('BOOL', [false, true, true, false]));
    expect(bytes.get('bytes_out')).toEqual(rawBytes('BYTES', ['hello', '', 'ünïcode', 'a b']));
  });

  it('mixes: binary inputs with JSON outputs, and one output in binary by request', async () => {
    const blob = rawBytes('INT64', [5n, 6n, 7n, 8n]);
    const res = await postBinary(
      {
        inputs: [
          ...BINARY_INPUTS.filter(([n]) => n !== 'int64_in').map(([name, datatype, data]) => ({
            name,
            datatype,
            shape: [2, 2],
            data,
          })),
          { name: 'int64_in', datatype: 'INT64', shape: [2, 2], parameters: { binary_data_size: blob.length } },
        ],
        outputs: [{ name: 'int64_out' }, { name: 'fp64_out', parameters: { binary_data: true } }],
      },
      [blob],
    );
    expect(res.status).toBe(200);
    const { header, bytes } = readBinary(
      Buffer.from(await res.arrayBuffer()),
      Number(res.headers.get('inference-header-content-length')),
    );
    expect(header.outputs.map((o) => o.name)).toEqual(['int64_out', 'fp64_out']);
    expect(header.outputs[0].data).toEqual([6, 7, 8, 9]);
    expect(bytes.get('fp64_out')).toEqual(rawBytes('FP64', [2.5, -1.25, 1e300, 1.1]));
  });

  it('answers a binary request with plain JSON when no binary output is asked for', async () => {
    const blob = rawBytes('FP32', [1, 2, 3, 4]);
    const head = Buffer.from(
      JSON.stringify({
        inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], parameters: { binary_data_size: 16 } }],
      }),
    );
    const res = await fetch(`${tiny.url}/v2/models/tiny/infer`, {
      method: 'POST',
      headers: { 'inference-header-content-length': String(head.length) },
      body: Buffer.concat([head, blob]),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('inference-header-content-length')).toBeNull();
    const body = (await res.json()) as { outputs: { name: string }[] };
    expect(body.outputs.map((o: { name: string }) => o.name).sort()).toEqual(['label', 'probabilities']);
  });
});
