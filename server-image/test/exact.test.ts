/**
 * Values arrive at the model and come back exactly as sent, or are refused with a 400 naming the
 * tensor and element; never changed on the way. Over real HTTP against the echo models:
 * 64-bit integers in JSON (V2 and V1) across their whole range, BYTES in JSON and in the binary
 * extension. And KServe V1 on a model whose output has no batch dimension. Responses are read as
 * text with integers parsed exactly here, independently of the server's codec.
 */
import { jest } from '@jest/globals';
import path from 'node:path';
import { FIXTURES, startServer, type Json, type ServerProcess } from './helpers/server.js';

jest.setTimeout(180_000);

let int64: ServerProcess;
let uint64: ServerProcess;
let bytes: ServerProcess;
let scalar: ServerProcess;

beforeAll(async () => {
  // One process each: four servers on a small machine.
  const start = (file: string) => startServer({ model: path.join(FIXTURES, file), env: { MODELSHIP_PROCESSES: '1' } });
  [int64, uint64, bytes, scalar] = await Promise.all([
    start('echo_int64.onnx'),
    start('echo_uint64.onnx'),
    start('echo_bytes.onnx'),
    start('scalar_sum.onnx'),
  ]);
});
afterAll(async () => {
  await Promise.all([int64?.stop(), uint64?.stop(), bytes?.stop(), scalar?.stop()]);
});

/** JSON.parse with every integer literal read as an exact bigint. */
function parseExact(text: string): Json {
  const parse = JSON.parse as (
    text: string,
    reviver: (key: string, value: unknown, context: { source?: string }) => unknown,
  ) => Json;
  return parse(text, (_key, value, context) =>
    typeof value === 'number' && /^-?\d+$/.test(context.source ?? '') ? BigInt(context.source as string) : value,
  );
}

/** POST raw text (or bytes, with extra headers) and read the answer exactly. */
async function post(
  url: string,
  body: string | Buffer,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Json; raw: Buffer; headers: Headers }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const raw = Buffer.from(await res.arrayBuffer());
  const isJson = (res.headers.get('content-type') ?? '').startsWith('application/json');
  return { status: res.status, body: isJson ? parseExact(raw.toString('utf8')) : undefined, raw, headers: res.headers };
}

/** A V2 body with one input "input" whose data is `data` verbatim (JSON text). */
const v2Body = (datatype: string, shape: number[], data: string): string =>
  `{"inputs":[{"name":"input","datatype":"${datatype}","shape":${JSON.stringify(shape)},"data":${data}}]}`;

describe('64-bit integers in JSON are exact', () => {
  const INT64_EXTREMES = ['-9223372036854775808', '9223372036854775807', '9007199254740993', '-9007199254740993'];

  it('V2: INT64 from -2^63 to 2^63-1 comes back exactly', async () => {
    const res = await post(
      `${int64.url}/v2/models/echo_int64/infer`,
      v2Body('INT64', [2, 2], `[[${INT64_EXTREMES.slice(0, 2)}],[${INT64_EXTREMES.slice(2)}]]`),
    );
    expect(res.status).toBe(200);
    expect(res.body.outputs[0]).toEqual({
      name: 'output',
      datatype: 'INT64',
      shape: [2n, 2n],
      data: INT64_EXTREMES.map(BigInt),
    });
  });

  it('V2: UINT64 up to 2^64-1 comes back exactly', async () => {
    const res = await post(
      `${uint64.url}/v2/models/echo_uint64/infer`,
      v2Body('UINT64', [1, 2], '[18446744073709551615,9007199254740993]'),
    );
    expect(res.status).toBe(200);
    expect(res.body.outputs[0].data).toEqual([18446744073709551615n, 9007199254740993n]);
  });

  it('V2: a number that is exactly an integer is one (1e3, 10.0, 9.007199254740993e15)', async () => {
    const res = await post(
      `${int64.url}/v2/models/echo_int64/infer`,
      v2Body('INT64', [2, 2], '[[1e3,10.0],[9.007199254740993e15,-0]]'),
    );
    expect(res.status).toBe(200);
    expect(res.body.outputs[0].data).toEqual([1000n, 10n, 9007199254740993n, 0n]);
  });

  it.each([
    [
      'INT64',
      '[1,9223372036854775808]',
      /tensor 'input': element 1 is 9223372036854775808, expected an integer in \[-9223372036854775808, 9223372036854775807\]/,
    ],
    ['INT64', '[-9223372036854775809,1]', /tensor 'input': element 0 is -9223372036854775809/],
    [
      'UINT64',
      '[18446744073709551616,1]',
      /tensor 'input': element 0 is 18446744073709551616, expected an integer in \[0, 18446744073709551615\]/,
    ],
    ['UINT64', '[1,-1]', /tensor 'input': element 1 is -1/],
    ['INT64', '[1.5,1]', /tensor 'input': element 0 is 1.5/],
    ['INT64', '[1,1e400]', /tensor 'input': element 1 is Infinity/],
    ['INT64', '[9007199254740993.5,1]', /tensor 'input': element 0 /],
  ])('V2: %s data %s is a 400 naming the element', async (datatype, data, message) => {
    const model = datatype === 'INT64' ? int64 : uint64;
    const res = await post(
      `${model.url}/v2/models/echo_${datatype.toLowerCase()}/infer`,
      v2Body(datatype, [1, 2], data),
    );
    expect({ status: res.status, body: res.body }).toEqual({
      status: 400,
      body: { error: expect.stringMatching(message) },
    });
  });

  it('V2: binary INT64 in, JSON out, and JSON in, binary out, exact both ways', async () => {
    const values = INT64_EXTREMES.map(BigInt);
    const blob = Buffer.alloc(32);
    values.forEach((v, i) => blob.writeBigInt64LE(v, i * 8));
    const head = Buffer.from(
      JSON.stringify({
        inputs: [{ name: 'input', datatype: 'INT64', shape: [2, 2], parameters: { binary_data_size: 32 } }],
      }),
    );
    const fromBinary = await post(`${int64.url}/v2/models/echo_int64/infer`, Buffer.concat([head, blob]), {
      'inference-header-content-length': String(head.length),
    });
    expect(fromBinary.status).toBe(200);
    expect(fromBinary.body.outputs[0].data).toEqual(values);

    const toBinary = await post(
      `${int64.url}/v2/models/echo_int64/infer`,
      `{"inputs":[{"name":"input","datatype":"INT64","shape":[2,2],"data":[${INT64_EXTREMES}]}],"outputs":[{"name":"output","parameters":{"binary_data":true}}]}`,
    );
    expect(toBinary.status).toBe(200);
    const headerLength = Number(toBinary.headers.get('inference-header-content-length'));
    expect(toBinary.raw.subarray(headerLength)).toEqual(blob);
  });

  it('V1: instances and predictions are exact too', async () => {
    const res = await post(
      `${int64.url}/v1/models/echo_int64:predict`,
      `{"instances":[[${INT64_EXTREMES.slice(0, 2)}],[${INT64_EXTREMES.slice(2)}]]}`,
    );
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      predictions: [INT64_EXTREMES.slice(0, 2).map(BigInt), INT64_EXTREMES.slice(2).map(BigInt)],
    });
    const max = await post(`${uint64.url}/v1/models/echo_uint64:predict`, '{"instances":[[18446744073709551615,0]]}');
    expect(max.body).toEqual({ predictions: [[18446744073709551615n, 0n]] });
  });

  it('V1: an integer out of range is a 400 naming the element', async () => {
    const res = await post(
      `${int64.url}/v1/models/echo_int64:predict`,
      '{"instances":[[1,2],[3,9223372036854775808]]}',
    );
    expect({ status: res.status, body: res.body }).toEqual({
      status: 400,
      body: { error: expect.stringMatching(/tensor 'input': element 3 is 9223372036854775808/) },
    });
  });
});

/** BYTES elements as the binary extension lays them out: 4-byte little-endian length, then the bytes. */
function bytesBlob(elements: readonly Buffer[]): Buffer {
  return Buffer.concat(
    elements.flatMap((e) => {
      const len = Buffer.alloc(4);
      len.writeUInt32LE(e.length);
      return [len, e];
    }),
  );
}

describe('BYTES are bytes: exact, or refused', () => {
  const url = () => `${bytes.url}/v2/models/echo_bytes/infer`;
  /** A binary-extension request of BYTES elements, asking for the output as binary too. */
  const binaryRequest = (elements: readonly Buffer[]) => {
    const blob = bytesBlob(elements);
    const head = Buffer.from(
      JSON.stringify({
        inputs: [
          {
            name: 'input',
            datatype: 'BYTES',
            shape: [1, elements.length],
            parameters: { binary_data_size: blob.length },
          },
        ],
        outputs: [{ name: 'output', parameters: { binary_data: true } }],
      }),
    );
    return post(url(), Buffer.concat([head, blob]), { 'inference-header-content-length': String(head.length) });
  };

  it('binary: valid UTF-8 comes back byte for byte, a leading byte order mark included', async () => {
    const elements = [Buffer.from([0xef, 0xbb, 0xbf, 0x61]), Buffer.from('ünï\uFFFD😀\u2028\u0001', 'utf8')];
    const res = await binaryRequest(elements);
    expect(res.status).toBe(200);
    expect(res.raw.subarray(Number(res.headers.get('inference-header-content-length')))).toEqual(bytesBlob(elements));
  });

  it('binary: an element that is not UTF-8 is a 400 naming it, not U+FFFD', async () => {
    const res = await binaryRequest([Buffer.from('ok'), Buffer.from([0x61, 0xff, 0xfe])]);
    expect({ status: res.status, body: res.body }).toEqual({
      status: 400,
      body: { error: expect.stringMatching(/input 'input': BYTES element 1 is not valid UTF-8/) },
    });
  });

  it('JSON: strings come back exactly, in JSON and as binary', async () => {
    const strings = ['\ufeffa', 'ünï\uFFFD😀\u2028\u0001'];
    const json = await post(
      url(),
      JSON.stringify({ inputs: [{ name: 'input', datatype: 'BYTES', shape: [1, 2], data: strings }] }),
    );
    expect(json.body.outputs[0].data).toEqual(strings);
    const binary = await post(
      url(),
      JSON.stringify({
        inputs: [{ name: 'input', datatype: 'BYTES', shape: [1, 2], data: strings }],
        outputs: [{ name: 'output', parameters: { binary_data: true } }],
      }),
    );
    expect(binary.raw.subarray(Number(binary.headers.get('inference-header-content-length')))).toEqual(
      bytesBlob(strings.map((s) => Buffer.from(s, 'utf8'))),
    );
  });

  it('JSON: a string with a lone surrogate, which UTF-8 cannot encode, is a 400 naming the element (V2 and V1)', async () => {
    const v2 = await post(url(), v2Body('BYTES', [1, 2], '["ok","a\\ud800"]'));
    expect({ status: v2.status, body: v2.body }).toEqual({
      status: 400,
      body: { error: expect.stringMatching(/tensor 'input': element 1 is a string with a lone UTF-16 surrogate/) },
    });
    const v1 = await post(`${bytes.url}/v1/models/echo_bytes:predict`, '{"instances":[["ok","\\udc00"]]}');
    expect({ status: v1.status, body: v1.body }).toEqual({
      status: 400,
      body: { error: expect.stringMatching(/tensor 'input': element 1 is a string with a lone UTF-16 surrogate/) },
    });
  });
});

describe('an output without a batch dimension', () => {
  it('V1 predicts it whole, as KServe does (predictions = the output, a bare number for a scalar)', async () => {
    const res = await post(`${scalar.url}/v1/models/scalar_sum:predict`, '{"instances":[[1,2,3],[4,5,6]]}');
    expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: { predictions: 21n } });
  });

  it('V2 serves it as shape []', async () => {
    const res = await post(`${scalar.url}/v2/models/scalar_sum/infer`, v2Body('FP32', [1, 3], '[1,2,3]'));
    expect(res.body.outputs).toEqual([{ name: 'total', datatype: 'FP32', shape: [], data: [6n] }]);
  });
});
