/**
 * Values arrive at the model and come back exactly as sent, or are refused with a 400 naming the
 * tensor and element; never changed on the way. Over real HTTP against the echo models: BYTES in
 * JSON and in the binary extension. Responses are read as text with integers parsed exactly here,
 * independently of the server's codec.
 */
import { jest } from '@jest/globals';
import path from 'node:path';
import { FIXTURES, startServer, type Json, type ServerProcess } from './helpers/server.js';

jest.setTimeout(180_000);

let bytes: ServerProcess;

beforeAll(async () => {
  // One process each: several servers on a small machine.
  const start = (file: string) => startServer({ model: path.join(FIXTURES, file), env: { MODELSHIP_PROCESSES: '1' } });
  [bytes] = await Promise.all([start('echo_bytes.onnx')]);
});
afterAll(async () => {
  await Promise.all([bytes?.stop()]);
});

/** JSON.parse with every integer literal read as an exact bigint. */
function parseExact(text: string): Json {
  const parse = JSON.parse as (text: string, reviver: (key: string, value: unknown, context: { source?: string }) => unknown) => Json;
  return parse(text, (_key, value, context) => (typeof value === 'number' && /^-?\d+$/.test(context.source ?? '') ? BigInt(context.source as string) : value));
}

/** POST raw text (or bytes, with extra headers) and read the answer exactly. */
async function post(url: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: Json; raw: Buffer; headers: Headers }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  const raw = Buffer.from(await res.arrayBuffer());
  const isJson = (res.headers.get('content-type') ?? '').startsWith('application/json');
  return { status: res.status, body: isJson ? parseExact(raw.toString('utf8')) : undefined, raw, headers: res.headers };
}

/** A V2 body with one input "input" whose data is `data` verbatim (JSON text). */
const v2Body = (datatype: string, shape: number[], data: string): string => `{"inputs":[{"name":"input","datatype":"${datatype}","shape":${JSON.stringify(shape)},"data":${data}}]}`;

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
        inputs: [{ name: 'input', datatype: 'BYTES', shape: [1, elements.length], parameters: { binary_data_size: blob.length } }],
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
    expect({ status: res.status, body: res.body }).toEqual({ status: 400, body: { error: expect.stringMatching(/input 'input': BYTES element 1 is not valid UTF-8/) } });
  });

  it('JSON: strings come back exactly, in JSON and as binary', async () => {
    const strings = ['\ufeffa', 'ünï\uFFFD😀\u2028\u0001'];
    const json = await post(url(), JSON.stringify({ inputs: [{ name: 'input', datatype: 'BYTES', shape: [1, 2], data: strings }] }));
    expect(json.body.outputs[0].data).toEqual(strings);
    const binary = await post(
      url(),
      JSON.stringify({ inputs: [{ name: 'input', datatype: 'BYTES', shape: [1, 2], data: strings }], outputs: [{ name: 'output', parameters: { binary_data: true } }] }),
    );
    expect(binary.raw.subarray(Number(binary.headers.get('inference-header-content-length')))).toEqual(bytesBlob(strings.map((s) => Buffer.from(s, 'utf8'))));
  });

  it('JSON: a string with a lone surrogate, which UTF-8 cannot encode, is a 400 naming the element (V2 and V1)', async () => {
    const v2 = await post(url(), v2Body('BYTES', [1, 2], '["ok","a\\ud800"]'));
    expect({ status: v2.status, body: v2.body }).toEqual({ status: 400, body: { error: expect.stringMatching(/tensor 'input': element 1 is a string with a lone UTF-16 surrogate/) } });
    const v1 = await post(`${bytes.url}/v1/models/echo_bytes:predict`, '{"instances":[["ok","\\udc00"]]}');
    expect({ status: v1.status, body: v1.body }).toEqual({ status: 400, body: { error: expect.stringMatching(/tensor 'input': element 1 is a string with a lone UTF-16 surrogate/) } });
  });
});
