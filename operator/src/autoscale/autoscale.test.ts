import type { RouterStatsDocument } from '../../../contract/stats.js';
import { decideScale, rawRecommendation, requestPolicyOf, ringSecondsFor, type RequestPolicy } from './decide.js';
import { idleFor, inFlightAt, loadAt, type StatsReading } from './load.js';

const T0 = Date.parse('2026-11-21T06:00:00.000Z');
const ROUTE = 'digits-a41b2';
const OTHER = 'digits-5f7c9';

/** What one router pod reports for one revision at one moment. */
interface PodFigures {
  pod?: string;
  startedAt?: number;
  /** Seconds since T0 the document was written. */
  at: number;
  busyMs: number;
  requests: number;
  inFlight?: number;
  held?: number;
  route?: string;
}

function doc(f: PodFigures): RouterStatsDocument {
  const traffic = {
    requests: f.requests,
    errors: 0,
    codes: {},
    latencyMs: { le: [1], counts: [0], count: 0, sum: 0 },
  };
  return {
    version: 1,
    pod: f.pod ?? 'router-a',
    startTime: new Date(f.startedAt ?? T0 - 3_600_000).toISOString(),
    time: new Date(T0 + f.at * 1000).toISOString(),
    routesGeneration: 1,
    revisions: {
      [f.route ?? ROUTE]: {
        live: traffic,
        mirror: { ...traffic, requests: 0 },
        load: { inFlight: f.inFlight ?? 0, held: f.held ?? 0, busyMs: f.busyMs, heldTotal: 0, heldRefused: 0 },
      },
    },
    agreement: {},
  };
}

/** A reading per second from `from` to `to` (seconds since T0) of one pod in flight at `concurrency`. */
function steady(from: number, to: number, concurrency: number, base = { busyMs: 0, requests: 0 }): StatsReading[] {
  const out: StatsReading[] = [];
  for (let s = from; s <= to; s++) {
    const elapsed = s - from;
    out.push({
      at: T0 + s * 1000,
      documents: [
        doc({
          at: s,
          busyMs: base.busyMs + concurrency * elapsed * 1000,
          requests: base.requests + concurrency * elapsed * 10,
          inFlight: Math.round(concurrency),
        }),
      ],
    });
  }
  return out;
}

const POLICY: RequestPolicy = {
  metric: 'concurrency',
  target: 4,
  minReplicas: 1,
  maxReplicas: 10,
  upWindowSeconds: 0,
  downWindowSeconds: 60,
};

describe('requestPolicyOf: what spec.autoscaling asks the operator for', () => {
  it.each([
    ['no autoscaling', undefined, undefined],
    ['the CPU HPA', { maxReplicas: 5, targetCPUUtilizationPercentage: 70 }, undefined],
    ['autoscaling without a target (the CPU HPA)', { maxReplicas: 5 }, undefined],
    ['a concurrency target, defaults applied', { maxReplicas: 5, targetConcurrency: 4 }, { ...POLICY, maxReplicas: 5 }],
    [
      'a request rate target with scale to zero',
      { minReplicas: 0, maxReplicas: 5, targetRequestsPerSecond: 50, idleSeconds: 120, scaleDownWindowSeconds: 30 },
      { ...POLICY, metric: 'rps', target: 50, minReplicas: 0, maxReplicas: 5, downWindowSeconds: 30, idleSeconds: 120 },
    ],
  ])('%s', (_name, autoscaling, expected) => {
    expect(requestPolicyOf(autoscaling)).toEqual(expected);
  });

  it('keeps readings for the longest window plus the metric window', () => {
    expect(ringSecondsFor({ ...POLICY, idleSeconds: 120 })).toBe(126);
    expect(ringSecondsFor(POLICY)).toBe(66);
  });
});

describe('loadAt: a revision’s load from the routers’ readings', () => {
  it('is the mean concurrency over the last 6 s, summed over router pods', () => {
    const readings: StatsReading[] = [0, 6].map((s) => ({
      at: T0 + s * 1000,
      documents: [
        doc({ pod: 'a', at: s, busyMs: s * 3000, requests: s * 10 }),
        doc({ pod: 'b', at: s, busyMs: s * 1500, requests: s * 20 }),
      ],
    }));
    expect(loadAt(readings, 1, [ROUTE], 'concurrency')).toBeCloseTo(4.5);
    expect(loadAt(readings, 1, [ROUTE], 'rps')).toBeCloseTo(30);
  });

  it('reads only the last 6 s when the ring reaches further back', () => {
    const readings = [...steady(0, 10, 1), ...steady(11, 20, 8, { busyMs: 11_000, requests: 110 })];
    // 8 in flight since second 11: the last 6 s see only those.
    expect(loadAt(readings, readings.length - 1, [ROUTE], 'concurrency')).toBeCloseTo(8);
  });

  it('measures a router pod that restarted from its new start, when its counters were zero', () => {
    const readings: StatsReading[] = [
      { at: T0, documents: [doc({ at: 0, busyMs: 900_000, requests: 5000 })] },
      {
        at: T0 + 6000,
        documents: [doc({ at: 6, startedAt: T0 + 2000, busyMs: 8000, requests: 40 })],
      },
    ];
    expect(loadAt(readings, 1, [ROUTE], 'concurrency')).toBeCloseTo(2);
    expect(loadAt(readings, 1, [ROUTE], 'rps')).toBeCloseTo(10);
  });

  it('sums the revisions named (a stable during a canary is sized on all of them)', () => {
    const readings: StatsReading[] = [0, 6].map((s) => ({
      at: T0 + s * 1000,
      documents: [
        doc({ pod: 'a', at: s, busyMs: s * 3000, requests: 0 }),
        doc({ pod: 'b', at: s, busyMs: s * 1000, requests: 0, route: OTHER }),
      ],
    }));
    expect(loadAt(readings, 1, [ROUTE, OTHER], 'concurrency')).toBeCloseTo(4);
    expect(loadAt(readings, 1, [ROUTE], 'concurrency')).toBeCloseTo(3);
  });

  it('leaves out a router pod gone quiet, and knows nothing when no pod reports load', () => {
    const stale = doc({ pod: 'gone', at: -60, busyMs: 0, requests: 0, inFlight: 9 });
    const readings: StatsReading[] = [
      { at: T0, documents: [stale, doc({ at: 0, busyMs: 0, requests: 0, inFlight: 1 })] },
    ];
    expect(inFlightAt(readings[0], [ROUTE])).toEqual({ inFlight: 1, held: 0 });
    const old = doc({ at: 0, busyMs: 0, requests: 0 });
    delete old.revisions[ROUTE]!.load;
    expect(loadAt([{ at: T0, documents: [old] }], 0, [ROUTE], 'concurrency')).toBeUndefined();
  });
});

describe('idleFor: no live request for a while', () => {
  it('is idle only once the ring covers the whole time without a request', () => {
    const quiet = steady(0, 30, 0);
    expect(idleFor(quiet, 30, [ROUTE], 20)).toBe(true);
    expect(idleFor(quiet, 10, [ROUTE], 20)).toBeUndefined();
  });

  it('is not idle after one request inside the window, even one shorter than a reading', () => {
    const readings = steady(0, 30, 0);
    readings[25]!.documents[0]!.revisions[ROUTE]!.live.requests = 1;
    for (const r of readings.slice(26)) r.documents[0]!.revisions[ROUTE]!.live.requests = 1;
    expect(idleFor(readings, 30, [ROUTE], 20)).toBe(false);
  });
});

describe('rawRecommendation', () => {
  it.each([
    [0, 1],
    [3.9, 1],
    [8, 2],
    [8.0000000001, 2],
    [13.2, 4],
    [400, 10],
  ])('load %d against 4 per pod → %d', (load, replicas) => {
    expect(rawRecommendation(POLICY, load)).toBe(replicas);
  });
});

describe('decideScale', () => {
  const at = (readings: StatsReading[]) => readings;

  it.each<[string, Parameters<typeof decideScale>[0], { desired: number; reason: string; message?: RegExp }]>([
    [
      'scales up at once on load (scale-up window 0)',
      {
        policy: POLICY,
        readings: at([...steady(0, 10, 1), ...steady(11, 20, 13.2, { busyMs: 11_000, requests: 110 })]),
        routes: [ROUTE],
        current: 1,
        mayIdle: true,
      },
      { desired: 4, reason: 'Load', message: /^load 13.2 in flight against a target of 4 per pod: 4 replica\(s\)$/ },
    ],
    [
      'holds a scale down for the down window',
      {
        policy: POLICY,
        readings: at([...steady(0, 60, 16), ...steady(61, 90, 4, { busyMs: 976_000, requests: 9760 })]),
        routes: [ROUTE],
        current: 4,
        mayIdle: true,
      },
      { desired: 4, reason: 'Load', message: /1 now, held at 4 by the scale-down window of 60s/ },
    ],
    [
      'scales down to the highest recommendation of the down window',
      {
        policy: POLICY,
        readings: at([...steady(0, 60, 16), ...steady(61, 140, 4, { busyMs: 976_000, requests: 9760 })]),
        routes: [ROUTE],
        current: 4,
        mayIdle: true,
      },
      { desired: 1, reason: 'Load' },
    ],
    [
      'with a scale-up window, scales up to the lowest recommendation in it',
      {
        policy: { ...POLICY, upWindowSeconds: 30 },
        readings: at([...steady(0, 20, 4), ...steady(21, 40, 16, { busyMs: 84_000, requests: 840 })]),
        routes: [ROUTE],
        current: 1,
        mayIdle: true,
      },
      { desired: 1, reason: 'Load', message: /4 now, held at 1 by the scale-up window of 30s/ },
    ],
    [
      'keeps what runs while the ring covers less than the metric window (operator restart)',
      { policy: POLICY, readings: at(steady(0, 3, 40)), routes: [ROUTE], current: 3, mayIdle: true },
      { desired: 3, reason: 'NoData', message: /router stats cover 3s of the 6s metric window: keeping 3/ },
    ],
    [
      'after a restart, scales up on a full metric window but waits for the down window to scale down',
      { policy: POLICY, readings: at(steady(0, 10, 1)), routes: [ROUTE], current: 5, mayIdle: true },
      { desired: 5, reason: 'NoData', message: /scale down waits for 60s of router stats \(have 10s\)/ },
    ],
    [
      'keeps the bounds when the spec changed them',
      {
        policy: { ...POLICY, minReplicas: 2, maxReplicas: 3 },
        readings: at(steady(0, 3, 1)),
        routes: [ROUTE],
        current: 8,
        mayIdle: true,
      },
      { desired: 3, reason: 'NoData' },
    ],
    [
      'scales to zero after idleSeconds without a request',
      {
        policy: { ...POLICY, minReplicas: 0, idleSeconds: 30 },
        readings: at(steady(0, 40, 0)),
        routes: [ROUTE],
        current: 2,
        mayIdle: true,
      },
      { desired: 0, reason: 'Idle', message: /no request for 30s \(idleSeconds\): scaling 2 to zero/ },
    ],
    [
      'never idles a revision that may not (a stable during a canary)',
      {
        policy: { ...POLICY, minReplicas: 0, idleSeconds: 30 },
        readings: at(steady(0, 100, 0)),
        routes: [ROUTE],
        current: 2,
        mayIdle: false,
      },
      { desired: 1, reason: 'Load' },
    ],
    [
      'stays at zero with nothing held',
      {
        policy: { ...POLICY, minReplicas: 0, idleSeconds: 30 },
        readings: at(steady(0, 40, 0)),
        routes: [ROUTE],
        current: 0,
        mayIdle: true,
      },
      { desired: 0, reason: 'Idle' },
    ],
    [
      'activates at once from zero when requests are held, even with an empty ring',
      {
        policy: { ...POLICY, minReplicas: 0, idleSeconds: 30 },
        readings: [{ at: T0, documents: [doc({ at: 0, busyMs: 0, requests: 0, inFlight: 9, held: 9 })] }],
        routes: [ROUTE],
        current: 0,
        mayIdle: true,
      },
      { desired: 3, reason: 'Activation', message: /^9 request\(s\) held, 9 in flight at zero replicas: starting 3$/ },
    ],
    [
      'starts a new revision at one pod even with minReplicas 0',
      {
        policy: { ...POLICY, minReplicas: 0, idleSeconds: 30 },
        readings: [],
        routes: [ROUTE],
        current: undefined,
        mayIdle: true,
      },
      { desired: 1, reason: 'NoData' },
    ],
    [
      'sizes requests per second against their target',
      {
        policy: { ...POLICY, metric: 'rps', target: 50 },
        readings: at(steady(0, 10, 12)),
        routes: [ROUTE],
        current: 1,
        mayIdle: true,
      },
      { desired: 3, reason: 'Load', message: /^load 120 requests\/s against a target of 50 per pod: 3 replica\(s\)$/ },
    ],
  ])('%s', (_name, input, expected) => {
    const decision = decideScale(input);
    expect(decision).toMatchObject({ desired: expected.desired, reason: expected.reason });
    if (expected.message) expect(decision.message).toMatch(expected.message);
  });
});
