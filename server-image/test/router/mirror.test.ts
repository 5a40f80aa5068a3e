/**
 * Mirroring end to end: copies never delay or fail the caller, agreement between the served and
 * mirrored outputs is counted right, and binary-extension bodies pass through byte for byte.
 */
import crypto from 'node:crypto';
import type http from 'node:http';
import {
  byRevision,
  closeClient,
  closedPort,
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

const LONG = 180_000;

interface Stats {
  routesGeneration: number;
  revisions: Record<
    string,
    {
      live: { requests: number; errors: number };
      mirror: { requests: number; errors: number; codes: Record<string, number> };
    }
  >;
  agreement: Record<string, { compared: number; agreed: number; maxAbsDiff: number }>;
}

/** A V2 JSON response with class scores, as a classifier returns them. */
function scores(
  name: string,
  rows: number[][],
): (req: http.IncomingMessage, body: Buffer, res: http.ServerResponse) => void {
  return (_req, _body, res) => {
    const text = JSON.stringify({
      model_name: name,
      model_version: '1',
      outputs: [{ name: 'probabilities', datatype: 'FP32', shape: [rows.length, rows[0].length], data: rows.flat() }],
    });
    res.writeHead(200, { 'content-type': 'application/json' }).end(text);
  };
}

/** Echoes the request body and its binary-extension header back, as the response. */
function echo(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse): void {
  const headers: http.OutgoingHttpHeaders = {
    'content-type': 'application/octet-stream',
    'content-length': body.length,
  };
  if (req.headers['inference-header-content-length'])
    headers['inference-header-content-length'] = req.headers['inference-header-content-length'];
  res.writeHead(200, headers).end(body);
}

const held: http.ServerResponse[] = [];
let stable: Backend;
let agreeing: Backend;
let disagreeing: Backend;
let slow: Backend;
let echoA: Backend;
let echoB: Backend;
let router: RouterProcess;
let routesFile: string;

beforeAll(async () => {
  stable = await startBackend(
    'stable',
    scores('stable', [
      [0.1, 0.9],
      [0.6, 0.4],
    ]),
  );
  agreeing = await startBackend(
    'agreeing',
    scores('agreeing', [
      [0.3, 0.7],
      [0.55, 0.45],
    ]),
  );
  disagreeing = await startBackend(
    'disagreeing',
    scores('disagreeing', [
      [0.9, 0.1],
      [0.6, 0.4],
    ]),
  );
  // Holds every response until the test releases it: a mirror target slower than any caller.
  slow = await startBackend('slow', (_req, _body, res) => void held.push(res));
  echoA = await startBackend('echo-a', echo);
  echoB = await startBackend('echo-b', echo);
  routesFile = routesFileWith(
    routesFor(
      1,
      [
        [stable, 100],
        [slow, 0],
      ],
      { mirror: { revision: 'slow', percent: 100 } },
    ),
  );
  router = await startReadyRouter({ MODELSHIP_ROUTES_FILE: routesFile });
}, LONG);

afterAll(async () => {
  for (const res of held) res.destroy();
  expect(await router.stop()).toBe(0);
  for (const b of [stable, agreeing, disagreeing, slow, echoA, echoB]) await b.close();
  closeClient();
}, LONG);

const stats = async () => (await request(`${router.metricsUrl}/router/stats`)).json<Stats>();
const useRoutes = async (generation: number, doc: Record<string, unknown>) => {
  writeAtomically(routesFile, JSON.stringify(doc));
  await waitFor(`generation ${generation}`, async () => (await stats()).routesGeneration === generation);
};
const infer = () =>
  request(`${router.url}/v2/models/m/infer`, {
    body: '{"inputs":[]}',
    headers: { 'content-type': 'application/json' },
  });

it(
  'answers every caller while the mirror target has not answered one copy',
  async () => {
    const replies = await load(20, 4, () => infer());
    expect(replies.map((r) => r.status)).toEqual(Array(20).fill(200));
    expect(byRevision(replies)).toEqual({ stable: 20 });
    // All 20 copies reached the slow target, and all 20 are still unanswered.
    await waitFor('20 copies held', () => held.length === 20);
    expect(slow.received.every((r) => r.headers['x-modelship-mirror'] === 'true')).toBe(true);
    expect((await stats()).revisions.slow?.mirror.requests ?? 0).toBe(0);
    for (const res of held.splice(0))
      scores('slow', [
        [0.2, 0.8],
        [0.1, 0.9],
      ])({} as http.IncomingMessage, Buffer.alloc(0), res);
    const s = await waitFor('copies counted', async () => {
      const st = await stats();
      return st.revisions.slow?.mirror.requests === 20 ? st : undefined;
    });
    expect(s.revisions.stable.live).toMatchObject({ requests: 20, errors: 0 });
    // The slow copies disagreed on row 1 (class 0 vs 1): compared, none agreed.
    expect(s.agreement.slow).toMatchObject({ compared: 20, agreed: 0 });
  },
  LONG,
);

it(
  'counts agreement: same top class agrees, a different top class does not',
  async () => {
    await useRoutes(
      2,
      routesFor(
        2,
        [
          [stable, 100],
          [agreeing, 0],
        ],
        { mirror: { revision: 'agreeing', percent: 100 } },
      ),
    );
    expect(byRevision(await load(50, 5, () => infer()))).toEqual({ stable: 50 });
    const good = await waitFor('50 agreeing comparisons', async () => {
      const st = await stats();
      return st.agreement.agreeing?.compared === 50 ? st.agreement.agreeing : undefined;
    });
    expect(good.agreed).toBe(50);
    expect(good.maxAbsDiff).toBeCloseTo(0.2, 5);

    await useRoutes(
      3,
      routesFor(
        3,
        [
          [stable, 100],
          [disagreeing, 0],
        ],
        { mirror: { revision: 'disagreeing', percent: 100 } },
      ),
    );
    await load(50, 5, () => infer());
    const bad = await waitFor('50 disagreeing comparisons', async () => {
      const st = await stats();
      return st.agreement.disagreeing?.compared === 50 ? st.agreement.disagreeing : undefined;
    });
    expect(bad.agreed).toBe(0);
    const metrics = (await request(`${router.metricsUrl}/metrics`)).body.toString();
    expect(metrics).toMatch(/modelship_router_mirror_compared_total\{revision="disagreeing"\} 50/);
    expect(metrics).toMatch(/modelship_router_mirror_agreed_total\{revision="agreeing"\} 50/);
  },
  LONG,
);

it(
  'mirrors exactly the configured share',
  async () => {
    await useRoutes(
      4,
      routesFor(
        4,
        [
          [stable, 100],
          [agreeing, 0],
        ],
        { mirror: { revision: 'agreeing', percent: 25 } },
      ),
    );
    const before = agreeing.received.length;
    await load(200, 8, () => infer());
    await waitFor('50 copies', () => agreeing.received.length - before === 50);
    expect(agreeing.received.length - before).toBe(50);
  },
  LONG,
);

it(
  'never fails the caller when the mirror target is down, and counts the copy as an error',
  async () => {
    const port = await closedPort();
    await useRoutes(5, {
      version: 1,
      generation: 5,
      revisions: [
        { name: 'stable', url: stable.url, weight: 100 },
        { name: 'gone', url: `http://127.0.0.1:${port}`, weight: 0 },
      ],
      mirror: { revision: 'gone', percent: 100 },
    });
    const replies = await load(30, 3, () => infer());
    expect(replies.map((r) => r.status)).toEqual(Array(30).fill(200));
    const s = await waitFor('30 failed copies', async () => {
      const st = await stats();
      return st.revisions.gone?.mirror.requests === 30 ? st : undefined;
    });
    expect(s.revisions.gone.mirror).toMatchObject({ errors: 30, codes: { unreachable: 30 } });
    expect(s.revisions.gone.live.requests).toBe(0);
  },
  LONG,
);

describe('binary tensor extension', () => {
  /** A binary-extension body: JSON header (with binary_data_size) then raw little-endian FP32 scores. */
  function binaryBody(rows: number, seed: number): { body: Buffer; headerLength: number } {
    const raw = Buffer.alloc(rows * 10 * 4);
    const rnd = crypto.createHash('sha256').update(String(seed)).digest();
    for (let i = 0; i < rows * 10; i++) raw.writeFloatLE(rnd[i % 32] / 255 + i * 1e-6, i * 4);
    raw.write('\r\n\r\n', 8, 'latin1'); // bytes that would trip anything parsing text
    const header = Buffer.from(
      JSON.stringify({
        outputs: [
          { name: 'scores', datatype: 'FP32', shape: [rows, 10], parameters: { binary_data_size: raw.length } },
        ],
      }),
    );
    return { body: Buffer.concat([header, raw]), headerLength: header.length };
  }

  const send = (b: { body: Buffer; headerLength: number }) =>
    request(`${router.url}/v2/models/m/infer`, {
      body: b.body,
      headers: {
        'content-type': 'application/octet-stream',
        'inference-header-content-length': String(b.headerLength),
      },
    });

  it(
    'passes bodies through byte-identical, streamed and when buffered for a mirror',
    async () => {
      await useRoutes(
        6,
        routesFor(6, [
          [echoA, 100],
          [echoB, 0],
        ]),
      );
      for (const rows of [1, 1000, 20_000]) {
        const b = binaryBody(rows, rows);
        const reply = await send(b);
        expect(reply.status).toBe(200);
        expect(reply.headers['inference-header-content-length']).toBe(String(b.headerLength));
        expect(reply.body.equals(b.body)).toBe(true);
        expect(echoA.received.at(-1)?.body.equals(b.body)).toBe(true);
      }
      await useRoutes(
        7,
        routesFor(
          7,
          [
            [echoA, 100],
            [echoB, 0],
          ],
          { mirror: { revision: 'echo-b', percent: 100 } },
        ),
      );
      for (const rows of [1, 1000]) {
        const b = binaryBody(rows, rows + 1);
        const reply = await send(b);
        expect(reply.body.equals(b.body)).toBe(true);
      }
      // The copies carried the same bytes, and their decoded binary outputs agreed with the served ones.
      await waitFor('2 copies', () => echoB.received.length === 2);
      expect(echoB.received[1].body.equals(echoA.received.at(-1)?.body as Buffer)).toBe(true);
      const a = await waitFor('2 comparisons', async () => {
        const st = await stats();
        return st.agreement['echo-b']?.compared === 2 ? st.agreement['echo-b'] : undefined;
      });
      expect(a).toEqual({ compared: 2, agreed: 2, maxAbsDiff: 0 });
    },
    LONG,
  );
});
