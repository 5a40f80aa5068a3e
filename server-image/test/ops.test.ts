/**
 * Operations: bearer-token auth (open probes, 401s, token rotation without restart, tokens never
 * logged) and the Prometheus metrics on their own port.
 */
import { jest } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FIXTURES, getJson, postJson, sha256Of, startServer, until, type ServerProcess } from './helpers/server.js';

jest.setTimeout(180_000);

const TINY = path.join(FIXTURES, 'tiny.onnx');
const request = { inputs: [{ name: 'input', datatype: 'FP32', shape: [1, 4], data: [5.1, 3.5, 1.4, 0.2] }] };

describe('bearer-token auth', () => {
  const tokenFile = path.join(mkdtempSync(path.join(tmpdir(), 'modelship-auth-')), 'tokens');
  const first = 'tok-first-7d1b2c';
  const second = 'tok-second-90aa1e';
  const rotated = 'tok-rotated-5f03e2';
  let server: ServerProcess;

  beforeAll(async () => {
    writeFileSync(tokenFile, `# inference clients\n${first}\n${second}\n`);
    server = await startServer({
      model: TINY,
      env: { MODELSHIP_AUTH_TOKEN_FILE: tokenFile, MODELSHIP_LOG_LEVEL: 'debug' },
    });
  });
  afterAll(async () => {
    await server?.stop();
  });

  const infer = (token?: string) =>
    postJson(
      `${server.url}/v2/models/tiny/infer`,
      request,
      token === undefined ? {} : { authorization: `Bearer ${token}` },
    );

  it('401 with WWW-Authenticate without a token', async () => {
    const res = await infer();
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="modelship"');
    expect(res.body).toEqual({ error: expect.stringMatching(/missing bearer token/) });
  });

  it('401 with a wrong token, a prefix of a right one, or another scheme', async () => {
    for (const header of [
      `Bearer wrong`,
      `Bearer ${first.slice(0, -1)}`,
      `Basic ${Buffer.from(first).toString('base64')}`,
    ]) {
      const res = await postJson(`${server.url}/v2/models/tiny/infer`, request, { authorization: header });
      expect([header, res.status]).toEqual([header, 401]);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="modelship", error="invalid_token"$/);
    }
  });

  it('200 with either right token, on both protocols', async () => {
    expect((await infer(first)).status).toBe(200);
    expect((await infer(second)).status).toBe(200);
    const v1 = await postJson(
      `${server.url}/v1/models/tiny:predict`,
      { instances: [[5.1, 3.5, 1.4, 0.2]] },
      { authorization: `Bearer ${second}` },
    );
    expect(v1.status).toBe(200);
  });

  it('keeps probes open and metadata closed', async () => {
    for (const p of [
      '/',
      '/v2/health/live',
      '/v2/health/ready',
      '/v2/models/tiny/ready',
      '/v2/models/tiny/versions/1/ready',
      '/v1/models/tiny',
    ]) {
      expect([p, (await getJson(`${server.url}${p}`)).status]).toEqual([p, 200]);
    }
    for (const p of ['/v2', '/v2/models/tiny', '/v1/models'])
      expect([p, (await getJson(`${server.url}${p}`)).status]).toEqual([p, 401]);
    expect(await getJson(`${server.url}/v1/models`, { authorization: `Bearer ${first}` })).toEqual(
      expect.objectContaining({ status: 200, body: { models: ['tiny'] } }),
    );
    expect((await fetch(`${server.metricsUrl}/metrics`)).status).toBe(200);
  });

  it('picks up a rotated token file without a restart', async () => {
    writeFileSync(tokenFile, `${rotated}\n`);
    // Each serving process watches the file itself: one may take the new token a moment before
    // the other, so wait for both answers rather than assume which process answers next.
    await until('the rotated token accepted and the old one refused', async () =>
      (await infer(rotated)).status === 200 && (await infer(first)).status === 401 ? true : undefined,
    );
  });

  it('never writes a token to its logs', () => {
    const text = JSON.stringify(server.logs) + server.stderr();
    expect(server.logs.some((l) => l.msg === 'request')).toBe(true);
    for (const token of [first, second, rotated]) expect(text).not.toContain(token);
  });
});

describe('metrics', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServer({ model: TINY });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('counts requests by route and code, latency, batches, queue, in-flight, load time and model info', async () => {
    for (let i = 0; i < 3; i++)
      expect((await postJson(`${server.url}/v2/models/tiny/infer`, request)).status).toBe(200);
    expect((await postJson(`${server.url}/v2/models/tiny/infer`, '{')).status).toBe(400);
    const res = await fetch(`${server.metricsUrl}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    const value = (series: string): number =>
      Number(
        text
          .split('\n')
          .find((l) => l.startsWith(series + ' '))
          ?.split(' ')[1],
      );
    expect(value('modelship_http_requests_total{route="v2_infer",code="200"}')).toBe(3);
    expect(value('modelship_http_requests_total{route="v2_infer",code="400"}')).toBe(1);
    expect(value('modelship_http_request_duration_seconds_count{route="v2_infer"}')).toBe(4);
    expect(value('modelship_batch_size_count')).toBeGreaterThanOrEqual(3);
    expect(value('modelship_inference_duration_seconds_count')).toBeGreaterThanOrEqual(3);
    expect(value('modelship_queue_depth')).toBe(0);
    expect(value('modelship_http_requests_in_flight')).toBe(0);
    expect(value('modelship_model_load_seconds')).toBeGreaterThan(0);
    // The load's steps after the fetch: each ran, and together they fit inside the whole load.
    const steps = ['read', 'session', 'warmup'].map((step) =>
      value(`modelship_model_load_step_seconds{step="${step}"}`),
    );
    for (const s of steps) expect(s).toBeGreaterThan(0);
    expect(steps.reduce((a, b) => a + b)).toBeLessThanOrEqual(value('modelship_model_load_seconds'));
    expect(value(`modelship_model_info{name="tiny",version="1",sha256="${sha256Of(TINY)}"}`)).toBe(1);
    expect(value('modelship_ready')).toBe(1);
    expect(value('modelship_process_cpu_seconds_total')).toBeGreaterThan(0);
  });

  it('serves metrics only on the metrics port', async () => {
    expect((await getJson(`${server.url}/metrics`)).status).toBe(404);
    expect((await getJson(`${server.metricsUrl}/other`)).status).toBe(404);
  });
});
