/**
 * The direct path end to end (a router process on a routes file, real backends on loopback): while
 * a revision's route holds and lists starting pods, the router probes them and sends the held
 * requests, and new ones, straight to the first that answers ready, before any routes drop the
 * hold; a pod never ready leaves them held; a change of the list is followed; a pod that refuses
 * connections after answering ready gets them once it is back. Outcomes and counts only.
 */
import path from 'node:path';
import type { RevisionLoad } from '../../../contract/stats.js';
import {
  closeClient,
  closedPort,
  nameHandler,
  request,
  startBackend,
  startRouter,
  tempDir,
  waitFor,
  writeAtomically,
  type Backend,
  type BackendHandler,
  type Reply,
  type RouterProcess,
} from './harness.js';

const LONG = 180_000;
const READY_PATH = '/v2/health/ready';

interface Stats {
  routesGeneration: number;
  revisions: Record<
    string,
    { live: { requests: number; errors: number; codes: Record<string, number> }; load?: RevisionLoad }
  >;
}

/** A starting pod: answers its readiness probe 503 until `ready` is set, inference like any backend. */
interface Pod extends Backend {
  ready: boolean;
}

let router: RouterProcess;
let routesFile: string;
/** The revision's Service (what the route's `url` names). */
let svc: Backend;
let generation = 0;
const pods: Pod[] = [];

/** Starts a pod named `name`, ready or not, on `port` if given (a pod restarting on its IP and port). */
async function startPod(name: string, ready = false, port = 0): Promise<Pod> {
  const state = { ready };
  const handler: BackendHandler = (req, body, res) => {
    if (req.url !== READY_PATH) return nameHandler(name)(req, body, res);
    const text = JSON.stringify({ ready: state.ready });
    res.writeHead(state.ready ? 200 : 503, { 'content-type': 'application/json' }).end(text);
  };
  const pod = Object.defineProperty(await startBackend(name, handler, port), 'ready', {
    get: () => state.ready,
    set: (v: boolean) => (state.ready = v),
  }) as Pod;
  pods.push(pod);
  return pod;
}

const probes = (b: Backend) => b.received.filter((r) => r.url === READY_PATH).length;
/** The ids of the inference requests `b` received, in order. */
const ids = (b: Backend) =>
  b.received.filter((r) => r.url !== READY_PATH).map((r) => (JSON.parse(r.body.toString()) as { id: string }).id);

beforeAll(async () => {
  svc = await startBackend('svc');
  routesFile = path.join(tempDir(), 'routes.json');
  // One connection per backend: released requests reach a pod in the order the router sends them.
  // A long connect-retry budget: the pod that dies below is back well within it.
  router = await startRouter({
    MODELSHIP_ROUTES_FILE: routesFile,
    MODELSHIP_ROUTER_MAX_SOCKETS: '1',
    MODELSHIP_ROUTER_CONNECT_RETRY_BUDGET_MS: '20000',
  });
}, LONG);

afterAll(async () => {
  expect(await router.stop()).toBe(0);
  await svc.close();
  for (const p of pods) await p.close();
  closeClient();
}, LONG);

/** Puts revision `name` in force at `url`, held with `startingPods` unless null; waits until it is served. */
async function route(
  name: string,
  startingPods: Backend[] | null,
  extra: Record<string, unknown> = {},
  url = svc.url,
): Promise<void> {
  const gen = ++generation;
  const revision = {
    name,
    url,
    weight: 1,
    ...(startingPods ? { hold: true, startingPods: startingPods.map((p) => p.url) } : {}),
  };
  writeAtomically(routesFile, JSON.stringify({ version: 1, generation: gen, revisions: [revision], ...extra }));
  await waitFor(`generation ${gen}`, async () => (await stats()).routesGeneration === gen);
}

const stats = async () => (await request(`${router.metricsUrl}/router/stats`)).json<Stats>();
const loadOf = async (revision: string) => (await stats()).revisions[revision]?.load;

/** The value of the metric line starting with `prefix` (0 when absent). */
async function metric(prefix: string): Promise<number> {
  const lines = (await request(`${router.metricsUrl}/metrics`)).body.toString().split('\n');
  const line = lines.find((l) => l.startsWith(`${prefix} `));
  return line ? Number(line.slice(prefix.length + 1)) : 0;
}

const infer = (id: string) => request(`${router.url}/v2/models/m/infer`, { body: JSON.stringify({ id }) });

/** Sends a request carrying `id` and waits until `revision` holds `heldAfter`; then gives its reply to come. */
async function sendHeld(id: string, revision: string, heldAfter: number): Promise<{ reply: Promise<Reply> }> {
  const reply = infer(id);
  await waitFor(`${heldAfter} held for ${revision}`, async () => (await loadOf(revision))?.held === heldAfter);
  return { reply };
}

/** Which backend answered. */
const answeredBy = (r: Reply) => [r.status, r.headers['x-modelship-revision'], r.json<{ backend: string }>().backend];

/** Waits until the router has logged `pod` of `revision` found ready `times` times in all. */
async function foundReady(revision: string, pod: Backend, times = 1): Promise<void> {
  await waitFor(`${pod.name} found ready`, () => {
    const lines = router
      .output()
      .split('\n')
      .filter((l) => l.includes('a starting pod answered ready') && l.includes(`"pod":"${pod.url}"`));
    return lines.length >= times && lines.every((l) => l.includes(`"revision":"${revision}"`));
  });
}

it(
  'sends held requests, in arrival order, and new ones to the first starting pod that answers ready, before the routes drop the hold',
  async () => {
    const pod = await startPod('pod');
    await route('cold', [pod]);
    await waitFor('the pod to be probed', () => probes(pod) > 0);
    const first = await sendHeld('first', 'cold', 1);
    const second = await sendHeld('second', 'cold', 2);
    expect(ids(pod)).toEqual([]);

    pod.ready = true;
    const answered = await Promise.all([first.reply, second.reply]);
    expect(answered.map(answeredBy)).toEqual([
      [200, 'cold', 'pod'],
      [200, 'cold', 'pod'],
    ]);
    // The routes in force still hold: a new request goes to the pod too, not to the Service.
    expect(answeredBy(await infer('third'))).toEqual([200, 'cold', 'pod']);
    expect(ids(pod)).toEqual(['first', 'second', 'third']);
    expect(ids(svc)).toEqual([]);
    expect((await stats()).routesGeneration).toBe(generation);

    // Counted once each, as any request; the direct path shows in its own counter.
    await waitFor('the requests to finish', async () => (await loadOf('cold'))?.inFlight === 0);
    const cold = (await stats()).revisions.cold;
    expect(cold.live).toMatchObject({ requests: 3, errors: 0, codes: { '2xx': 3 } });
    expect(cold.load).toMatchObject({ held: 0, heldTotal: 2, heldRefused: 0 });
    expect(await metric('modelship_router_held_requests_total{revision="cold",outcome="released"}')).toBe(2);
    expect(await metric('modelship_router_direct_requests_total{revision="cold"}')).toBe(3);

    // Routes without the hold: through the Service again.
    await route('cold', null);
    expect(answeredBy(await infer('fourth'))).toEqual([200, 'cold', 'svc']);
    expect(await metric('modelship_router_direct_requests_total{revision="cold"}')).toBe(3);
    svc.received.length = 0;
  },
  LONG,
);

it(
  'keeps holding while no starting pod answers ready: sent through the Service once the hold drops, 503 at the deadline',
  async () => {
    const never = await startPod('never');
    await route('waiting', [never]);
    const { reply } = await sendHeld('waiting', 'waiting', 1);
    // Probed over and over, answering 503: still held.
    const seen = probes(never);
    await waitFor('more probes', () => probes(never) >= seen + 3);
    expect(await loadOf('waiting')).toMatchObject({ held: 1 });

    await route('waiting', null);
    expect(answeredBy(await reply)).toEqual([200, 'waiting', 'svc']);
    expect(ids(svc)).toEqual(['waiting']);

    await route('late', [never], { holdTimeoutMs: 100 });
    const late = await infer('late');
    expect(late.status).toBe(503);
    expect(late.headers['retry-after']).toBe('1');
    expect(late.json<{ error: string }>().error).toMatch(/^revision late has no ready pod: held \d+ ms waiting/);
    expect(ids(never)).toEqual([]);
    expect(await metric('modelship_router_direct_requests_total{revision="waiting"}')).toBe(0);
    svc.received.length = 0;
  },
  LONG,
);

it(
  'follows a change of the starting pods: a pod that leaves is no longer probed or sent to, a new one is',
  async () => {
    const stuck = await startPod('stuck');
    const fresh = await startPod('fresh', true);
    const other = await startPod('other');
    await route('moving', [stuck]);
    const { reply } = await sendHeld('moved', 'moving', 1);

    await route('moving', [fresh, other]);
    expect(answeredBy(await reply)).toEqual([200, 'moving', 'fresh']);
    // `stuck` left the list: probed no more, while `other` (listed, never ready) goes on being probed.
    const stuckProbes = probes(stuck);
    const otherProbes = probes(other);
    await waitFor('`other` to be probed on', () => probes(other) >= otherProbes + 5);
    expect(probes(stuck)).toBeLessThanOrEqual(stuckProbes + 1);

    // `fresh` leaves the list, though ready: a new request is held, not sent there.
    await route('moving', [stuck]);
    const { reply: held } = await sendHeld('held', 'moving', 1);
    await route('moving', null);
    expect(answeredBy(await held)).toEqual([200, 'moving', 'svc']);
    expect(ids(fresh)).toEqual(['moved']);
    expect(ids(stuck)).toEqual([]);
    svc.received.length = 0;
  },
  LONG,
);

it(
  'spreads requests over several ready starting pods in turn',
  async () => {
    const one = await startPod('one', true);
    const two = await startPod('two', true);
    await route('wide', [one, two]);
    await foundReady('wide', one);
    await foundReady('wide', two);
    const replies: Reply[] = [];
    for (const id of ['r1', 'r2', 'r3', 'r4']) replies.push(await infer(id));
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    expect([ids(one).length, ids(two).length]).toEqual([2, 2]);
    expect(await metric('modelship_router_direct_requests_total{revision="wide"}')).toBe(4);
  },
  LONG,
);

it(
  'resends a request whose starting pod refuses connections after answering ready, and answers it once the pod is back',
  async () => {
    // The Service refuses too, as one with no ready endpoint does.
    const noEndpoint = `http://127.0.0.1:${await closedPort()}`;
    const dying = await startPod('dying', true);
    await route('flaky', [dying], {}, noEndpoint);
    await foundReady('flaky', dying);
    expect(answeredBy(await infer('before'))).toEqual([200, 'flaky', 'dying']);

    await dying.close();
    const reply = infer('during');
    await waitFor(
      'a resend',
      async () => (await metric('modelship_router_connect_retries_total{revision="flaky"}')) > 0,
    );
    await waitFor('the pod reported refused', () => router.output().includes('a starting pod found ready refused'));
    // The pod restarts on its IP and port, and answers ready again.
    const back = await startPod('back', true, dying.port);
    expect(answeredBy(await reply)).toEqual([200, 'flaky', 'back']);
    expect(ids(back)).toEqual(['during']);

    await waitFor('the requests to finish', async () => (await loadOf('flaky'))?.inFlight === 0);
    expect((await stats()).revisions.flaky.live).toMatchObject({ requests: 2, errors: 0, codes: { '2xx': 2 } });
    expect(await metric('modelship_router_direct_requests_total{revision="flaky"}')).toBe(2);
  },
  LONG,
);
