/**
 * Live accuracy end to end: two real router processes, peers of each other, in front of real model
 * servers (the digits example model and digits-bad, trained on shifted labels). Requests go
 * through router A; their true labels are posted to router B, which forwards them to A; A counts
 * every joined row right or wrong for the revision that served it, in /router/stats and /metrics.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  closeClient,
  request,
  routesFileWith,
  startModelServer,
  startReadyRouter,
  waitFor,
  writeAtomically,
  type ModelServer,
  type Reply,
  type RouterProcess,
} from './harness.js';

const LONG = 180_000;
const SAMPLES = path.resolve('examples/models/samples');
/** startModelServer looks in test/fixtures/models; the digits models are examples. */
const EXAMPLE = (file: string) => `../../../examples/models/${file}`;

interface Sample {
  file: string;
  protocol: 'v1' | 'v2';
  labels: number[];
}
const samples = (JSON.parse(fs.readFileSync(path.join(SAMPLES, 'index.json'), 'utf8')) as { samples: Sample[] })
  .samples;

interface Accuracy {
  labelled: number;
  correct: number;
}
interface Stats {
  revisions: Record<string, { accuracy?: Accuracy }>;
}

let good: ModelServer;
let bad: ModelServer;
let a: RouterProcess;
let b: RouterProcess;
let routesFile: string;
/** The routers' token directory (MODELSHIP_ROUTER_TOKEN_DIR): the digits revision's token Secret. */
let tokenDir: string;

function routes(generation: number, peers: string[], ttlSeconds = 600, auth = false): Record<string, unknown> {
  const tokenFile = auth ? { tokenFile: 'digits-tokens/token' } : {};
  return {
    version: 1,
    generation,
    revisions: [
      { name: 'digits', url: good.url, weight: 50, ...tokenFile },
      { name: 'digits-bad', url: bad.url, weight: 50 },
    ],
    monitoring: { accuracy: { ttlSeconds, maxPending: 1000, peers } },
  };
}

async function applied(router: RouterProcess, generation: number): Promise<void> {
  await waitFor(
    `routes generation ${generation}`,
    async () => (await request(`${router.url}/v2/health/ready`)).json().generation === generation,
  );
}

async function setRoutes(generation: number, ttlSeconds?: number, auth = false): Promise<void> {
  writeAtomically(routesFile, JSON.stringify(routes(generation, [a.url, b.url], ttlSeconds, auth)));
  await Promise.all([applied(a, generation), applied(b, generation)]);
}

/** Sends a sample file through `router` (the protocol's path); the reply carries x-request-id. */
function infer(router: RouterProcess, s: Sample, headers: Record<string, string> = {}): Promise<Reply> {
  const url = s.protocol === 'v2' ? `${router.url}/v2/models/digits/infer` : `${router.url}/v1/models/digits:predict`;
  return request(url, {
    body: fs.readFileSync(path.join(SAMPLES, s.file)),
    headers: { 'content-type': 'application/json', ...headers },
  });
}

function postLabels(router: RouterProcess, body: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  return request(`${router.url}/modelship/v1/labels`, {
    body: typeof body === 'string' ? body : JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
  });
}

async function stats(router: RouterProcess): Promise<Stats> {
  return (await request(`${router.metricsUrl}/router/stats`)).json<Stats>();
}

async function metric(router: RouterProcess, line: string): Promise<number | undefined> {
  const text = (await request(`${router.metricsUrl}/metrics`)).body.toString();
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

beforeAll(async () => {
  [good, bad] = await Promise.all([
    startModelServer(EXAMPLE('digits.onnx'), { MODELSHIP_MODEL_NAME: 'digits' }),
    startModelServer(EXAMPLE('digits-bad.onnx'), { MODELSHIP_MODEL_NAME: 'digits' }),
  ]);
  tokenDir = fs.mkdtempSync(path.join(os.tmpdir(), 'modelship-router-tokens-'));
  fs.mkdirSync(path.join(tokenDir, 'digits-tokens'));
  fs.writeFileSync(path.join(tokenDir, 'digits-tokens/token'), 'labeller-token\n');
  // The routers' ports are known once they listen: peers are written in a second generation.
  routesFile = routesFileWith({
    version: 1,
    generation: 1,
    revisions: [{ name: 'digits', url: good.url, weight: 1 }],
  });
  [a, b] = await Promise.all([
    startReadyRouter({
      MODELSHIP_ROUTES_FILE: routesFile,
      MODELSHIP_POD_NAME: 'router-a',
      MODELSHIP_ROUTER_TOKEN_DIR: tokenDir,
    }),
    startReadyRouter({
      MODELSHIP_ROUTES_FILE: routesFile,
      MODELSHIP_POD_NAME: 'router-b',
      MODELSHIP_ROUTER_TOKEN_DIR: tokenDir,
    }),
  ]);
  await setRoutes(2);
}, LONG);

afterAll(async () => {
  expect(await a?.stop()).toBe(0);
  expect(await b?.stop()).toBe(0);
  await Promise.all([good?.stop(), bad?.stop()]);
  closeClient();
  fs.rmSync(tokenDir, { recursive: true, force: true });
}, LONG);

test(
  'labels posted to router B are joined where router A served the requests: accuracy per revision',
  async () => {
    const served: { id: string; revision: string; labels: number[] }[] = [];
    for (const s of samples) {
      const reply = await infer(a, s);
      expect(reply.status).toBe(200);
      served.push({
        id: String(reply.headers['x-request-id']),
        revision: String(reply.headers['x-modelship-revision']),
        labels: s.labels,
      });
    }
    // The caller's own request id is kept.
    const own = await infer(a, samples[0]!, { 'x-request-id': 'caller-chosen-id-1' });
    expect(own.headers['x-request-id']).toBe('caller-chosen-id-1');
    served.push({
      id: 'caller-chosen-id-1',
      revision: String(own.headers['x-modelship-revision']),
      labels: samples[0]!.labels,
    });

    const expected: Record<string, Accuracy> = {};
    for (const s of served) {
      const e = (expected[s.revision] ??= { labelled: 0, correct: 0 });
      e.labelled += s.labels.length;
      // digits predicts every sample right; digits-bad predicts d+1 for d.
      if (s.revision === 'digits') e.correct += s.labels.length;
    }
    expect(Object.keys(expected).sort()).toEqual(['digits', 'digits-bad']);

    // One-row requests may use "label"; the 10-row one gives its rows' labels in order.
    const entries = served.map((s) =>
      s.labels.length === 1 ? { id: s.id, label: s.labels[0] } : { id: s.id, labels: s.labels },
    );
    // The predictions are stored just after each answer: wait until A holds them all.
    await waitFor(
      'predictions pending on A',
      async () => (await metric(a, 'modelship_router_predictions_pending')) === served.length,
    );
    const reply = await postLabels(b, { labels: entries });
    expect(reply.status).toBe(200);
    expect(reply.json()).toEqual({
      matched: served.length,
      unknown: 0,
      duplicate: 0,
      mismatched: 0,
      unreachablePeers: 0,
    });

    const onA = await stats(a);
    for (const [revision, acc] of Object.entries(expected)) expect(onA.revisions[revision]?.accuracy).toEqual(acc);
    // B served nothing and joined nothing itself.
    expect(Object.values((await stats(b)).revisions).every((r) => r.accuracy === undefined)).toBe(true);

    expect(await metric(a, 'modelship_router_label_rows_total{revision="digits",outcome="correct"}')).toBe(
      expected.digits!.correct,
    );
    expect(await metric(a, 'modelship_router_label_rows_total{revision="digits-bad",outcome="wrong"}')).toBe(
      expected['digits-bad']!.labelled,
    );
    expect(await metric(a, 'modelship_router_label_rows_total{revision="digits-bad",outcome="correct"}')).toBe(0);
    expect(await metric(a, 'modelship_router_predictions_pending')).toBe(0);

    // A label is joined once: sent again (to A itself this time), it is a duplicate, counted nowhere.
    const again = await postLabels(a, { labels: entries.slice(0, 3) });
    expect(again.json()).toMatchObject({ matched: 0, duplicate: 3, unknown: 0 });
    expect((await stats(a)).revisions.digits?.accuracy).toEqual(expected.digits);
  },
  LONG,
);

test(
  'labels for ids nobody served, or whose prediction expired, are unmatched, counted once where posted',
  async () => {
    const unknown = await postLabels(b, { labels: [{ id: 'never-served', label: 1 }] });
    expect(unknown.json()).toMatchObject({ matched: 0, unknown: 1, unreachablePeers: 0 });

    await setRoutes(3, 1);
    const reply = await infer(
      a,
      samples.find((s) => s.labels.length === 1)!,
    );
    const id = String(reply.headers['x-request-id']);
    await waitFor(
      'the prediction pending on A',
      async () => (await metric(a, 'modelship_router_predictions_pending')) === 1,
    );
    // ttlSeconds is 1: the prediction is gone after it (a slower machine only makes it older).
    await new Promise((r) => setTimeout(r, 1_100));
    const expired = await postLabels(b, { labels: [{ id, label: 0 }] });
    expect(expired.json()).toMatchObject({ matched: 0, unknown: 1 });

    expect(await metric(b, 'modelship_router_labels_unmatched_total')).toBe(2);
    // A was asked as a peer: the unmatched labels are B's to count, not A's too.
    expect(await metric(a, 'modelship_router_labels_unmatched_total')).toBe(0);
  },
  LONG,
);

test(
  'bad label bodies are refused 400 with an error naming the field, and nothing of them is joined',
  async () => {
    const cases: [unknown, RegExp][] = [
      ['{not json', /invalid JSON/],
      [[1, 2], /must be a JSON object/],
      [{ labels: [] }, /^labels: must be an array/],
      [{ labels: [{ id: 'x' }] }, /^labels\[0\]: needs either label or labels/],
      [{ labels: [{ id: 'x', label: 1.5 }] }, /^labels\[0\]\.label: must be an integer or a string/],
      [{ labels: [{ id: 'x', labels: [1, null] }] }, /^labels\[0\]\.labels\[1\]/],
      [{ labels: [{ id: '', label: 1 }] }, /^labels\[0\]\.id/],
      [{ labels: [{ id: 'x', label: 1, extra: true }] }, /^labels\[0\]\.extra: unknown field/],
      [{ labels: [{ id: 'x', label: 1 }], forwarded: 'yes' }, /^forwarded: must be a boolean/],
    ];
    for (const [body, error] of cases) {
      const reply = await postLabels(b, body);
      expect([reply.status, reply.json().error]).toEqual([400, expect.stringMatching(error)]);
    }
    const big = await postLabels(b, JSON.stringify({ labels: [{ id: 'x', label: 'y'.repeat(2 * 1024 * 1024) }] }));
    expect(big.status).toBe(413);
    expect(big.json().error).toMatch(/larger than/);
  },
  LONG,
);

test(
  "while the routes guard a revision with a token (spec.auth), labels need one of the revisions' tokens, and forwarded labels carry it",
  async () => {
    await setRoutes(4, 600, true);
    const one = samples.find((s) => s.labels.length === 1)!;
    const reply = await infer(a, one);
    expect(reply.status).toBe(200);
    const id = String(reply.headers['x-request-id']);
    await waitFor(
      'the prediction pending on A',
      async () => (await metric(a, 'modelship_router_predictions_pending')) === 1,
    );
    const entry = { labels: [{ id, label: one.labels[0] }] };

    const anonymous = await postLabels(b, entry);
    expect([anonymous.status, anonymous.json().error]).toEqual([401, expect.stringMatching(/missing bearer token/)]);
    expect(anonymous.headers['www-authenticate']).toBe('Bearer');
    const wrong = await postLabels(b, entry, { authorization: 'Bearer not-the-token' });
    expect([wrong.status, wrong.json().error]).toEqual([401, 'labels: invalid bearer token']);
    // Nothing of a refused post was joined: the prediction still waits on A.
    expect(await metric(a, 'modelship_router_predictions_pending')).toBe(1);

    // Posted to B with the token: B forwards it to A with the caller's header, and A joins it.
    const allowed = await postLabels(b, entry, { authorization: 'Bearer labeller-token' });
    expect(allowed.status).toBe(200);
    expect(allowed.json()).toMatchObject({ matched: 1, unknown: 0, unreachablePeers: 0 });
    await setRoutes(5);
  },
  LONG,
);
