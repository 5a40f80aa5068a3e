/**
 * The load meter end to end: a router process in front of a backend that keeps requests open until
 * the test lets them go, so the concurrency is known exactly, whatever the machine's speed. The
 * stats' `load` (in flight, the busy-ms integral) and the Prometheus gauges must show it.
 */
import type http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { meanConcurrency, type RouterStatsDocument } from '../../../contract/stats.js';
import {
  closeClient,
  request,
  routesFileWith,
  routesFor,
  startBackend,
  startReadyRouter,
  waitFor,
  type Backend,
  type Reply,
  type RouterProcess,
} from './harness.js';

const LONG = 180_000;
const CONCURRENCY = 4;

let router: RouterProcess;
let slow: Backend;
const open: http.ServerResponse[] = [];

beforeAll(async () => {
  slow = await startBackend('slow', (_req, _body, res) => void open.push(res));
  router = await startReadyRouter({ MODELSHIP_ROUTES_FILE: routesFileWith(routesFor(1, [[slow, 1]])) });
}, LONG);

afterAll(async () => {
  for (const res of open) res.destroy();
  expect(await router.stop()).toBe(0);
  await slow.close();
  closeClient();
}, LONG);

const stats = async () => (await request(`${router.metricsUrl}/router/stats`)).json<RouterStatsDocument>();

it(
  'shows a routed revision that has had no request as idle (zero load), not as one without figures',
  async () => {
    const before = await stats();
    expect(before.revisions.slow.live.requests).toBe(0);
    expect(before.revisions.slow.load).toEqual({ inFlight: 0, held: 0, busyMs: 0, heldTotal: 0, heldRefused: 0 });
  },
  LONG,
);

it(
  'counts the requests in flight and integrates them over time into a mean concurrency',
  async () => {
    const replies: Promise<Reply>[] = [];
    for (let i = 0; i < CONCURRENCY; i++) replies.push(request(`${router.url}/v2/models/m/infer`, { body: '{}' }));
    await waitFor('every request at the backend', () => open.length === CONCURRENCY);

    const earlier = await stats();
    expect(earlier.revisions.slow.load).toMatchObject({ inFlight: CONCURRENCY, held: 0 });
    const gauge = (await request(`${router.metricsUrl}/metrics`)).body.toString().split('\n');
    expect(gauge).toContain(`modelship_router_in_flight{revision="slow"} ${CONCURRENCY}`);
    expect(gauge).toContain('modelship_router_held{revision="slow"} 0');

    // A window long enough for the clocks' resolution; nothing is asserted about its length.
    await sleep(500);
    const later = await stats();
    // Exactly CONCURRENCY in flight throughout the window; the bounds only absorb clock rounding.
    const during = meanConcurrency(later, earlier, 'slow');
    expect(during).toBeGreaterThan(CONCURRENCY / 2);
    expect(during).toBeLessThan(CONCURRENCY + 0.5);

    for (const res of open.splice(0)) res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    expect((await Promise.all(replies)).map((r) => r.status)).toEqual(replies.map(() => 200));
    await waitFor('the requests to finish', async () => (await stats()).revisions.slow.load?.inFlight === 0);

    // Idle: the integral stops growing.
    const idle = await stats();
    await sleep(200);
    expect(meanConcurrency(await stats(), idle, 'slow')).toBe(0);
    expect(idle.revisions.slow.live).toMatchObject({ requests: CONCURRENCY, errors: 0 });
  },
  LONG,
);
