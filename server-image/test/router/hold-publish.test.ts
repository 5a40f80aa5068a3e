/**
 * A router publishes its stats at once when a revision's first request is held, not at its next
 * interval, so the operator can start the revision within a watch event. The router runs with its
 * ConfigMap source against a stand-in for the API server on loopback (the routes ConfigMap, a watch
 * that stays quiet, and the stats ConfigMap's merge patches), with a publishing interval of an hour:
 * only the immediate publish can write the held request within the test.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { once } from 'node:events';
import { STATS_INTERVAL_MS } from '../../../contract/routes.js';
import type { RouterStatsDocument } from '../../../contract/stats.js';
import {
  closeClient,
  request,
  startBackend,
  startRouter,
  tempDir,
  waitFor,
  type Backend,
  type RouterProcess,
} from './harness.js';

const LONG = 180_000;
const NS = 'ml';
const ROUTES = 'digits-routes';
const STATS = 'digits-routes-stats';
const POD = 'router-test';

let api: http.Server;
let backend: Backend;
let router: RouterProcess;
/** The stats documents the router patched in, in order. */
const published: RouterStatsDocument[] = [];

/** Answers what the router asks of the API server: its routes, a watch on them, stats patches. */
function apiServer(routesJson: string): http.Server {
  const configMap = (name: string, data: Record<string, string>) => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace: NS, resourceVersion: '1' },
    data,
  });
  return http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://api');
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const reply = (status: number, body: unknown) =>
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (req.method === 'GET' && url.pathname === `/api/v1/namespaces/${NS}/configmaps/${ROUTES}`) {
        return reply(200, configMap(ROUTES, { 'routes.json': routesJson }));
      }
      if (req.method === 'GET' && url.pathname === `/api/v1/namespaces/${NS}/configmaps`) {
        // The watch: open, and nothing changes.
        res.writeHead(200, { 'content-type': 'application/json' });
        res.flushHeaders();
        return;
      }
      if (req.method === 'PATCH' && url.pathname === `/api/v1/namespaces/${NS}/configmaps/${STATS}`) {
        const data = (JSON.parse(Buffer.concat(chunks).toString()) as { data: Record<string, string> }).data;
        published.push(JSON.parse(data[`${POD}.json`]) as RouterStatsDocument);
        return reply(200, configMap(STATS, data));
      }
      reply(404, { kind: 'Status', code: 404, message: `not here: ${req.method} ${url.pathname}` });
    });
  });
}

beforeAll(async () => {
  backend = await startBackend('cold');
  const routes = JSON.stringify({
    version: 1,
    generation: 1,
    revisions: [{ name: 'cold', url: backend.url, weight: 1, hold: true }],
    statsIntervalMs: STATS_INTERVAL_MS.max,
  });
  api = apiServer(routes);
  api.listen(0, '127.0.0.1');
  await once(api, 'listening');
  const kubeconfig = path.join(tempDir(), 'kubeconfig');
  const server = `http://127.0.0.1:${(api.address() as { port: number }).port}`;
  fs.writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      // client-node speaks plain HTTP only with TLS verification off (there is no TLS to verify).
      clusters: [{ name: 'stand-in', cluster: { server, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'router', user: { token: 'test' } }],
      contexts: [{ name: 'stand-in', context: { cluster: 'stand-in', user: 'router' } }],
      'current-context': 'stand-in',
    }),
  );
  router = await startRouter({
    KUBECONFIG: kubeconfig,
    MODELSHIP_NAMESPACE: NS,
    MODELSHIP_ROUTES_CONFIGMAP: ROUTES,
    MODELSHIP_STATS_INTERVAL_MS: String(STATS_INTERVAL_MS.max),
    // The held requests are answered 503 when the drain's time is up at the end.
    MODELSHIP_SHUTDOWN_TIMEOUT_MS: '200',
  });
  await waitFor('router ready', async () => (await request(`${router.url}/v2/health/ready`)).status === 200).catch(
    (err: Error) => {
      throw new Error(`${err.message}; router log: ${router.output()}`);
    },
  );
}, LONG);

afterAll(async () => {
  expect(await router.stop()).toBe(0);
  await backend.close();
  api.closeAllConnections();
  api.close();
  closeClient();
}, LONG);

it(
  "publishes its stats at once when a revision's first request is held",
  async () => {
    expect(published).toHaveLength(0);
    const reply = request(`${router.url}/v2/models/m/infer`, { body: '{}' });
    const doc = await waitFor('the stats with the held request', () =>
      published.find((d) => d.revisions.cold?.load?.held === 1),
    );
    expect(doc).toMatchObject({ pod: POD, routesGeneration: 1 });
    expect(doc.revisions.cold.load).toMatchObject({ inFlight: 1, held: 1, heldTotal: 1 });
    // The caller is still waiting: nothing has answered it.
    expect(await Promise.race([reply.then(() => 'answered'), Promise.resolve('waiting')])).toBe('waiting');
    // One publish for the 0 → 1 change, not one per held request.
    const count = published.length;
    const second = request(`${router.url}/v2/models/m/infer`, { body: '{}' });
    await waitFor('the second request held', async () => {
      const stats = (await request(`${router.metricsUrl}/router/stats`)).json<RouterStatsDocument>();
      return stats.revisions.cold?.load?.held === 2;
    });
    expect(published).toHaveLength(count);
    void reply.catch(() => undefined);
    void second.catch(() => undefined);
  },
  LONG,
);
