/**
 * http(s):// models through the fetch pipeline, served by the real server process, from a real
 * HTTP server on loopback that the tests script (an object, a 404, a store answering 503, a closed
 * port, Basic credentials).
 */
import { jest } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { closedPort, cacheEntries, failure, inferStatus, serve, TINY, TINY_SHA256 } from './harness.js';
import { makeTestTls } from './tls.js';

// Each test starts real server processes against a real store: seconds each, more on a loaded machine.
jest.setTimeout(120_000);

const model = readFileSync(TINY);
let store: Server;
let base: string;
let requests: string[];

beforeAll(async () => {
  store = createServer((req, res) => {
    requests.push(`${req.method ?? ''} ${req.url ?? ''}`);
    if (req.url === '/private/tiny.onnx') {
      if (req.headers.authorization !== `Basic ${Buffer.from('reader:s3cr3t-pass').toString('base64')}`) {
        res.writeHead(401).end();
        return;
      }
      res.writeHead(200).end(model);
    } else if (req.url === '/tiny.onnx') {
      res.writeHead(200, { 'content-length': String(model.length) }).end(model);
    } else if (req.url === '/busy.onnx') {
      res.writeHead(503).end('try later');
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => store.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(store.address() as AddressInfo).port}`;
});
afterAll(() => new Promise((resolve) => store.close(resolve)));
beforeEach(() => {
  requests = [];
});

it.each(['1', '2'])(
  'serves a model fetched over http (%s serving processes), kept in the cache under its digest',
  async (processes) => {
    const server = await serve(`${base}/tiny.onnx`, { MODELSHIP_PROCESSES: processes });
    try {
      expect(await inferStatus(server)).toBe(200);
      expect(cacheEntries(server)).toEqual([`sha256-${TINY_SHA256}.onnx`]);
      expect(requests).toEqual(['GET /tiny.onnx']);
    } finally {
      await server.stop();
    }
  },
);

it.each(['1', '2'])('reports a missing object as ModelNotFound, at once (%s serving processes)', async (processes) => {
  const end = await failure(await serve(`${base}/gone.onnx`, { MODELSHIP_PROCESSES: processes }, false));
  expect(end.code).toBe(1);
  expect(end.reason).toBe('ModelNotFound');
  expect(end.message).toMatch(/^fetch model http:\/\/127\.0\.0\.1:\d+\/gone\.onnx: HTTP 404 Not Found$/);
  expect(requests).toEqual(['GET /gone.onnx']);
});

it('refuses content with another digest as ModelDigestMismatch, naming both, and keeps nothing', async () => {
  const wrong = 'ab'.repeat(32);
  const server = await serve(`${base}/tiny.onnx`, { MODELSHIP_SHA256: wrong }, false);
  const end = await failure(server);
  expect(end.reason).toBe('ModelDigestMismatch');
  expect(end.message).toContain(`expected ${wrong}, got ${TINY_SHA256}`);
  expect(cacheEntries(server)).toEqual([]);
});

it('retries a store that answers 503, then reports ModelSourceUnavailable within the deadline', async () => {
  const server = await serve(`${base}/busy.onnx`, { MODELSHIP_STORAGE_TIMEOUT_SECONDS: '3' }, false);
  const end = await failure(server);
  expect(end.reason).toMatch(/^(ModelSourceUnavailable|ModelFetchTimeout)$/);
  expect(end.message).toMatch(/busy\.onnx/);
  expect(requests.length).toBeGreaterThan(1);
  expect(server.logs).toContainEqual(
    expect.objectContaining({
      level: 'warn',
      msg: 'model fetch failed; retrying',
      attempt: 1,
      reason: 'ModelSourceUnavailable',
      error: expect.stringMatching(/busy\.onnx: HTTP 503/),
    }),
  );
  expect(cacheEntries(server)).toEqual([]);
});

it('reports a store that is down as ModelSourceUnavailable or ModelFetchTimeout within a short deadline', async () => {
  const port = await closedPort();
  const end = await failure(
    await serve(`http://127.0.0.1:${port}/tiny.onnx`, { MODELSHIP_STORAGE_TIMEOUT_SECONDS: '2' }, false),
  );
  expect(end.reason).toMatch(/^(ModelSourceUnavailable|ModelFetchTimeout)$/);
  expect(end.message).toMatch(/ECONNREFUSED/);
});

it('sends the URI credentials as Basic auth, and never shows them: not in a log, not in the termination message', async () => {
  const hostPort = base.slice('http://'.length);
  const server = await serve(`http://reader:s3cr3t-pass@${hostPort}/private/tiny.onnx`);
  try {
    expect(await inferStatus(server)).toBe(200);
  } finally {
    await server.stop();
  }
  expect(JSON.stringify(server.logs)).not.toContain('s3cr3t-pass');
  const denied = await failure(await serve(`http://reader:wrong-pass@${hostPort}/private/tiny.onnx`, {}, false));
  expect(denied.reason).toBe('ModelAccessDenied');
  expect(denied.termination).toMatch(/\(credentials\/query redacted\): HTTP 401 Unauthorized$/);
  expect(denied.termination + denied.logText).not.toContain('wrong-pass');
});

it('trusts a store whose certificate a private CA signed only with that CA (MODELSHIP_STORAGE_CA_FILE)', async () => {
  const tls = makeTestTls();
  const secure = createTlsServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    requests.push(`${req.method ?? ''} ${req.url ?? ''}`);
    res.writeHead(200, { 'content-length': String(model.length) }).end(model);
  });
  await new Promise<void>((resolve) => secure.listen(0, '127.0.0.1', resolve));
  const uri = `https://127.0.0.1:${(secure.address() as AddressInfo).port}/tiny.onnx`;
  try {
    // Without the CA: an untrusted certificate is a setting to fix, not a store to wait for.
    const untrusted = await failure(await serve(uri, {}, false));
    expect(untrusted.reason).toBe('ModelSourceInvalid');
    expect(untrusted.message).toMatch(/certificate/i);
    expect(requests).toEqual([]);
    const server = await serve(uri, { MODELSHIP_STORAGE_CA_FILE: tls.caFile });
    try {
      expect(await inferStatus(server)).toBe(200);
      expect(requests).toEqual(['GET /tiny.onnx']);
    } finally {
      await server.stop();
    }
  } finally {
    secure.closeAllConnections();
    await new Promise((resolve) => secure.close(resolve));
    tls.remove();
  }
});
