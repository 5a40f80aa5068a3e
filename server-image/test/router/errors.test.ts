/**
 * Failures the caller can see: no routes (503 and not ready), unreachable backend (502), slow
 * backend (504), each as JSON {error} naming the revision; and a graceful shutdown that finishes
 * in-flight requests.
 */
import type http from 'node:http';
import path from 'node:path';
import {
  closeClient,
  closedPort,
  request,
  routesFileWith,
  routesFor,
  startBackend,
  startReadyRouter,
  startRouter,
  tempDir,
  waitFor,
  writeAtomically,
  type Backend,
} from './harness.js';

const LONG = 180_000;
const held: http.ServerResponse[] = [];
let ok: Backend;
let hanging: Backend;

beforeAll(async () => {
  ok = await startBackend('ok');
  hanging = await startBackend('hanging', (_req, _body, res) => void held.push(res));
});

afterAll(async () => {
  for (const res of held) res.destroy();
  await ok.close();
  await hanging.close();
  closeClient();
});

it(
  'is not ready and answers 503 until a valid routes document arrives',
  async () => {
    const file = path.join(tempDir(), 'routes.json');
    const router = await startRouter({ MODELSHIP_ROUTES_FILE: file });
    try {
      const ready = await request(`${router.url}/v2/health/ready`);
      expect(ready.status).toBe(503);
      expect(ready.json()).toEqual({ ready: false, error: 'no routes loaded yet' });
      expect((await request(`${router.url}/v2/health/live`)).status).toBe(200);
      const reply = await request(`${router.url}/v2/models/m/infer`, { body: '{}' });
      expect(reply.status).toBe(503);
      expect(reply.headers['content-type']).toBe('application/json');
      expect(reply.json().error).toMatch(/no routes loaded yet/);

      writeAtomically(file, '{"version": 1, "generation": 1, "revisions": []}');
      await waitFor('the rejection in the log', () =>
        router.output().includes('revisions: must be a non-empty array; no routes in force yet'),
      );
      expect((await request(`${router.url}/v2/health/ready`)).status).toBe(503);

      writeAtomically(file, JSON.stringify(routesFor(2, [[ok, 1]])));
      await waitFor('ready', async () => (await request(`${router.url}/v2/health/ready`)).status === 200);
      const served = await request(`${router.url}/v2/models/m/infer`, { body: '{}' });
      expect(served.status).toBe(200);
      expect(served.headers['x-modelship-revision']).toBe('ok');
    } finally {
      expect(await router.stop()).toBe(0);
    }
  },
  LONG,
);

it(
  'answers 502 for an unreachable revision and 504 for one that does not answer in time',
  async () => {
    const port = await closedPort();
    const file = routesFileWith({
      version: 1,
      generation: 1,
      revisions: [{ name: 'gone', url: `http://127.0.0.1:${port}`, weight: 1 }],
    });
    const router = await startReadyRouter({ MODELSHIP_ROUTES_FILE: file, MODELSHIP_ROUTER_TIMEOUT_MS: '300' });
    try {
      const refused = await request(`${router.url}/v2/models/m/infer`, { body: '{}' });
      expect(refused.status).toBe(502);
      expect(refused.headers['content-type']).toBe('application/json');
      expect(refused.headers['x-modelship-revision']).toBe('gone');
      // Refused connections are resent, but the 300 ms timeout caps the connect-retry budget, so the
      // 502 still comes well before the 504 below, naming the attempts made.
      expect(refused.json().error).toMatch(
        /^revision gone \(127\.0\.0\.1:\d+\) unreachable: .*ECONNREFUSED.* \(\d+ connect attempts over \d+ ms\)$/,
      );

      writeAtomically(file, JSON.stringify(routesFor(2, [[hanging, 1]])));
      await waitFor(
        'generation 2',
        async () => (await request(`${router.url}/v2/health/ready`)).json().generation === 2,
      );
      const slow = await request(`${router.url}/v2/models/m/infer`, { body: '{}' });
      expect(slow.status).toBe(504);
      expect(slow.json()).toEqual({ error: 'revision hanging did not answer within 300 ms' });

      const stats = (await request(`${router.metricsUrl}/router/stats`)).json<{
        revisions: Record<string, { live: { requests: number; errors: number; codes: Record<string, number> } }>;
      }>();
      expect(stats.revisions.gone.live).toMatchObject({ requests: 1, errors: 1, codes: { unreachable: 1 } });
      expect(stats.revisions.hanging.live).toMatchObject({ requests: 1, errors: 1, codes: { timeout: 1 } });
      // The router is still healthy after all that.
      expect((await request(`${router.url}/v2/health/ready`)).status).toBe(200);
    } finally {
      expect(await router.stop()).toBe(0);
    }
  },
  LONG,
);

it(
  'passes backend 5xx through as they are and counts them as errors',
  async () => {
    const failing = await startBackend('failing', (_req, _body, res) =>
      res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"model exploded"}'),
    );
    const file = routesFileWith(routesFor(1, [[failing, 1]]));
    const router = await startReadyRouter({ MODELSHIP_ROUTES_FILE: file });
    try {
      const reply = await request(`${router.url}/v2/models/m/infer`, { body: '{}' });
      expect(reply.status).toBe(500);
      expect(reply.json()).toEqual({ error: 'model exploded' });
      const metrics = (await request(`${router.metricsUrl}/metrics`)).body.toString();
      expect(metrics).toMatch(/modelship_router_errors_total\{revision="failing",kind="live"\} 1/);
    } finally {
      expect(await router.stop()).toBe(0);
      await failing.close();
    }
  },
  LONG,
);

it(
  'drains in-flight requests on SIGTERM before exiting',
  async () => {
    const file = routesFileWith(routesFor(1, [[hanging, 1]]));
    const router = await startReadyRouter({ MODELSHIP_ROUTES_FILE: file });
    const before = held.length;
    const pending = request(`${router.url}/v2/models/m/infer`, { body: '{}' });
    await waitFor('the request at the backend', () => held.length === before + 1);
    router.child.kill('SIGTERM');
    await waitFor('shutdown to begin', () => router.output().includes('"shutting down"'));
    expect(router.child.exitCode).toBeNull();
    const text = JSON.stringify({ backend: 'hanging' });
    held[before].writeHead(200, { 'content-type': 'application/json' }).end(text);
    const reply = await pending;
    expect(reply.status).toBe(200);
    expect(reply.json()).toEqual({ backend: 'hanging' });
    expect(await router.stop()).toBe(0);
  },
  LONG,
);
