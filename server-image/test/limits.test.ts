/**
 * The response size limit over real HTTP, on an identity model (echo_fp32: [batch, 2] in, the
 * same out), which answers as much as it is sent: an answer over MODELSHIP_MAX_RESPONSE_SIZE is a
 * 400 naming the output, its size and the setting, and the same rows asked for as binary data, or
 * fewer rows, are served. With the defaults, the case: a 31 MiB binary request whose
 * answer would be over 100 MB of JSON.
 */
import { jest } from '@jest/globals';
import path from 'node:path';
import { FIXTURES, getJson, postJson, startServer, type Json, type ServerProcess } from './helpers/server.js';

jest.setTimeout(180_000);

const MODEL = path.join(FIXTURES, 'echo_fp32.onnx');
let small: ServerProcess;
let defaults: ServerProcess;

beforeAll(async () => {
  [small, defaults] = await Promise.all([
    startServer({ model: MODEL, env: { MODELSHIP_MODEL_NAME: 'echo', MODELSHIP_MAX_RESPONSE_SIZE: '64kb' } }),
    startServer({ model: MODEL, env: { MODELSHIP_MODEL_NAME: 'echo' } }),
  ]);
});
afterAll(async () => {
  await Promise.all([small?.stop(), defaults?.stop()]);
});

/** `rows` rows of two floats whose JSON text is long (0.1 as a float32 reads 0.10000000149011612). */
const rows = (n: number): number[][] => Array.from({ length: n }, () => [0.1, -0.1]);

/** A binary-extension request of `n` rows; `binaryOutput` asks for the answer as binary data too. */
async function postBinary(
  url: string,
  n: number,
  binaryOutput: boolean,
): Promise<{ status: number; body: Json; bytes: number }> {
  const data = Buffer.alloc(n * 2 * 4, 0x3d);
  const head = Buffer.from(
    JSON.stringify({
      inputs: [{ name: 'input', datatype: 'FP32', shape: [n, 2], parameters: { binary_data_size: data.length } }],
      parameters: binaryOutput ? { binary_data_output: true } : {},
    }),
  );
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'inference-header-content-length': String(head.length) },
    body: Buffer.concat([head, data]),
  });
  const body = Buffer.from(await res.arrayBuffer());
  const headerLength = Number(res.headers.get('inference-header-content-length') ?? body.length);
  return {
    status: res.status,
    body: JSON.parse(body.subarray(0, headerLength).toString('utf8')) as Json,
    bytes: body.length - headerLength,
  };
}

describe('MODELSHIP_MAX_RESPONSE_SIZE=64kb', () => {
  it('V2: refuses a JSON answer over the limit with a 400 naming the output, its size and the setting', async () => {
    // 4096 rows: 32 KiB of floats, about 160 KB as JSON.
    const res = await postJson(`${small.url}/v2/models/echo/infer`, {
      inputs: [{ name: 'input', datatype: 'FP32', shape: [4096, 2], data: rows(4096) }],
    });
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      error: expect.stringMatching(
        /^response too large: output 'output' \(FP32 \[4096,2\], \d+ bytes as JSON\) is over the limit of 65536 bytes \(MODELSHIP_MAX_RESPONSE_SIZE\); send fewer rows or ask for binary outputs/,
      ),
    });
  });

  it('V2: serves the same rows as binary data, and fewer rows as JSON', async () => {
    const binary = await postBinary(`${small.url}/v2/models/echo/infer`, 4096, true);
    expect(binary).toMatchObject({ status: 200, bytes: 4096 * 2 * 4 });
    const json = await postJson(`${small.url}/v2/models/echo/infer`, {
      inputs: [{ name: 'input', datatype: 'FP32', shape: [1024, 2], data: rows(1024) }],
    });
    expect(json.status).toBe(200);
    expect(json.body.outputs[0].data).toHaveLength(2048);
  });

  it('V2: a binary answer over the limit is refused too, without advice to ask for binary', async () => {
    const res = await postBinary(`${small.url}/v2/models/echo/infer`, 16384, true);
    expect(res.status).toBe(400);
    expect(res.body.error).toBe(
      "response too large: output 'output' (FP32 [16384,2], 131072 bytes binary) is over the limit of 65536 bytes (MODELSHIP_MAX_RESPONSE_SIZE); send fewer rows",
    );
  });

  it('V1: refuses too many instances, and serves fewer', async () => {
    const res = await postJson(`${small.url}/v1/models/echo:predict`, { instances: rows(4096) });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(
      /^response too large: output 'output' .* \(MODELSHIP_MAX_RESPONSE_SIZE\); send fewer instances$/,
    );
    const ok = await postJson(`${small.url}/v1/models/echo:predict`, { instances: rows(1024) });
    expect(ok.status).toBe(200);
    expect(ok.body.predictions).toHaveLength(1024);
  });

  it('stays ready after refusing', async () => {
    expect((await getJson(`${small.url}/v2/health/ready`)).status).toBe(200);
  });
});

describe('the default limit (32 MiB)', () => {
  // Under the default 32 MiB body limit: 4,000,000 rows of 2 floats, a 30.5 MiB binary body.
  const n = 4_000_000;

  it('refuses to answer a 31 MiB binary request with over 100 MB of JSON', async () => {
    const res = await postBinary(`${defaults.url}/v2/models/echo/infer`, n, false);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(
      /^response too large: output 'output' \(FP32 \[4000000,2\], \d+ bytes as JSON\) is over the limit of 33554432 bytes/,
    );
  });

  it('answers the same request in binary, byte for byte', async () => {
    expect(await postBinary(`${defaults.url}/v2/models/echo/infer`, n, true)).toMatchObject({
      status: 200,
      bytes: n * 2 * 4,
    });
  });
});
