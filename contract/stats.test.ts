import {
  countRequest,
  emptyStatsDocument,
  isErrorOutcome,
  outcomeClass,
  parseStatsData,
  quantileMs,
  statsSnapshot,
  subtractTraffic,
} from './stats.js';

const T0 = new Date('2026-11-21T06:00:00.000Z');

describe('outcomes', () => {
  it.each([
    [200, '2xx', false],
    [404, '4xx', false],
    [503, '5xx', true],
    ['timeout', 'timeout', true],
    ['unreachable', 'unreachable', true],
  ] as const)('%s counts as %s (error: %s)', (outcome, cls, error) => {
    expect(outcomeClass(outcome)).toBe(cls);
    expect(isErrorOutcome(outcome)).toBe(error);
  });
});

describe('window arithmetic', () => {
  it('subtracts two readings and estimates quantiles from the window', () => {
    const s = emptyStatsDocument('p', new Date(0));
    for (let i = 0; i < 100; i++) countRequest(s, 'a', 'live', 200, 3);
    const earlier = statsSnapshot(s, new Date(1), 1).revisions.a.live;
    for (let i = 0; i < 99; i++) countRequest(s, 'a', 'live', 200, 20);
    countRequest(s, 'a', 'live', 500, 400);
    const window = subtractTraffic(statsSnapshot(s, new Date(2), 1).revisions.a.live, earlier);
    expect(window).toMatchObject({ requests: 100, errors: 1, codes: { '2xx': 99, '5xx': 1 } });
    expect(quantileMs(window.latencyMs, 0.5)).toBeGreaterThan(10);
    expect(quantileMs(window.latencyMs, 0.5)).toBeLessThanOrEqual(25);
    expect(quantileMs(window.latencyMs, 0.995)).toBeGreaterThan(250);
    expect(quantileMs(window.latencyMs, 0.995)).toBeLessThanOrEqual(500);
  });

  it('has no quantile without observations', () => {
    const s = emptyStatsDocument('p', new Date(0));
    countRequest(s, 'a', 'mirror', 200, 1);
    expect(quantileMs(statsSnapshot(s, new Date(0), 1).revisions.a.live.latencyMs, 0.99)).toBeUndefined();
  });
});

describe('parseStatsData', () => {
  it('reads every pod document and reports broken keys without dropping the others', () => {
    const good = statsSnapshot(emptyStatsDocument('router-a', T0), new Date(T0.getTime() + 5000), 3);
    const { documents, errors } = parseStatsData({
      'router-a.json': JSON.stringify(good),
      'router-b.json': '{not json',
      'router-c.json': JSON.stringify({ ...good, pod: 'router-c', version: 2 }),
      README: 'ignored: not a .json key',
    });
    expect(documents).toEqual([good]);
    expect(errors).toEqual([
      expect.stringMatching(/^router-b\.json: invalid JSON/),
      'router-c.json: version: must be 1, got 2',
    ]);
  });

  it('treats a missing data section as no documents', () => {
    expect(parseStatsData(undefined)).toEqual({ documents: [], errors: [] });
  });
});
