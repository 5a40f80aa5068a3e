/**
 * Every client mistake gets a 4xx with a JSON {"error"} naming the problem, and none of them
 * crashes the server or produces a 500.
 */
import { jest } from '@jest/globals';
import net from 'node:net';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { FIXTURES, getJson, postJson, startServer, until, type ServerProcess } from './helpers/server.js';

jest.setTimeout(180_000);

let server: ServerProcess;
let twoInputs: ServerProcess;

beforeAll(async () => {
  [server, twoInputs] = await Promise.all([
    startServer({ model: path.join(FIXTURES, 'tiny.onnx'), env: { MODELSHIP_MAX_BODY_SIZE: '64kb' } }),
    startServer({ model: path.join(FIXTURES, 'two_inputs.onnx') }),
  ]);
});
afterAll(async () => {
  await Promise.all([server?.stop(), twoInputs?.stop()]);
});

const row = (n = 1): number[][] => Array.from({ length: n }, () => [1, 2, 3, 4]);
const tinyInput = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  name: 'input',
  datatype: 'FP32',
  shape: [1, 4],
  data: row(),
  ...over,
});

/** Send raw bytes over a socket and return what came back. */
function rawRequest(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(bytes));
    let out = '';
    socket.setEncoding('utf8').on('data', (d: string) => (out += d));
    socket.on('end', () => resolve(out));
    socket.on('error', reject);
  });
}

function expectJsonError(
  res: { status: number; body: unknown; headers: Headers },
  status: number,
  message: RegExp,
): void {
  expect({ status: res.status, body: res.body }).toEqual({ status, body: { error: expect.stringMatching(message) } });
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
}

describe('V2 inference rejects bad requests', () => {
  const infer = (body: unknown, headers?: Record<string, string>) =>
    postJson(`${server.url}/v2/models/tiny/infer`, body, headers);

  it.each([
    ['malformed JSON', '{"inputs": [', 400, /malformed JSON/],
    ['an empty body', '', 400, /malformed JSON/],
    ['a JSON array', '[]', 400, /JSON object/],
    ['no inputs', { inputs: [] }, 400, /"inputs" must be a non-empty array/],
    ['an unknown input', { inputs: [tinyInput({ name: 'pixels' })] }, 400, /pixels/],
    ['a wrong datatype', { inputs: [tinyInput({ datatype: 'FP64' })] }, 400, /input.*FP64|FP64.*input/],
    ['an unknown datatype', { inputs: [tinyInput({ datatype: 'FLOAT32' })] }, 400, /unknown datatype "FLOAT32"/],
    ['a wrong rank', { inputs: [tinyInput({ shape: [4], data: [1, 2, 3, 4] })] }, 400, /input/],
    ['a wrong inner dimension', { inputs: [tinyInput({ shape: [1, 3], data: [1, 2, 3] })] }, 400, /input/],
    ['data not matching the shape', { inputs: [tinyInput({ shape: [2, 4] })] }, 400, /needs 8 elements, data has 4/],
    ['a string in FP32 data', { inputs: [tinyInput({ data: [1, 2, 'three', 4] })] }, 400, /element 2 is "three"/],
    ['an unknown requested output', { inputs: [tinyInput()], outputs: [{ name: 'logits' }] }, 400, /logits/],
    ['a numeric id', { id: 7, inputs: [tinyInput()] }, 400, /"id" must be a string/],
  ])('%s → %i', async (_what, body, status, message) => {
    expectJsonError(await infer(body), status, message);
  });

  it('400, not a stack overflow, for absurdly deep nesting in data, objects and parameters', async () => {
    // The two-input server has the default body limit; these bodies are a few hundred kB.
    const v2 = (body: string) => postJson(`${twoInputs.url}/v2/models/two_inputs/infer`, body);
    const deep = (n: number, open: string, close: string) => open.repeat(n) + close.repeat(n);
    const deepObject = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
    const input = (data: string) => `{"inputs":[{"name":"x","datatype":"FP32","shape":[1,3],"data":${data}}]}`;
    expectJsonError(await v2(input(deep(100_000, '[', ']'))), 400, /nested deeper than 32 levels/);
    // An integer beyond 2^53 is read from its source text by a JSON.parse reviver, which recurses.
    expectJsonError(
      await v2(input(`${'['.repeat(100_000)}9007199254740993${']'.repeat(100_000)}`)),
      400,
      /nested too deeply/,
    );
    const oneElement = `{"inputs":[{"name":"x","datatype":"FP32","shape":[1],"data":[${deepObject(100_000)}]}]}`;
    expectJsonError(await v2(oneElement), 400, /element 0 is an object/);
    expectJsonError(
      await v2(`{"id":${deep(100_000, '[', ']')},"inputs":[]}`),
      400,
      /"id" must be a string, got an array of 1/,
    );
    expectJsonError(
      await v2(
        `{"parameters":{"p":${deepObject(100_000)}},"inputs":[{"name":"x","datatype":"FP32","shape":[1,3],"data":[1,2,3]}]}`,
      ),
      400,
      /parameter 'p'/,
    );
    const v1 = await postJson(
      `${twoInputs.url}/v1/models/two_inputs:predict`,
      `{"instances":[{"x":${deep(100_000, '[', ']')},"k":[1]}]}`,
    );
    expectJsonError(v1, 400, /nested deeper than 32 levels/);
  });

  it('404 for an unknown model or version', async () => {
    expectJsonError(await postJson(`${server.url}/v2/models/nope/infer`, { inputs: [tinyInput()] }), 404, /nope/);
    expectJsonError(
      await postJson(`${server.url}/v2/models/tiny/versions/2/infer`, { inputs: [tinyInput()] }),
      404,
      /version/,
    );
  });

  it('404 for an unknown model or version before the body is judged, gzip-encoded or not', async () => {
    for (const [p, message] of [
      ['/v2/models/nope/infer', /model "nope" is not served here/],
      ['/v2/models/nope/versions/1/infer', /model "nope" is not served here/],
      ['/v2/models/tiny/versions/2/infer', /model "tiny" has no version "2"/],
    ] as const) {
      for (const body of ['{"inputs": [', '{"inputs": []}', JSON.stringify({ inputs: [tinyInput({ data: ['x'] })] })]) {
        expectJsonError(await postJson(`${server.url}${p}`, body), 404, message);
        const gzipped = await fetch(`${server.url}${p}`, {
          method: 'POST',
          headers: { 'content-encoding': 'gzip' },
          body: gzipSync(body),
        });
        expectJsonError({ status: gzipped.status, body: await gzipped.json(), headers: gzipped.headers }, 404, message);
      }
    }
  });

  it('413 for a body over the limit, naming the limit', async () => {
    const big = { inputs: [tinyInput({ shape: [20000, 4], data: row(20000) })] };
    expectJsonError(await infer(big), 413, /exceeds the limit of 65536 bytes/);
  });

  it('400 when binary data does not match binary_data_size', async () => {
    const header = Buffer.from(
      JSON.stringify({ inputs: [tinyInput({ data: undefined, parameters: { binary_data_size: 16 } })] }),
    );
    const send = (extra: Buffer, length = header.length) =>
      fetch(`${server.url}/v2/models/tiny/infer`, {
        method: 'POST',
        headers: { 'inference-header-content-length': String(length) },
        body: Buffer.concat([header, extra]),
      }).then(async (r) => ({
        status: r.status,
        body: await r.json(),
        headers: r.headers,
      }));
    expectJsonError(
      await send(Buffer.alloc(12)),
      400,
      /binary_data_size 16 runs past the end of the body \(12 bytes left\)/,
    );
    expectJsonError(
      await send(Buffer.alloc(20)),
      400,
      /binary data has 20 bytes but the inputs' binary_data_size add up to 16/,
    );
    expectJsonError(
      await send(Buffer.alloc(16), header.length + 100),
      400,
      /Inference-Header-Content-Length is \d+ but the body has only/,
    );
    expectJsonError(await send(Buffer.alloc(16), -1), 400, /must be a non-negative integer/);
  });

  it('400 naming the input for a missing input of a two-input model', async () => {
    const res = await postJson(`${twoInputs.url}/v2/models/two_inputs/infer`, {
      inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }],
    });
    expectJsonError(res, 400, /\bk\b/);
  });

  it('400 for a batch dimension that differs between inputs', async () => {
    const res = await postJson(`${twoInputs.url}/v2/models/two_inputs/infer`, {
      inputs: [
        { name: 'x', datatype: 'FP32', shape: [2, 3], data: [1, 2, 3, 4, 5, 6] },
        { name: 'k', datatype: 'INT64', shape: [1, 1], data: [2] },
      ],
    });
    expect(res.status).toBe(400);
    expect(res.body.error).toEqual(expect.any(String));
  });

  it('accepts a gzip-encoded body and rejects an unknown encoding with 415', async () => {
    const body = gzipSync(JSON.stringify({ inputs: [tinyInput()] }));
    const ok = await fetch(`${server.url}/v2/models/tiny/infer`, {
      method: 'POST',
      headers: { 'content-encoding': 'gzip' },
      body,
    });
    expect(ok.status).toBe(200);
    const bad = await fetch(`${server.url}/v2/models/tiny/infer`, {
      method: 'POST',
      headers: { 'content-encoding': 'zstd-ish' },
      body,
    });
    expect(bad.status).toBe(415);
    expect(await bad.json()).toEqual({ error: expect.stringMatching(/zstd-ish/) });
  });
});

describe('routes and methods', () => {
  it('404 JSON for unknown routes', async () => {
    // `/` is KServe's liveness and `/v1/models` the model list (see v1.test.ts); `/v1` is neither.
    for (const p of ['/v1', '/v3/models', '/v2/models', '/v2/models/tiny/explain', '/v1/predict']) {
      expectJsonError(await getJson(`${server.url}${p}`), 404, /no route for GET/);
    }
  });

  it('405 with Allow for a wrong method on a known path', async () => {
    const cases: [string, string, string][] = [
      ['GET', '/v2/models/tiny/infer', 'POST'],
      ['PUT', '/v2/models/tiny', 'GET, HEAD'],
      ['DELETE', '/v2/health/ready', 'GET, HEAD'],
      ['GET', '/v1/models/tiny:predict', 'POST'],
      ['POST', '/v1/models/tiny', 'GET, HEAD'],
    ];
    for (const [method, p, allow] of cases) {
      const res = await fetch(`${server.url}${p}`, { method });
      expect([method, p, res.status, res.headers.get('allow')]).toEqual([method, p, 405, allow]);
      expect(await res.json()).toEqual({ error: expect.stringContaining(`method ${method} not allowed`) });
    }
  });

  it('400 JSON for a request node cannot parse as HTTP', async () => {
    const reply = await rawRequest(Number(new URL(server.url).port), 'BLAH /v2 HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 400 Bad Request/);
    expect(JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4))).toEqual({
      error: expect.stringMatching(/malformed HTTP request/),
    });
  });
});

describe('V1 rejects bad requests', () => {
  const predict = (body: unknown) => postJson(`${server.url}/v1/models/tiny:predict`, body);
  it.each([
    ['malformed JSON', '{"instances": [[1,2', 400, /malformed JSON/],
    ['no instances', { rows: [] }, 400, /"instances"/],
    [
      'ragged instances',
      {
        instances: [
          [1, 2, 3, 4],
          [1, 2],
        ],
      },
      400,
      /instances\[1\]/,
    ],
    ['a wrong row width', { instances: [[1, 2, 3]] }, 400, /input/],
    ['a string value', { instances: [[1, 2, 'x', 4]] }, 400, /element 2 is "x"/],
  ])('%s → %i', async (_what, body, status, message) => {
    expectJsonError(await predict(body), status, message);
  });

  it('404 for an unknown model', async () => {
    expectJsonError(await postJson(`${server.url}/v1/models/nope:predict`, { instances: [[1, 2, 3, 4]] }), 404, /nope/);
    expectJsonError(await getJson(`${server.url}/v1/models/nope`), 404, /nope/);
  });

  it('404 for an unknown model before the body is judged, gzip-encoded or not', async () => {
    for (const body of ['{"instances": [[1,2', '{"rows": []}', '{"instances": [[1, 2, "x", 4]]}']) {
      expectJsonError(
        await postJson(`${server.url}/v1/models/nope:predict`, body),
        404,
        /model "nope" is not served here/,
      );
      const gzipped = await fetch(`${server.url}/v1/models/nope:predict`, {
        method: 'POST',
        headers: { 'content-encoding': 'gzip' },
        body: gzipSync(body),
      });
      expectJsonError(
        { status: gzipped.status, body: await gzipped.json(), headers: gzipped.headers },
        404,
        /model "nope" is not served here/,
      );
    }
  });

  it('400 naming the inputs when a two-input model gets plain rows', async () => {
    expectJsonError(
      await postJson(`${twoInputs.url}/v1/models/two_inputs:predict`, { instances: [[1, 2, 3]] }),
      400,
      /inputs x, k/,
    );
  });
});

describe('clients that hang up', () => {
  it('are counted as 499 and cost the server nothing', async () => {
    const port = Number(new URL(twoInputs.url).port);
    const body = JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3], data: [1, 2, 3] }] });
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        const socket = net.connect(port, '127.0.0.1');
        socket.on('error', () => undefined);
        await new Promise((resolve) => socket.once('connect', resolve));
        // Headers and half the body, then gone.
        socket.write(
          `POST /v2/models/two_inputs/infer HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 20)}`,
        );
        await new Promise((resolve) => setTimeout(resolve, 50));
        socket.destroy();
      }),
    );
    await until('the hang-ups to be counted', async () => {
      const text = await (await fetch(`${twoInputs.metricsUrl}/metrics`)).text();
      return /modelship_http_requests_total\{route="v2_infer",code="499"\} 10\b/.test(text) ? true : undefined;
    });
    expect((await getJson(`${twoInputs.url}/v2/health/ready`)).status).toBe(200);
    expect(twoInputs.proc.exitCode).toBeNull();
  });
});

describe('after all of that', () => {
  it('is still up, ready, and never answered 500', async () => {
    for (let i = 0; i < 50; i++) {
      const junk = Buffer.from(Array.from({ length: 1 + ((i * 37) % 200) }, (_, j) => (i * 31 + j * 7) % 256));
      const res = await fetch(`${server.url}/v2/models/tiny/infer`, {
        method: 'POST',
        body: junk,
        headers: i % 2 ? { 'inference-header-content-length': String(i) } : {},
      });
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
      expect(await res.json()).toEqual({ error: expect.any(String) });
    }
    expect((await getJson(`${server.url}/v2/health/ready`)).status).toBe(200);
    const metrics = await (await fetch(`${server.metricsUrl}/metrics`)).text();
    expect(metrics).toMatch(/modelship_http_requests_total\{route="v2_infer",code="400"\} \d+/);
    expect(metrics).not.toMatch(/modelship_http_requests_total\{[^}]*code="500"\}/);
    expect(server.proc.exitCode).toBeNull();
  });
});
