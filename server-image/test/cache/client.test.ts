/**
 * The node cache client's choice between the agent and the direct source, against HTTP servers that
 * answer as an agent does: the agent's answers for the store are final, its own failures and its
 * absence send the pod to the store directly.
 */
import { jest } from '@jest/globals';
import { once } from 'node:events';
import http from 'node:http';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { ModelLoadError } from '../../src/dataplane/types.js';
import { viaNodeCache } from '../../src/model/nodecache.js';
import type { RemoteRequest, RemoteSource } from '../../src/model/remote.js';

// Real sockets and processes: seconds on a loaded machine.
jest.setTimeout(60_000);

const SHA = 'a'.repeat(64);
const servers: http.Server[] = [];

/** An agent that answers every request with `status` and `body`, and records what it was sent. */
async function agent(status: number, body: string, seen: unknown[] = []): Promise<string> {
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      seen.push(JSON.parse(raw));
      res.writeHead(status, { 'content-length': Buffer.byteLength(body) }).end(body);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

/** The direct source: answers `direct` and counts its opens. */
function direct(): RemoteSource & { opened: number } {
  const source = {
    opened: 0,
    open: async () => {
      source.opened++;
      return { body: Readable.from([Buffer.from('direct')]) };
    },
    probe: async () => undefined,
  };
  return source;
}

const request = (): RemoteRequest => ({
  uri: 's3://models/digits.onnx',
  settings: { endpoint: 'http://minio:9000', credentials: { s3: { accessKeyId: 'id', secretAccessKey: 'key' } } },
  signal: new AbortController().signal,
});

function logger() {
  const lines: { msg: string; fields?: Record<string, unknown> }[] = [];
  return {
    lines,
    info: (msg: string, fields?: Record<string, unknown>) => lines.push({ msg, fields }),
    warn: (msg: string, fields?: Record<string, unknown>) => lines.push({ msg, fields }),
  };
}

afterEach(() => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    s.close();
  }
});

it('streams the agent’s bytes and sends it the pod’s URI, digest, settings and credentials', async () => {
  const seen: unknown[] = [];
  const url = await agent(200, 'cached', seen);
  const d = direct();
  const log = logger();
  const object = await viaNodeCache({ agentUrl: url, sha256: SHA, timeoutSeconds: 60, log }, d).open(request());
  expect(await text(object.body)).toBe('cached');
  expect(object.bytes).toBe(6);
  expect(d.opened).toBe(0);
  expect(seen).toEqual([
    {
      uri: 's3://models/digits.onnx',
      sha256: SHA,
      settings: { endpoint: 'http://minio:9000' },
      credentials: { s3: { accessKeyId: 'id', secretAccessKey: 'key' } },
      timeoutSeconds: 60,
    },
  ]);
  expect(log.lines.map((l) => l.msg)).toEqual(['fetching the model through the node cache']);
  expect(JSON.stringify(log.lines)).not.toContain('key');
});

it.each([
  ['ModelAccessDenied', 403],
  ['ModelNotFound', 404],
  ['ModelDigestMismatch', 502],
])('takes the agent’s %s as final: no direct fetch', async (reason, status) => {
  const url = await agent(status, JSON.stringify({ error: 'fetch model s3://models/digits.onnx: refused', reason }));
  const d = direct();
  const failure = viaNodeCache({ agentUrl: url, sha256: SHA, log: logger() }, d).open(request());
  await expect(failure).rejects.toThrow(ModelLoadError);
  await expect(failure).rejects.toMatchObject({ reason });
  expect(d.opened).toBe(0);
});

it.each([
  ['its own failure (no reason)', 500, '{"error":"node cache: keep model: ENOSPC"}'],
  ['an answer that is not the agent’s', 502, '<html>bad gateway</html>'],
])('fetches directly after %s, logging it once', async (_what, status, body) => {
  const url = await agent(status, body);
  const d = direct();
  const log = logger();
  const source = viaNodeCache({ agentUrl: url, sha256: SHA, log }, d);
  expect(await text((await source.open(request())).body)).toBe('direct');
  expect(await text((await source.open(request())).body)).toBe('direct');
  expect(d.opened).toBe(2);
  expect(log.lines.map((l) => l.msg)).toEqual(['node cache agent failed; fetching the model directly']);
});
