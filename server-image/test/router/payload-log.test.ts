/**
 * Payload logging end to end: a real router in front of real model servers sends what it serves
 * to a real sink process (test/sink/sink.ts) as KServe-style CloudEvents; the bodies arrive byte
 * for byte, the caller's Authorization never does, and a sink that stalls or fails costs callers
 * nothing while the metrics count what was dropped or failed.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { once } from 'node:events';
import {
  closeClient,
  load,
  request,
  routerMetric,
  routesFileWith,
  startModelServer,
  startReadyRouter,
  tempDir,
  waitFor,
  writeAtomically,
  type ModelServer,
  type Reply,
  type RouterProcess,
} from './harness.js';
import { startSink, type Sink } from '../../../test/sink/start.js';

const LONG = 180_000;
const INFER = '/v2/models/echo_int64/infer';

/** A Routes document splitting 50/50 between the two servers, with payload logging as given. */
function routes(generation: number, payloadLog?: Record<string, unknown>): Record<string, unknown> {
  return {
    version: 1,
    generation,
    revisions: [
      { name: 'echo-a', url: servers[0].url, weight: 50 },
      { name: 'echo-b', url: servers[1].url, weight: 50 },
    ],
    ...(payloadLog ? { monitoring: { payloadLog } } : {}),
  };
}

const logTo = (sink: { url: string }, percent: number, mode = 'all') => ({
  url: `${sink.url}/events?stream=1`,
  percent,
  mode,
  modelDeployment: 'echo',
  namespace: 'ml',
});

/** A V2 JSON body with INT64 values past 2^53, which a JSON.parse round trip would change. */
const BIG_JSON =
  '{"inputs":[{"name":"input","datatype":"INT64","shape":[2,2],"data":[9007199254740993,-9223372036854775808,9223372036854775807,-7]}]}';

/** A V2 binary-extension body: a JSON header, then the INT64 tensor's raw bytes. */
function binaryBody(): { body: Buffer; headerLength: number } {
  const raw = Buffer.from(new BigInt64Array([2n ** 62n + 1n, -5n, 7n, 0n]).buffer);
  const header = Buffer.from(
    JSON.stringify({
      inputs: [{ name: 'input', datatype: 'INT64', shape: [2, 2], parameters: { binary_data_size: raw.length } }],
      outputs: [{ name: 'output', parameters: { binary_data: true } }],
    }),
  );
  return { body: Buffer.concat([header, raw]), headerLength: header.length };
}

const servers: ModelServer[] = [];

beforeAll(async () => {
  servers.push(...(await Promise.all([startModelServer('echo_int64.onnx'), startModelServer('echo_int64.onnx')])));
}, LONG);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  closeClient();
}, LONG);

describe('with a sink that answers', () => {
  let sink: Sink;
  let router: RouterProcess;
  let file: string;

  beforeAll(async () => {
    sink = await startSink({ record: true });
    file = routesFileWith(routes(1, logTo(sink, 100)));
    router = await startReadyRouter({ MODELSHIP_ROUTES_FILE: file });
  }, LONG);

  afterAll(async () => {
    expect(await router.stop()).toBe(0);
    await sink.stop();
  }, LONG);

  /** The sink's events for one request id, by ce-type's last word, once both have arrived. */
  const pairOf = (id: string, halves = 2) =>
    waitFor(`the events of ${id}`, () => {
      const events = sink.events().filter((e) => e.headers['ce-id'] === id);
      return events.length === halves
        ? Object.fromEntries(events.map((e) => [e.headers['ce-type'].split('.').pop(), e]))
        : undefined;
    });

  it(
    'sends the request and the response as KServe CloudEvents, bodies byte for byte, without the Authorization header',
    async () => {
      const reply = await request(`${router.url}${INFER}`, {
        body: BIG_JSON,
        headers: { 'content-type': 'application/json', authorization: 'Bearer s3cr3t-token', cookie: 'session=42' },
      });
      expect(reply.status).toBe(200);
      const id = String(reply.headers['x-request-id']);
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      const { request: req, response: res } = await pairOf(id);

      for (const [event, type] of [
        [req, 'request'],
        [res, 'response'],
      ] as const) {
        expect(event.method).toBe('POST');
        expect(event.url).toBe('/events?stream=1');
        expect(event.headers).toMatchObject({
          'ce-specversion': '1.0',
          'ce-id': id,
          'ce-type': `org.kubeflow.serving.inference.${type}`,
          'ce-source': 'router-test',
          'ce-inferenceservicename': 'echo',
          'ce-namespace': 'ml',
          'ce-component': 'predictor',
          'ce-endpoint': reply.headers['x-modelship-revision'],
          'ce-metadata': '{}',
        });
        expect(new Date(event.headers['ce-time']).toISOString()).toBe(event.headers['ce-time']);
        expect(Date.parse(event.headers['ce-recordedtime'])).toBeGreaterThanOrEqual(
          Date.parse(event.headers['ce-time']),
        );
        expect(event.headers).not.toHaveProperty('authorization');
        expect(event.headers).not.toHaveProperty('cookie');
        expect(JSON.stringify(event)).not.toContain('s3cr3t');
      }
      expect(req.headers['content-type']).toBe('application/json');
      expect(req.body.toString()).toBe(BIG_JSON);
      expect(res.headers['content-type']).toBe(reply.headers['content-type']);
      expect(res.body.equals(reply.body)).toBe(true);
      expect(res.body.toString()).toContain('9007199254740993');
    },
    LONG,
  );

  it(
    'keeps binary-extension bodies byte for byte and names their JSON header length in ce-metadata',
    async () => {
      const { body, headerLength } = binaryBody();
      const reply = await request(`${router.url}${INFER}`, {
        body,
        headers: {
          'content-type': 'application/octet-stream',
          'inference-header-content-length': String(headerLength),
          'x-request-id': 'caller-id-1',
        },
      });
      expect(reply.status).toBe(200);
      expect(reply.headers['x-request-id']).toBe('caller-id-1');
      const { request: req, response: res } = await pairOf('caller-id-1');
      expect(req.body.equals(body)).toBe(true);
      expect(JSON.parse(req.headers['ce-metadata'])).toEqual({
        'Inference-Header-Content-Length': [String(headerLength)],
      });
      expect(res.body.equals(reply.body)).toBe(true);
      expect(JSON.parse(res.headers['ce-metadata'])).toEqual({
        'Inference-Header-Content-Length': [String(reply.headers['inference-header-content-length'])],
      });
      expect(res.headers['content-type']).toBe('application/octet-stream');
    },
    LONG,
  );

  it(
    'logs a refused request without a response, as KServe does, and no call that is not an inference',
    async () => {
      const bad = await request(`${router.url}${INFER}`, {
        body: '{"inputs":[{"name":"nope"}]}',
        headers: { 'content-type': 'application/json', 'x-request-id': 'bad-1' },
      });
      expect(bad.status).toBe(400);
      const meta = await request(`${router.url}/v2/models/echo_int64`, { headers: { 'x-request-id': 'meta-1' } });
      expect(meta.status).toBe(200);
      const marker = await request(`${router.url}${INFER}`, {
        body: BIG_JSON,
        headers: { 'content-type': 'application/json', 'x-request-id': 'marker-1' },
      });
      expect(marker.status).toBe(200);
      await pairOf('marker-1');
      const { request: req } = await pairOf('bad-1', 1);
      expect(req.body.toString()).toBe('{"inputs":[{"name":"nope"}]}');
      await waitFor(
        'every event counted',
        async () => (await routerMetric(router, 'modelship_router_payload_queue_depth')) === 0,
      );
      // The sender thread reports every 50 ms: its count of the last pair may follow the sink's.
      await waitFor(
        'every event the sink has counted sent',
        async () =>
          (await routerMetric(router, 'modelship_router_payload_events_total', { outcome: 'sent' })) ===
          sink.events().length,
      );
      expect(sink.events().filter((e) => e.headers['ce-id'] === 'meta-1')).toEqual([]);
    },
    LONG,
  );

  it(
    'logs exactly the percent of each revision, changes in place, and at 0% sends nothing',
    async () => {
      const send = (tag: string) => (i: number) =>
        request(`${router.url}${INFER}`, {
          body: BIG_JSON,
          headers: { 'content-type': 'application/json', 'x-request-id': `${tag}-${i}` },
        });
      writeAtomically(file, JSON.stringify(routes(2, logTo(sink, 10, 'request'))));
      await waitFor(
        'generation 2',
        async () => (await request(`${router.url}/v2/health/ready`)).json().generation === 2,
      );
      const tenth = await load(200, 4, send('ten'));
      expect(tenth.every((r: Reply) => r.status === 200)).toBe(true);

      writeAtomically(file, JSON.stringify(routes(3, logTo(sink, 0))));
      await waitFor(
        'generation 3',
        async () => (await request(`${router.url}/v2/health/ready`)).json().generation === 3,
      );
      const none = await load(100, 4, send('zero'));
      expect(none.every((r: Reply) => r.status === 200)).toBe(true);

      writeAtomically(file, JSON.stringify(routes(4, logTo(sink, 100))));
      await waitFor(
        'generation 4',
        async () => (await request(`${router.url}/v2/health/ready`)).json().generation === 4,
      );
      expect((await send('last')(0)).status).toBe(200);
      await pairOf('last-0');
      await waitFor(
        'every event counted',
        async () => (await routerMetric(router, 'modelship_router_payload_queue_depth')) === 0,
      );
      // The sender thread reports every 50 ms: its count of the last pair may follow the sink's.
      await waitFor(
        'every event the sink has counted sent',
        async () =>
          (await routerMetric(router, 'modelship_router_payload_events_total', { outcome: 'sent' })) ===
          sink.events().length,
      );

      const events = sink.events();
      const ten = events.filter((e) => e.headers['ce-id'].startsWith('ten-'));
      // 100 requests per revision (the 50/50 split is exact), 10 % of each, requests only.
      expect(ten.filter((e) => e.headers['ce-endpoint'] === 'echo-a')).toHaveLength(10);
      expect(ten.filter((e) => e.headers['ce-endpoint'] === 'echo-b')).toHaveLength(10);
      expect(ten.every((e) => e.headers['ce-type'].endsWith('.request'))).toBe(true);
      expect(events.filter((e) => e.headers['ce-id'].startsWith('zero-'))).toEqual([]);
      // Nothing was lost on the way: every event the router counts sent, the sink has.
      expect(await routerMetric(router, 'modelship_router_payload_events_total', { outcome: 'sent' })).toBe(
        events.length,
      );
      expect(await routerMetric(router, 'modelship_router_payload_events_total', { outcome: 'dropped' })).toBe(0);
      expect(await routerMetric(router, 'modelship_router_payload_events_total', { outcome: 'failed' })).toBe(0);
    },
    LONG,
  );
});

describe('with a sink that stalls or fails', () => {
  it(
    'still answers every caller at once, drops past the queue bound and counts it',
    async () => {
      const sink = await startSink({ mode: 'stall', record: true });
      const router = await startReadyRouter({
        MODELSHIP_ROUTES_FILE: routesFileWith(routes(1, logTo(sink, 100))),
        MODELSHIP_ROUTER_PAYLOAD_QUEUE: '4',
      });
      try {
        const replies = await load(60, 4, () =>
          request(`${router.url}${INFER}`, { body: BIG_JSON, headers: { 'content-type': 'application/json' } }),
        );
        expect(replies.map((r) => r.status)).toEqual(Array(60).fill(200));
        // 120 events: 4 senders stuck on the sink, 4 queued, the rest dropped.
        await waitFor(
          'drops counted',
          async () =>
            (await routerMetric(router, 'modelship_router_payload_events_total', { outcome: 'dropped' })) >= 112,
        );
        expect(await routerMetric(router, 'modelship_router_payload_queue_depth')).toBeLessThanOrEqual(4);
        expect(await routerMetric(router, 'modelship_router_payload_events_total', { outcome: 'sent' })).toBe(0);
      } finally {
        expect(await router.stop()).toBe(0);
        await sink.stop();
      }
    },
    LONG,
  );

  it(
    'counts events a failing sink refused as failed, and callers never see it',
    async () => {
      const sink = await startSink({ mode: 'error', record: true });
      const router = await startReadyRouter({ MODELSHIP_ROUTES_FILE: routesFileWith(routes(1, logTo(sink, 100))) });
      try {
        const replies = await load(10, 2, () =>
          request(`${router.url}${INFER}`, { body: BIG_JSON, headers: { 'content-type': 'application/json' } }),
        );
        expect(replies.map((r) => r.status)).toEqual(Array(10).fill(200));
        await waitFor(
          'failures counted',
          async () =>
            (await routerMetric(router, 'modelship_router_payload_events_total', { outcome: 'failed' })) === 20,
        );
        expect(await sink.count()).toBe(20);
        expect(router.output()).toContain('payload log: sending to');
        expect(router.output()).not.toContain('/events?stream=1');
      } finally {
        expect(await router.stop()).toBe(0);
        await sink.stop();
      }
    },
    LONG,
  );
});

describe('with a sink built on the CloudEvents Python SDK', () => {
  const PYTHON = path.resolve('.state/venv/bin/python');

  it(
    'reads every event as a CloudEvent with the KServe attributes and the exact bytes',
    async () => {
      if (!fs.existsSync(PYTHON))
        throw new Error(`${PYTHON} is missing: run \`flock /tmp/modelship-venv.lock make pydeps\``);
      const out = path.join(tempDir(), 'events.jsonl');
      const child = spawn(PYTHON, [path.resolve('server-image/test/router/payload-log-sink.py'), out], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let text = '';
      child.stdout?.on('data', (c: Buffer) => (text += c.toString()));
      const exited = once(child, 'exit');
      const { port } = await waitFor('the Python sink to listen', () => {
        if (child.exitCode !== null) throw new Error(`the Python sink exited ${child.exitCode}`);
        const line = text.split('\n').find((l) => l.includes('sink listening'));
        return line ? (JSON.parse(line) as { port: number }) : undefined;
      });
      const sinkUrl = `http://127.0.0.1:${port}`;
      const router = await startReadyRouter({
        MODELSHIP_ROUTES_FILE: routesFileWith(routes(1, logTo({ url: sinkUrl }, 100))),
      });
      try {
        const { body, headerLength } = binaryBody();
        const replies = [
          await request(`${router.url}${INFER}`, { body: BIG_JSON, headers: { 'content-type': 'application/json' } }),
          await request(`${router.url}${INFER}`, {
            body,
            headers: {
              'content-type': 'application/octet-stream',
              'inference-header-content-length': String(headerLength),
            },
          }),
        ];
        expect(replies.map((r) => r.status)).toEqual([200, 200]);
        const events = await waitFor('four events parsed', () => {
          const lines = fs.existsSync(out) ? fs.readFileSync(out, 'utf8').split('\n').filter(Boolean) : [];
          return lines.length === 4
            ? lines.map((l) => JSON.parse(l) as { attributes: Record<string, string>; data: string })
            : undefined;
        });
        const sent = [BIG_JSON, replies[0].body, body, replies[1].body].map((b) => Buffer.from(b).toString('base64'));
        const got = new Map(events.map((e) => [`${e.attributes.id} ${e.attributes.type}`, e]));
        replies.forEach((r, i) =>
          (['request', 'response'] as const).forEach((half, j) => {
            const type = `org.kubeflow.serving.inference.${half}`;
            const event = got.get(`${String(r.headers['x-request-id'])} ${type}`);
            expect(event?.attributes).toMatchObject({
              specversion: '1.0',
              type,
              source: 'router-test',
              inferenceservicename: 'echo',
              namespace: 'ml',
              component: 'predictor',
              endpoint: r.headers['x-modelship-revision'],
            });
            expect(event?.data).toBe(sent[i * 2 + j]);
          }),
        );
        // The sender thread reports what it sent every 50 ms: the count follows the sink's answers closely.
        await waitFor(
          'four events counted sent',
          async () => (await routerMetric(router, 'modelship_router_payload_events_total', { outcome: 'sent' })) === 4,
        );
      } finally {
        expect(await router.stop()).toBe(0);
        child.kill('SIGTERM');
        await exited;
      }
    },
    LONG,
  );
});
