/**
 * One download per node: the node cache agent and model servers as real processes on loopback, one
 * http:// model on an origin that requires Basic auth and counts what reaches it.
 */
import { jest } from '@jest/globals';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FIXTURES, getJson, sha256Of, startServer, until, type ServerProcess } from '../helpers/server.js';
import { metric, startAgent, startOrigin, type Origin } from './harness.js';

jest.setTimeout(240_000);

const MLP = path.join(FIXTURES, 'mlp.onnx');
const TINY = path.join(FIXTURES, 'tiny.onnx');
const USER = 'models';
const PASSWORD = 'Pa55-n0t-in-any-log';

let origin: Origin;
const running: ServerProcess[] = [];

/** Track a process so that afterEach stops it whatever the test's outcome. */
async function track(started: Promise<ServerProcess>): Promise<ServerProcess> {
  const p = await started;
  running.push(p);
  return p;
}

/** A model server for the origin's mlp.onnx through the agent at `agentUrl`. */
function startModelServer(agentUrl: string, uri = origin.uri('mlp.onnx'), ready = true): Promise<ServerProcess> {
  return track(
    startServer({
      model: MLP,
      env: { MODELSHIP_MODEL_URI: uri, MODELSHIP_NODE_CACHE_URL: agentUrl, MODELSHIP_PROCESSES: '1' },
      ready,
    }),
  );
}

/** POST a models-route request to the agent. */
function ask(agent: ServerProcess, uri: string, sha256 = sha256Of(MLP)): Promise<Response> {
  return fetch(`${agent.url}/v1/models`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ uri, sha256 }),
  });
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Everything the agent wrote, as text: it must hold no credential. */
function agentText(agent: ServerProcess): string {
  return JSON.stringify(agent.logs) + agent.stderr();
}

function expectNoCredential(text: string): void {
  expect(text).not.toContain(PASSWORD);
  expect(text).not.toContain('wrong-password');
  expect(text).not.toContain(Buffer.from(`${USER}:${PASSWORD}`).toString('base64'));
}

beforeEach(async () => {
  origin = await startOrigin({ 'mlp.onnx': MLP, 'tiny.onnx': TINY, 'copy-of-mlp.onnx': MLP }, USER, PASSWORD);
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop()));
  await origin.close();
});

it('serves three pods of one model with one download; a fourth with wrong credentials is refused though it is cached', async () => {
  const agent = await track(startAgent(mkdtempSync(path.join(tmpdir(), 'modelship-nodecache-'))));
  const servers = await Promise.all([1, 2, 3].map(() => startModelServer(agent.url)));
  for (const server of servers) {
    const { status, body } = await getJson(`${server.url}/v2/models/mlp`);
    expect(status).toBe(200);
    expect(body.name).toBe('mlp');
    expect(server.logs).toContainEqual(expect.objectContaining({ msg: 'fetching the model through the node cache' }));
  }
  expect(origin.count('GET', 'mlp.onnx')).toBe(1);
  expect(await metric(agent.metricsUrl, 'modelship_cache_downloads_total')).toBe(1);
  expect(await metric(agent.metricsUrl, 'modelship_cache_served_bytes_total')).toBe(3 * readFileSync(MLP).length);

  const intruder = await startModelServer(agent.url, origin.uri('mlp.onnx', USER, 'wrong-password'), false);
  const { code } = await intruder.exited;
  expect(code).not.toBe(0);
  expect(readFileSync(intruder.terminationLog, 'utf8')).toMatch(/^ModelAccessDenied: /);
  expect(origin.count('GET', 'mlp.onnx')).toBe(1);
  expect(await metric(agent.metricsUrl, 'modelship_cache_requests_total', '{outcome="ModelAccessDenied"}')).toBe(1);
  expectNoCredential(agentText(agent));
});

it('loads the model directly when no agent answers on the node', async () => {
  const closed = net.createServer();
  await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
  const port = (closed.address() as net.AddressInfo).port;
  await new Promise((resolve) => closed.close(resolve));

  const server = await startModelServer(`http://127.0.0.1:${port}`);
  expect((await getJson(`${server.url}/v2/models/mlp`)).status).toBe(200);
  expect(origin.count('GET', 'mlp.onnx')).toBe(1);
  expect(server.logs).toContainEqual(
    expect.objectContaining({ msg: 'node cache agent unreachable; fetching the model directly' }),
  );
});

it('shares one download among concurrent requests for a digest, each receiving the verified bytes', async () => {
  const agent = await track(startAgent(mkdtempSync(path.join(tmpdir(), 'modelship-nodecache-'))));
  origin.hold();
  const answers = [1, 2, 3, 4, 5].map(() => ask(agent, origin.uri('mlp.onnx')));
  await until('the agent to download', async () => (origin.count('GET', 'mlp.onnx') > 0 ? true : undefined));
  origin.release();
  const responses = await Promise.all(answers);
  for (const res of responses) {
    expect(res.status).toBe(200);
    expect(res.headers.get('x-modelship-sha256')).toBe(sha256Of(MLP));
    expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(sha256Of(MLP));
  }
  expect(origin.count('GET', 'mlp.onnx')).toBe(1);
  expect(responses.map((r) => r.headers.get('x-modelship-cache')).sort()).toEqual(['hit', 'hit', 'hit', 'hit', 'miss']);
});

it('keeps its cache across a restart, re-hashing a copy before serving it, and downloads again one that changed on disk', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'modelship-nodecache-'));
  const first = await track(startAgent(dir));
  expect((await ask(first, origin.uri('mlp.onnx'))).status).toBe(200);
  expect((await ask(first, origin.uri('tiny.onnx'), sha256Of(TINY))).status).toBe(200);
  await first.stop();

  // One copy corrupted while no agent ran: it must be found out, never served.
  const tinyFile = path.join(dir, `sha256-${sha256Of(TINY)}.onnx`);
  writeFileSync(tinyFile, Buffer.concat([readFileSync(tinyFile), Buffer.from('tampered')]));
  const second = await track(startAgent(dir));
  expect(second.logs).toContainEqual(expect.objectContaining({ msg: 'cache directory scanned', models: 2 }));
  const kept = await ask(second, origin.uri('mlp.onnx'));
  expect(kept.headers.get('x-modelship-cache')).toBe('hit');
  expect(sha256(Buffer.from(await kept.arrayBuffer()))).toBe(sha256Of(MLP));
  expect(origin.count('GET', 'mlp.onnx')).toBe(1);

  const changed = await ask(second, origin.uri('tiny.onnx'), sha256Of(TINY));
  expect(changed.headers.get('x-modelship-cache')).toBe('miss');
  expect(sha256(Buffer.from(await changed.arrayBuffer()))).toBe(sha256Of(TINY));
  expect(origin.count('GET', 'tiny.onnx')).toBe(2);
  expect(second.logs).toContainEqual(expect.objectContaining({ msg: 'cached model changed on disk; deleting it' }));
});

it('serves a cached digest only from the source it was verified from: another object with that digest is downloaded and checked', async () => {
  const agent = await track(startAgent(mkdtempSync(path.join(tmpdir(), 'modelship-nodecache-'))));
  expect((await ask(agent, origin.uri('mlp.onnx'))).status).toBe(200);

  // An object the requester may read, claiming the cached model's digest: its own bytes decide.
  const claim = await ask(agent, origin.uri('tiny.onnx'));
  expect(claim.status).toBe(502);
  expect(await claim.json()).toMatchObject({ reason: 'ModelDigestMismatch' });

  const copy = await ask(agent, origin.uri('copy-of-mlp.onnx'));
  expect(copy.status).toBe(200);
  expect(copy.headers.get('x-modelship-cache')).toBe('miss');
  await copy.arrayBuffer();
  expect(origin.count('GET', 'copy-of-mlp.onnx')).toBe(1);
  expectNoCredential(agentText(agent));
});

it('refuses a request without a sha256, and answers a missing object with ModelNotFound', async () => {
  const agent = await track(startAgent(mkdtempSync(path.join(tmpdir(), 'modelship-nodecache-'))));
  const unpinned = await fetch(`${agent.url}/v1/models`, {
    method: 'POST',
    body: JSON.stringify({ uri: origin.uri('mlp.onnx') }),
  });
  expect(unpinned.status).toBe(400);
  expect(((await unpinned.json()) as { error: string }).error).toMatch(/sha256 is required/);

  const missing = await ask(agent, origin.uri('nothing.onnx'));
  expect(missing.status).toBe(404);
  expect(await missing.json()).toMatchObject({ reason: 'ModelNotFound' });
  expect(origin.count('GET', 'mlp.onnx')).toBe(0);
});

it('evicts the least recently used model over its size limit, and keeps nothing unverified', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'modelship-nodecache-'));
  const agent = await track(startAgent(dir, { MODELSHIP_CACHE_MAX_BYTES: String(readFileSync(MLP).length + 100) }));
  await (await ask(agent, origin.uri('tiny.onnx'), sha256Of(TINY))).arrayBuffer();
  await (await ask(agent, origin.uri('mlp.onnx'))).arrayBuffer();
  await until('the eviction', async () =>
    readdirSync(dir).some((f) => f.includes(sha256Of(TINY))) ? undefined : true,
  );
  expect(readdirSync(dir).filter((f) => f.endsWith('.onnx'))).toEqual([`sha256-${sha256Of(MLP)}.onnx`]);
  expect(await metric(agent.metricsUrl, 'modelship_cache_evictions_total')).toBe(1);

  expect((await ask(agent, origin.uri('tiny.onnx'), 'f'.repeat(64))).status).toBe(502);
  expect(readdirSync(path.join(dir, '.staging'))).toEqual([]);
});
