import http from 'node:http';
import { once } from 'node:events';
import { createLogger } from '../../../common/log.js';
import { LABELS_PATH } from '../../../contract/accuracy.js';
import { AccuracyMonitor, PredictionStore, predictedLabels } from './accuracy.js';
import { RouterMetrics } from './metrics.js';
import type { ObservedExchange } from './observe.js';
import { RouterStats } from './stats.js';

const json = (doc: unknown) => Buffer.from(JSON.stringify(doc));
const v2 = (outputs: unknown[]) => json({ model_name: 'm', outputs });
const label = { name: 'label', datatype: 'INT64', shape: [2], data: [3, 7] };
const scores = { name: 'probabilities', datatype: 'FP32', shape: [2, 3], data: [0.1, 0.7, 0.2, 0.5, 0.3, 0.2] };

describe('predictedLabels', () => {
  it.each([
    ['V2: the first integer output, wherever it is', v2([scores, label]), undefined, ['3', '7']],
    ['V2: the named output', v2([label, scores]), 'probabilities', ['1', '0']],
    ['V2: argmax per row of the first output without an integer one', v2([scores]), undefined, ['1', '0']],
    [
      'V2: class names (BYTES) as they are',
      v2([{ name: 'c', datatype: 'BYTES', shape: [2], data: ['cat', 'dog'] }]),
      'c',
      ['cat', 'dog'],
    ],
    [
      'V2: a [rows, 1] output',
      v2([{ name: 'y', datatype: 'INT32', shape: [2, 1], data: [[4], [5]] }]),
      undefined,
      ['4', '5'],
    ],
    ['V1: plain predictions', json({ predictions: [2, 9] }), undefined, ['2', '9']],
    [
      'V1: score rows',
      json({
        predictions: [
          [0.2, 0.8],
          [0.9, 0.1],
        ],
      }),
      undefined,
      ['1', '0'],
    ],
    ['V1: one output, named by the route', json({ predictions: [5] }), 'label', ['5']],
    [
      'V1: objects keyed by output name',
      json({
        predictions: [
          { label: 4, probabilities: [0.1, 0.9] },
          { label: 0, probabilities: [0.8, 0.2] },
        ],
      }),
      undefined,
      ['4', '0'],
    ],
    [
      'V1: objects, the named output',
      json({ predictions: [{ label: 4, probabilities: [0.1, 0.9] }] }),
      'probabilities',
      ['1'],
    ],
  ])('%s', (_what, body, output, expected) => {
    expect(predictedLabels(body, undefined, output)).toEqual(expected);
  });

  it('decodes the V2 binary extension', () => {
    const raw = Buffer.from(new BigInt64Array([6n, 1n]).buffer);
    const header = json({
      outputs: [{ name: 'label', datatype: 'INT64', shape: [2], parameters: { binary_data_size: 16 } }],
    });
    expect(predictedLabels(Buffer.concat([header, raw]), header.length, undefined)).toEqual(['6', '1']);
  });

  it.each([
    ['an error body', json({ error: 'boom' })],
    ['not JSON', Buffer.from('<html>')],
    ['no outputs', v2([])],
  ])('has none for %s', (_what, body) => {
    expect(predictedLabels(body, undefined, undefined)).toBeUndefined();
  });

  it('has none when the named output is missing', () => {
    expect(predictedLabels(v2([label]), undefined, 'scores')).toBeUndefined();
  });
});

describe('PredictionStore', () => {
  let now = 0;
  let evicted = 0;
  const store = (ttlSeconds = 10, maxPending = 3) =>
    new PredictionStore(
      { ttlSeconds, maxPending },
      () => evicted++,
      () => now,
    );
  beforeEach(() => {
    now = 1_000_000;
    evicted = 0;
  });

  it('joins a label once, counting the rows predicted right', () => {
    const s = store();
    s.put('r1', 'rev-a', ['3', '7', '1']);
    expect(s.pending()).toBe(1);
    expect(s.join({ id: 'r1', labels: [3, 2, '1'] })).toEqual({
      kind: 'matched',
      revision: 'rev-a',
      rows: 3,
      correct: 2,
    });
    expect(s.pending()).toBe(0);
    expect(s.join({ id: 'r1', labels: [3, 7, 1] })).toEqual({ kind: 'duplicate' });
  });

  it('refuses a label count other than the rows, and keeps the prediction waiting', () => {
    const s = store();
    s.put('r1', 'rev-a', ['3', '7']);
    expect(s.join({ id: 'r1', labels: [3] })).toEqual({ kind: 'mismatched' });
    expect(s.join({ id: 'r1', labels: [3, 7] })).toMatchObject({ kind: 'matched', correct: 2 });
  });

  it('forgets predictions after ttlSeconds', () => {
    const s = store(10);
    s.put('old', 'rev-a', ['1']);
    now += 5_000;
    s.put('new', 'rev-a', ['1']);
    now += 5_000;
    expect(s.join({ id: 'old', labels: [1] })).toEqual({ kind: 'unknown' });
    expect(s.pending()).toBe(1);
    expect(s.join({ id: 'new', labels: [1] })).toMatchObject({ kind: 'matched' });
    now += 5_000;
    // Joined ones expire too: then a second label is unknown rather than a duplicate.
    expect(s.join({ id: 'new', labels: [1] })).toEqual({ kind: 'unknown' });
  });

  it('keeps at most maxPending, dropping the oldest and counting the unlabelled ones', () => {
    const s = store(10, 3);
    s.put('r1', 'rev-a', ['1']);
    s.put('r2', 'rev-a', ['1']);
    expect(s.join({ id: 'r2', labels: [1] })).toMatchObject({ kind: 'matched' });
    s.put('r3', 'rev-a', ['1']);
    s.put('r4', 'rev-a', ['1']);
    s.put('r5', 'rev-a', ['1']);
    expect(evicted).toBe(1); // r1 waited; r2 was joined already
    expect(s.pending()).toBe(3);
    expect(s.join({ id: 'r1', labels: [1] })).toEqual({ kind: 'unknown' });
    expect(s.join({ id: 'r3', labels: [1] })).toMatchObject({ kind: 'matched' });
  });

  it('lets a reused request id replace the earlier prediction', () => {
    const s = store();
    s.put('r1', 'rev-a', ['1']);
    s.put('r1', 'rev-b', ['2']);
    expect(s.pending()).toBe(1);
    expect(s.join({ id: 'r1', labels: [2] })).toEqual({ kind: 'matched', revision: 'rev-b', rows: 1, correct: 1 });
  });
});

describe('AccuracyMonitor', () => {
  const log = createLogger('error', () => {});
  const exchange = (over: Partial<ObservedExchange>): ObservedExchange => ({
    revision: 'rev-a',
    requestId: 'r1',
    method: 'POST',
    path: '/v2/models/m/infer',
    at: 0,
    request: { body: Buffer.alloc(0) },
    status: 200,
    response: { contentType: 'application/json', body: v2([label]) },
    ...over,
  });

  it('wants inference requests only', () => {
    const m = new AccuracyMonitor(
      { ttlSeconds: 60, maxPending: 10, peers: [] },
      {
        stats: new RouterStats('p', new Date()),
        metrics: new RouterMetrics(new RouterStats('p', new Date())),
        log,
      },
    );
    expect(m.wants('r', 'POST', '/v2/models/m/infer')).toBe(true);
    expect(m.wants('r', 'POST', '/v2/models/m/versions/2/infer?x=1')).toBe(true);
    expect(m.wants('r', 'POST', '/v1/models/m:predict')).toBe(true);
    expect(m.wants('r', 'GET', '/v2/models/m')).toBe(false);
    expect(m.wants('r', 'POST', '/v2/repository/index')).toBe(false);
  });

  it('keeps only answers of status 200', () => {
    const stats = new RouterStats('p', new Date());
    const m = new AccuracyMonitor(
      { ttlSeconds: 60, maxPending: 10, peers: [] },
      {
        stats,
        metrics: new RouterMetrics(stats),
        log,
      },
    );
    m.observe(exchange({ status: 500, requestId: 'failed' }));
    m.observe(exchange({ requestId: 'ok' }));
    expect(m.pending()).toBe(1);
  });

  describe('labels endpoint with peers', () => {
    let server: http.Server;
    let url = '';
    let stats: RouterStats;
    let metrics: RouterMetrics;
    let posted: { url: string; body: unknown }[];
    let monitor: AccuracyMonitor;

    beforeEach(async () => {
      stats = new RouterStats('p', new Date());
      metrics = new RouterMetrics(stats);
      posted = [];
      // Peer "held" found r-remote (one of 2 rows right); peer "down" never answers.
      const post = async (to: string, body: string) => {
        posted.push({ url: to, body: JSON.parse(body) });
        if (to.startsWith('http://down')) throw new Error('connect ECONNREFUSED');
        return { matched: 1, unknown: 0, duplicate: 0, mismatched: 0, unreachablePeers: 0, found: ['r-remote'] };
      };
      monitor = new AccuracyMonitor(
        { ttlSeconds: 60, maxPending: 10, peers: ['http://held:8080', 'http://down:8080'] },
        { stats, metrics, log, post },
      );
      monitor.observe(exchange({ requestId: 'r-local' }));
      server = http.createServer((req, res) => void monitor.handleLabels(req, res));
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      url = `http://127.0.0.1:${(server.address() as { port: number }).port}${LABELS_PATH}`;
    });
    afterEach(() => server.close());

    const postLabels = async (body: unknown) => {
      const res = await fetch(url, { method: 'POST', body: JSON.stringify(body) });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };

    it('joins its own ids, asks every peer about the rest at once, and counts the unknown once', async () => {
      const reply = await postLabels({
        labels: [
          { id: 'r-local', labels: [3, 0] },
          { id: 'r-remote', label: 1 },
          { id: 'r-nowhere', label: 2 },
        ],
      });
      expect(reply).toEqual({
        status: 200,
        body: { matched: 2, unknown: 1, duplicate: 0, mismatched: 0, unreachablePeers: 1 },
      });
      expect(posted.map((p) => p.url).sort()).toEqual([
        `http://down:8080${LABELS_PATH}`,
        `http://held:8080${LABELS_PATH}`,
      ]);
      expect(posted[0]!.body).toEqual({
        labels: [
          { id: 'r-remote', labels: [1] },
          { id: 'r-nowhere', labels: [2] },
        ],
        forwarded: true,
      });
      expect(stats.snapshot(new Date(), null).revisions['rev-a']!.accuracy).toEqual({ labelled: 2, correct: 1 });
      expect(await metrics.registry.getSingleMetricAsString('modelship_router_labels_unmatched_total')).toMatch(/ 1$/m);
    });

    it('answers a forwarded post with the ids it found, never forwarding it, counting nothing unmatched', async () => {
      const reply = await postLabels({
        labels: [
          { id: 'r-local', labels: [3, 7] },
          { id: 'r-other', label: 1 },
        ],
        forwarded: true,
      });
      expect(reply.body).toEqual({
        matched: 1,
        unknown: 1,
        duplicate: 0,
        mismatched: 0,
        unreachablePeers: 0,
        found: ['r-local'],
      });
      expect(posted).toEqual([]);
      expect(await metrics.registry.getSingleMetricAsString('modelship_router_labels_unmatched_total')).toMatch(/ 0$/m);
    });

    it('refuses other methods and bodies that are not labels', async () => {
      expect((await fetch(url)).status).toBe(405);
      const reply = await postLabels({ label: 3 });
      expect(reply).toEqual({ status: 400, body: { error: 'label: unknown field (expected labels)' } });
      expect(posted).toEqual([]);
    });
  });
});
