/**
 * The hold queue end to end (a router process on a routes file, real backends on loopback): requests
 * to a revision whose route says `hold` wait, show in the stats and metrics, and are sent in arrival
 * order when routes without the hold arrive; past their deadline or a full queue they get a 503 JSON
 * with Retry-After; a caller that goes away leaves the queue. Outcomes and counts only, no durations.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RevisionLoad } from '../../../contract/stats.js';
import {
  closeClient,
  request,
  routesFileWith,
  startBackend,
  startReadyRouter,
  startRouter,
  tempDir,
  waitFor,
  writeAtomically,
  type Backend,
  type Reply,
  type RouterProcess,
} from './harness.js';

const LONG = 180_000;
/** The router's hold bound in these tests. */
const MAX_HELD = 3;

interface Stats {
  routesGeneration: number;
  revisions: Record<
    string,
    { live: { requests: number; errors: number; codes: Record<string, number> }; load?: RevisionLoad }
  >;
}

let router: RouterProcess;
let routesFile: string;
let a: Backend;
let b: Backend;
let generation = 0;

beforeAll(async () => {
  a = await startBackend('a');
  b = await startBackend('b');
  routesFile = path.join(tempDir(), 'routes.json');
  // One connection per backend: released requests reach it in the order the router sends them.
  router = await startRouter({
    MODELSHIP_ROUTES_FILE: routesFile,
    MODELSHIP_ROUTER_MAX_HELD: String(MAX_HELD),
    MODELSHIP_ROUTER_MAX_SOCKETS: '1',
  });
}, LONG);

afterAll(async () => {
  expect(await router.stop()).toBe(0);
  await a.close();
  await b.close();
  closeClient();
}, LONG);

/** Puts `revisions` (name → backend, weight, hold) in force and waits until the router serves them. */
async function route(
  revisions: { name: string; backend: Backend; weight?: number; hold?: boolean }[],
  extra: Record<string, unknown> = {},
): Promise<void> {
  const gen = ++generation;
  writeAtomically(
    routesFile,
    JSON.stringify({
      version: 1,
      generation: gen,
      revisions: revisions.map((r) => ({
        name: r.name,
        url: r.backend.url,
        weight: r.weight ?? 1,
        ...(r.hold ? { hold: true } : {}),
      })),
      ...extra,
    }),
  );
  await waitFor(`generation ${gen}`, async () => (await stats()).routesGeneration === gen);
}

const stats = async () => (await request(`${router.metricsUrl}/router/stats`)).json<Stats>();
const loadOf = async (revision: string) => (await stats()).revisions[revision]?.load;
const metrics = async () => (await request(`${router.metricsUrl}/metrics`)).body.toString().split('\n');

/** The value of the metric line starting with `prefix` (0 when absent). */
async function metric(prefix: string): Promise<number> {
  const line = (await metrics()).find((l) => l.startsWith(`${prefix} `));
  return line ? Number(line.slice(prefix.length + 1)) : 0;
}

/**
 * Sends an inference request carrying `id` and waits until the router holds `heldAfter` for
 * `revision`; then gives its reply to come (wrapped, so awaiting this does not await the reply).
 */
async function sendHeld(id: string, revision: string, heldAfter: number): Promise<{ reply: Promise<Reply> }> {
  const reply = request(`${router.url}/v2/models/m/infer`, { body: JSON.stringify({ id }) });
  await waitFor(`${heldAfter} held for ${revision}`, async () => (await loadOf(revision))?.held === heldAfter);
  return { reply };
}

it(
  'holds requests while the route says hold, shows them in the stats, and answers them in arrival order once it does not',
  async () => {
    await route([{ name: 'a', backend: a, hold: true }]);
    const replies: Promise<Reply>[] = [];
    for (const id of ['first', 'second', 'third']) replies.push((await sendHeld(id, 'a', replies.length + 1)).reply);

    // Held, not sent: the backend has seen nothing, and the router's own health is unaffected.
    expect(a.received).toHaveLength(0);
    expect((await request(`${router.url}/v2/health/ready`)).status).toBe(200);
    expect(await loadOf('a')).toMatchObject({ inFlight: 3, held: 3, heldTotal: 3, heldRefused: 0 });
    expect(await metric('modelship_router_held{revision="a"}')).toBe(3);
    expect(await metric('modelship_router_in_flight{revision="a"}')).toBe(3);

    await route([{ name: 'a', backend: a }]);
    const answered = await Promise.all(replies);
    expect(answered.map((r) => [r.status, r.headers['x-modelship-revision']])).toEqual([
      [200, 'a'],
      [200, 'a'],
      [200, 'a'],
    ]);
    expect(a.received.map((r) => JSON.parse(r.body.toString()).id)).toEqual(['first', 'second', 'third']);

    // Counted once each, with their final outcome.
    await waitFor('the held requests to finish', async () => (await loadOf('a'))?.inFlight === 0);
    const after = (await stats()).revisions.a;
    expect(after.load).toMatchObject({ held: 0, heldTotal: 3, heldRefused: 0 });
    expect(after.live).toMatchObject({ requests: 3, errors: 0, codes: { '2xx': 3 } });
    expect(await metric('modelship_router_held_requests_total{revision="a",outcome="released"}')).toBe(3);
    expect(await metric('modelship_router_hold_seconds_count{revision="a"}')).toBe(3);
    expect(await metric('modelship_router_held{revision="a"}')).toBe(0);
  },
  LONG,
);

it(
  'answers 503 with Retry-After, naming the revision and the wait, when the hold deadline passes',
  async () => {
    await route([{ name: 'late', backend: b, hold: true }], { holdTimeoutMs: 100 });
    const reply = await request(`${router.url}/v2/models/m/infer`, { body: '{}' });
    expect(reply.status).toBe(503);
    expect(reply.headers['content-type']).toBe('application/json');
    expect(reply.headers['retry-after']).toBe('1');
    expect(reply.headers['x-modelship-revision']).toBe('late');
    expect(reply.json<{ error: string }>().error).toMatch(
      /^revision late has no ready pod: held \d+ ms waiting for it to start \(hold timeout 100 ms\)$/,
    );
    expect(b.received).toHaveLength(0);
    const late = (await stats()).revisions.late;
    expect(late.load).toMatchObject({ inFlight: 0, held: 0, heldTotal: 1, heldRefused: 1 });
    expect(late.live).toMatchObject({ requests: 1, errors: 1, codes: { '5xx': 1 } });
    expect(await metric('modelship_router_held_requests_total{revision="late",outcome="timeout"}')).toBe(1);
  },
  LONG,
);

it(
  'answers 503 at once when the hold queue is full, and still sends on the ones it held',
  async () => {
    await route([{ name: 'busy', backend: b, hold: true }]);
    const replies: Promise<Reply>[] = [];
    for (let i = 0; i < MAX_HELD; i++) replies.push((await sendHeld(`held-${i}`, 'busy', i + 1)).reply);
    const refused = await request(`${router.url}/v2/models/m/infer`, { body: JSON.stringify({ id: 'refused' }) });
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.json<{ error: string }>().error).toBe(
      `revision busy has no ready pod, and this router already holds ${MAX_HELD} requests waiting for one (MODELSHIP_ROUTER_MAX_HELD)`,
    );
    expect(await loadOf('busy')).toMatchObject({ held: MAX_HELD, heldTotal: MAX_HELD + 1, heldRefused: 1 });
    expect(await metric('modelship_router_held_requests_total{revision="busy",outcome="full"}')).toBe(1);

    await route([{ name: 'busy', backend: b }]);
    expect((await Promise.all(replies)).map((r) => r.status)).toEqual(replies.map(() => 200));
    expect(b.received.map((r) => JSON.parse(r.body.toString()).id)).toEqual(['held-0', 'held-1', 'held-2']);
    b.received.length = 0;
  },
  LONG,
);

it(
  'lets a caller that goes away leave the queue: never sent, counted cancelled',
  async () => {
    await route([{ name: 'gone', backend: b, hold: true }]);
    const req = http.request(`${router.url}/v2/models/m/infer`, { method: 'POST', headers: { 'content-length': 2 } });
    req.on('error', () => undefined); // the destroy below
    req.end('{}');
    await waitFor('the request to be held', async () => (await loadOf('gone'))?.held === 1);
    req.destroy();
    await waitFor('the request to leave the queue', async () => (await loadOf('gone'))?.inFlight === 0);
    expect(await loadOf('gone')).toMatchObject({ held: 0, heldTotal: 1, heldRefused: 0 });
    expect(await metric('modelship_router_held_requests_total{revision="gone",outcome="cancelled"}')).toBe(1);

    await route([{ name: 'gone', backend: b }]);
    // Nothing left to release: a request after the hold is the only one the backend sees.
    expect((await request(`${router.url}/v2/models/m/infer`, { body: '{"id":"after"}' })).status).toBe(200);
    expect(b.received.map((r) => JSON.parse(r.body.toString()).id)).toEqual(['after']);
    b.received.length = 0;
    // No live outcome for the abandoned one, as for any request its caller abandons.
    expect((await stats()).revisions.gone.live.requests).toBe(1);
  },
  LONG,
);

it(
  'routes a held request again when its revision leaves the routes',
  async () => {
    await route([{ name: 'old', backend: b, hold: true }]);
    const { reply } = await sendHeld('moved', 'old', 1);
    await route([{ name: 'a', backend: a }]);
    const answered = await reply;
    expect(answered.status).toBe(200);
    expect(answered.headers['x-modelship-revision']).toBe('a');
    expect(await loadOf('old')).toMatchObject({ inFlight: 0, held: 0 });
  },
  LONG,
);

it(
  'never holds a mirrored copy: the copy for a held revision is dropped, and a held request goes without one',
  async () => {
    b.received.length = 0;
    await route(
      [
        { name: 'a', backend: a },
        { name: 'shadow', backend: b, weight: 0, hold: true },
      ],
      { mirror: { revision: 'shadow', percent: 100 } },
    );
    const reply = await request(`${router.url}/v2/models/m/infer`, { body: '{}' });
    expect(reply.status).toBe(200);
    expect(reply.headers['x-modelship-revision']).toBe('a');
    expect(await metric('modelship_router_mirror_skipped_total{reason="held"}')).toBe(1);
    expect(b.received).toHaveLength(0);
    // Routed, so its load is listed, but nothing was held or sent there.
    expect(await loadOf('shadow')).toMatchObject({ inFlight: 0, held: 0, heldTotal: 0 });

    // Nor is a copy made for a request that was held: it goes alone once released.
    await route(
      [
        { name: 'a', backend: a, hold: true },
        { name: 'shadow', backend: b, weight: 0 },
      ],
      { mirror: { revision: 'shadow', percent: 100 } },
    );
    const { reply: held } = await sendHeld('alone', 'a', 1);
    await route(
      [
        { name: 'a', backend: a },
        { name: 'shadow', backend: b, weight: 0 },
      ],
      {
        mirror: { revision: 'shadow', percent: 100 },
      },
    );
    expect((await held).status).toBe(200);
    expect(await metric('modelship_router_mirror_skipped_total{reason="held"}')).toBe(2);
    expect(b.received).toHaveLength(0);
  },
  LONG,
);

it(
  'leaves a held body unread, so the caller is held back rather than buffered, and sends it whole once released',
  async () => {
    await route([{ name: 'big', backend: b, hold: true }]);
    b.received.length = 0;
    // Far more than the socket buffers and the router's stream buffer hold between them (~4 MiB here).
    const size = 64 * 1024 * 1024;
    const chunk = crypto.randomBytes(64 * 1024);
    const sha = crypto.createHash('sha256');
    let written = 0;
    const reply = new Promise<number>((resolve, reject) => {
      const req = http.request(`${router.url}/v2/models/m/infer`, {
        method: 'POST',
        headers: { 'content-length': size },
      });
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      const pump = (): void => {
        while (written < size) {
          sha.update(chunk);
          written += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    });
    await waitFor('the request to be held', async () => (await loadOf('big'))?.held === 1);
    // Time for an unbounded reader to take it all; nothing is asserted about how long this is.
    await sleep(300);
    expect(written).toBeLessThan(size);

    await route([{ name: 'big', backend: b }]);
    expect(await reply).toBe(200);
    expect(b.received).toHaveLength(1);
    expect(b.received[0].body.length).toBe(size);
    expect(crypto.createHash('sha256').update(b.received[0].body).digest('hex')).toBe(sha.digest('hex'));
  },
  LONG,
);

it(
  'answers a request still held when the drain time is up with a 503, not a cut connection, and exits 0',
  async () => {
    const file = routesFileWith({
      version: 1,
      generation: 1,
      revisions: [{ name: 'cold', url: b.url, weight: 1, hold: true }],
    });
    const stopping = await startReadyRouter({ MODELSHIP_ROUTES_FILE: file, MODELSHIP_SHUTDOWN_TIMEOUT_MS: '200' });
    const reply = request(`${stopping.url}/v2/models/m/infer`, { body: '{}' });
    await waitFor('the request to be held', async () => {
      const doc = (await request(`${stopping.metricsUrl}/router/stats`)).json<Stats>();
      return doc.revisions.cold?.load?.held === 1;
    });
    const exited = stopping.stop();
    const answered = await reply;
    expect(answered.status).toBe(503);
    expect(answered.headers['retry-after']).toBe('1');
    expect(answered.json<{ error: string }>().error).toMatch(
      /^revision cold has no ready pod: held \d+ ms waiting for it to start, and the router is shutting down$/,
    );
    expect(await exited).toBe(0);
  },
  LONG,
);
