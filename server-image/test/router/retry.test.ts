/**
 * Connect retries end to end: a live request to a revision whose connection is refused is sent
 * again until the backend listens (the caller sees only the answer) or the budget runs out (a 502
 * naming the attempts); a streamed body is never resent. Outcomes and counts only, no durations.
 */
import http from 'node:http';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  closeClient,
  closedPort,
  request,
  routesFileWith,
  startBackend,
  startRouter,
  tempDir,
  waitFor,
  writeAtomically,
  type Backend,
  type RouterProcess,
} from './harness.js';

const LONG = 180_000;
/** How late the backend starts listening: about kube-proxy's lag behind a pod turning ready. */
const LATE_MS = 300;

interface Stats {
  revisions: Record<string, { live: { requests: number; errors: number; codes: Record<string, number> } }>;
}

let router: RouterProcess;
let routesFile: string;
let late: Backend | undefined;

beforeAll(async () => {
  routesFile = path.join(tempDir(), 'routes.json');
  // Not ready until routes arrive; the tests put their own revision in force.
  router = await startRouter({ MODELSHIP_ROUTES_FILE: routesFile });
}, LONG);

afterAll(async () => {
  expect(await router.stop()).toBe(0);
  await late?.close();
  closeClient();
}, LONG);

/** Puts one revision at `port` in force and waits until the router serves that generation. */
async function route(generation: number, name: string, port: number): Promise<void> {
  writeAtomically(
    routesFile,
    JSON.stringify({ version: 1, generation, revisions: [{ name, url: `http://127.0.0.1:${port}`, weight: 1 }] }),
  );
  await waitFor(`generation ${generation}`, async () => {
    const ready = await request(`${router.url}/v2/health/ready`);
    return ready.status === 200 && ready.json().generation === generation;
  });
}

const stats = async () => (await request(`${router.metricsUrl}/router/stats`)).json<Stats>();

/** The connect-retry counter of `revision` as scraped (0 before its first retry). */
async function retries(revision: string): Promise<number> {
  const text = (await request(`${router.metricsUrl}/metrics`)).body.toString();
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`modelship_router_connect_retries_total{revision="${revision}"} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

it(
  'resends a request until the backend listens, and the caller sees only its answer',
  async () => {
    const port = await closedPort();
    await route(1, 'late', port);
    const body = JSON.stringify({ inputs: [{ name: 'x', datatype: 'FP32', shape: [1], data: [1] }] });
    const answer = '{"model_name":"late","outputs":[]}';
    const sentAt = Date.now();
    const pending = request(`${router.url}/v2/models/m/infer`, { body });
    // The request has arrived and been refused at least once before anything listens.
    await waitFor('the first connect retry', async () => (await retries('late')) > 0);
    await sleep(Math.max(0, LATE_MS - (Date.now() - sentAt)));
    late = await startBackend(
      'late',
      (_req, _body, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(answer),
      port,
    );

    const reply = await pending;
    expect(reply.status).toBe(200);
    expect(reply.headers['x-modelship-revision']).toBe('late');
    expect(reply.body.toString()).toBe(answer);
    // Only the attempt that connected reached the backend, with the caller's body.
    expect(late.received.map((r) => r.body.toString())).toEqual([body]);
    // One request, one 2xx: the refused attempts are no errors for analysis.
    expect((await stats()).revisions.late.live).toMatchObject({ requests: 1, errors: 0, codes: { '2xx': 1 } });
    expect(await retries('late')).toBeGreaterThan(0);
  },
  LONG,
);

it(
  'answers 502 naming the attempts once the budget is spent on a revision that never listens',
  async () => {
    await route(2, 'never', await closedPort());
    const reply = await request(`${router.url}/v2/models/m/infer`, { body: '{}' });
    expect(reply.status).toBe(502);
    expect(reply.headers['x-modelship-revision']).toBe('never');
    const error = reply.json<{ error: string }>().error;
    expect(error).toMatch(
      /^revision never \(127\.0\.0\.1:\d+\) unreachable: .*ECONNREFUSED.* \(\d+ connect attempts over \d+ ms\)$/,
    );
    const attempts = Number(/\((\d+) connect attempts/.exec(error)?.[1]);
    expect(attempts).toBeGreaterThan(1);
    // Every attempt after the first is one retry; the request is one error, counted once.
    expect(await retries('never')).toBe(attempts - 1);
    expect((await stats()).revisions.never.live).toMatchObject({ requests: 1, errors: 1, codes: { unreachable: 1 } });
  },
  LONG,
);

it(
  'never resends a streamed body',
  async () => {
    await route(3, 'streamed', await closedPort());
    // Chunked: the router streams it to the backend instead of buffering it, so it cannot replay it.
    const reply = await request(`${router.url}/v2/models/m/infer`, {
      body: '{"inputs":[]}',
      headers: { 'transfer-encoding': 'chunked' },
    });
    expect(reply.status).toBe(502);
    expect(reply.json<{ error: string }>().error).toMatch(/ECONNREFUSED.* \(1 connect attempt over \d+ ms\)$/);
    expect(await retries('streamed')).toBe(0);
    expect((await stats()).revisions.streamed.live).toMatchObject({
      requests: 1,
      errors: 1,
      codes: { unreachable: 1 },
    });
  },
  LONG,
);

it(
  'stops resending when the caller goes away',
  async () => {
    await route(4, 'abandoned', await closedPort());
    const req = http.request(`${router.url}/v2/models/m/infer`, { method: 'POST', headers: { 'content-length': 2 } });
    req.on('error', () => undefined); // the abort below
    req.end('{}');
    await waitFor('the first connect retry', async () => (await retries('abandoned')) > 0);
    req.destroy();
    await waitFor('the request to leave the router', async () =>
      (await request(`${router.metricsUrl}/metrics`)).body.toString().includes('modelship_router_requests_in_flight 0'),
    );
    const after = await retries('abandoned');
    // Several backoff waits: a resend still scheduled would have been counted by now.
    await sleep(600);
    expect(await retries('abandoned')).toBe(after);
    // No outcome: nobody received an answer (as for any request the caller abandons); only its load.
    expect((await stats()).revisions.abandoned.live.requests).toBe(0);
  },
  LONG,
);

it(
  'honours MODELSHIP_ROUTER_CONNECT_RETRY_BUDGET_MS: 0 sends a refused request once',
  async () => {
    const file = routesFileWith({
      version: 1,
      generation: 1,
      revisions: [{ name: 'off', url: `http://127.0.0.1:${await closedPort()}`, weight: 1 }],
    });
    const noRetries = await startRouter({ MODELSHIP_ROUTES_FILE: file, MODELSHIP_ROUTER_CONNECT_RETRY_BUDGET_MS: '0' });
    try {
      const reply = await request(`${noRetries.url}/v2/models/m/infer`, { body: '{}' });
      expect(reply.status).toBe(502);
      expect(reply.json<{ error: string }>().error).toMatch(/ECONNREFUSED.* \(1 connect attempt over \d+ ms\)$/);
      expect((await request(`${noRetries.metricsUrl}/metrics`)).body.toString()).not.toContain(
        'modelship_router_connect_retries_total{revision="off"}',
      );
    } finally {
      expect(await noRetries.stop()).toBe(0);
    }
  },
  LONG,
);
