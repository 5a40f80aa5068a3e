/**
 * The router's split, stickiness and route updates, end to end: real backends, the router as a
 * real process reading a routes file.
 */
import {
  byRevision,
  closeClient,
  load,
  request,
  routesFileWith,
  routesFor,
  startBackend,
  startReadyRouter,
  waitFor,
  writeAtomically,
  type Backend,
  type RouterProcess,
} from './harness.js';

let stable: Backend;
let canary: Backend;
let router: RouterProcess;
let routesFile: string;
/** Generous per-test deadline: a loaded 2-core machine runs these slowly; nothing here is timed. */
const LONG = 180_000;

beforeAll(async () => {
  stable = await startBackend('stable');
  canary = await startBackend('canary');
  routesFile = routesFileWith(
    routesFor(1, [
      [canary, 10],
      [stable, 90],
    ]),
  );
  router = await startReadyRouter({ MODELSHIP_ROUTES_FILE: routesFile });
}, LONG);

afterAll(async () => {
  expect(await router.stop()).toBe(0);
  await stable.close();
  await canary.close();
  closeClient();
});

const infer = (headers: Record<string, string> = {}) =>
  request(`${router.url}/v2/models/digits/infer`, {
    body: '{"inputs":[]}',
    headers: { 'content-type': 'application/json', ...headers },
  });

describe('weighted split', () => {
  it(
    'sends exactly 10% of 10,000 concurrent requests to the 10-weight revision',
    async () => {
      const before = { stable: stable.received.length, canary: canary.received.length };
      const replies = await load(10_000, 32, () => infer());
      expect(replies.every((r) => r.status === 200)).toBe(true);
      const counts = byRevision(replies);
      // The brief allows ±1.5 points; smooth weighted round-robin is exact.
      expect(Math.abs(counts.canary / 10_000 - 0.1)).toBeLessThanOrEqual(0.015);
      expect(counts).toEqual({ canary: 1000, stable: 9000 });
      // The header tells the truth: the backends saw the same numbers.
      expect(canary.received.length - before.canary).toBe(1000);
      expect(stable.received.length - before.stable).toBe(9000);
      // And the body each backend answered is the body the caller got.
      expect(replies.every((r) => r.json().backend === r.headers['x-modelship-revision'])).toBe(true);
    },
    LONG,
  );

  it(
    'forwards method, path, query and end-to-end headers, adds X-Forwarded-For',
    async () => {
      const from = { stable: stable.received.length, canary: canary.received.length };
      await load(10, 1, () =>
        request(`${router.url}/v1/models/digits:predict?x=1`, {
          body: 'abc',
          headers: { authorization: 'Bearer t', 'x-custom': 'v' },
        }),
      );
      const all = [...stable.received.slice(from.stable), ...canary.received.slice(from.canary)];
      expect(all).toHaveLength(10);
      for (const r of all) {
        expect(r).toMatchObject({ method: 'POST', url: '/v1/models/digits:predict?x=1' });
        expect(r.headers).toMatchObject({ authorization: 'Bearer t', 'x-custom': 'v', 'x-forwarded-for': '127.0.0.1' });
        expect(r.body.toString()).toBe('abc');
      }
    },
    LONG,
  );

  it(
    'exposes per-revision counts as Prometheus metrics and in /router/stats',
    async () => {
      const metrics = (await request(`${router.metricsUrl}/metrics`)).body.toString();
      expect(metrics).toMatch(/modelship_router_requests_total\{revision="canary",kind="live",outcome="2xx"\} \d+/);
      expect(metrics).toMatch(/modelship_router_route_weight\{revision="canary"\} 10/);
      const stats = (await request(`${router.metricsUrl}/router/stats`)).json<{
        routesGeneration: number;
        revisions: Record<string, { live: { requests: number; errors: number; latencyMs: { count: number } } }>;
      }>();
      expect(stats.routesGeneration).toBe(1);
      expect(stats.revisions.canary.live.requests).toBeGreaterThanOrEqual(1000);
      expect(stats.revisions.canary.live.errors).toBe(0);
      expect(stats.revisions.canary.live.latencyMs.count).toBe(stats.revisions.canary.live.requests);
    },
    LONG,
  );
});

describe('sticky routing', () => {
  it(
    'sends every request with the same header value to the same revision',
    async () => {
      writeAtomically(
        routesFile,
        JSON.stringify(
          routesFor(
            2,
            [
              [canary, 30],
              [stable, 70],
            ],
            { stickyHeader: 'X-User' },
          ),
        ),
      );
      await waitFor(
        'generation 2',
        async () => (await request(`${router.url}/v2/health/ready`)).json().generation === 2,
      );
      const seen = new Map<string, Set<string>>();
      for (let round = 0; round < 3; round++) {
        for (let u = 0; u < 200; u++) {
          const r = await infer({ 'x-user': `user-${u}` });
          const set = seen.get(`user-${u}`) ?? new Set<string>();
          set.add(String(r.headers['x-modelship-revision']));
          seen.set(`user-${u}`, set);
        }
      }
      expect([...seen.values()].every((s) => s.size === 1)).toBe(true);
      const onCanary = [...seen.values()].filter((s) => s.has('canary')).length;
      // 200 users hashed 30/70: both revisions get users, roughly in proportion.
      expect(onCanary).toBeGreaterThan(30);
      expect(onCanary).toBeLessThan(90);
      // Requests without the header still follow the exact split.
      expect(byRevision(await load(100, 4, () => infer()))).toEqual({ canary: 30, stable: 70 });
    },
    LONG,
  );
});

describe('route updates from the file', () => {
  it(
    'reaches the data path after a rewrite (rollback to 100% stable)',
    async () => {
      writeAtomically(
        routesFile,
        JSON.stringify(
          routesFor(3, [
            [canary, 0],
            [stable, 100],
          ]),
        ),
      );
      await waitFor('all traffic on stable', async () => {
        const replies = await load(20, 4, () => infer());
        return byRevision(replies).stable === 20;
      });
      expect(byRevision(await load(500, 8, () => infer()))).toEqual({ stable: 500 });
    },
    LONG,
  );

  it(
    'keeps the last good routes when the document is invalid, and says why',
    async () => {
      writeAtomically(
        routesFile,
        JSON.stringify({
          ...routesFor(4, [
            [canary, 50],
            [stable, 50],
          ]),
          revisions: [{ name: 'canary', url: 'ftp://x', weight: 50 }],
        }),
      );
      await waitFor('the rejection in the log', () =>
        router.output().includes('revisions[0].url: must be an http:// URL'),
      );
      expect(router.output()).toContain('keeping generation 3');
      expect(byRevision(await load(200, 8, () => infer()))).toEqual({ stable: 200 });
      writeAtomically(routesFile, '{"version": 1, "generation": 5, "revisions": [');
      await waitFor('the JSON rejection in the log', () => router.output().includes('routes: invalid JSON'));
      expect((await request(`${router.url}/v2/health/ready`)).json()).toEqual({ ready: true, generation: 3 });
      expect(byRevision(await load(200, 8, () => infer()))).toEqual({ stable: 200 });
      const metrics = (await request(`${router.metricsUrl}/metrics`)).body.toString();
      expect(metrics).toMatch(/modelship_router_routes_updates_total\{result="rejected"\} 2/);
    },
    LONG,
  );
});
