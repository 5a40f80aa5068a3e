import { countLabels } from '../../../contract/accuracy.js';
import {
  countComparison,
  countRequest,
  emptyStatsDocument,
  emptyTraffic,
  statsSnapshot,
  type RouterStatsDocument,
} from '../../../contract/stats.js';
import {
  analyse,
  analysisLimitsOf,
  figuresOf,
  percent,
  trafficWindow,
  verdictOf,
  type WindowFigures,
} from './analysis.js';

const T0 = new Date('2026-11-21T06:00:00.000Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);

/** Counts `n` requests of one outcome and latency into a router pod's document, as the router counts them. */
function record(
  stats: RouterStatsDocument,
  route: string,
  n: number,
  outcome: number | 'timeout' = 200,
  latencyMs = 3,
  kind: 'live' | 'mirror' = 'live',
): void {
  for (let i = 0; i < n; i++) countRequest(stats, route, kind, outcome, latencyMs);
}

function agree(stats: RouterStatsDocument, route: string, agreed: number, disagreed: number): void {
  for (let i = 0; i < agreed; i++) countComparison(stats, route, true, 0);
  for (let i = 0; i < disagreed; i++) countComparison(stats, route, false, 0.5);
}

/** Counts joined labels into a router pod's document, as the router counts them. */
function label(stats: RouterStatsDocument, route: string, correct: number, wrong: number): void {
  const rev = (stats.revisions[route] ??= { live: emptyTraffic(), mirror: emptyTraffic() });
  rev.accuracy = countLabels(rev.accuracy, correct + wrong, correct);
}

const snap = (stats: RouterStatsDocument, seconds: number): RouterStatsDocument => statsSnapshot(stats, at(seconds), 3);

describe('trafficWindow', () => {
  it('subtracts readings of the same pod and sums pods', () => {
    const a = emptyStatsDocument('router-a', T0);
    const b = emptyStatsDocument('router-b', T0);
    record(a, 'stable', 500);
    record(b, 'stable', 300);
    const previous = [snap(a, 10), snap(b, 10)];
    record(a, 'stable', 90);
    record(a, 'canary', 10, 503);
    record(b, 'stable', 45);
    record(b, 'canary', 5);
    agree(b, 'canary', 4, 1);
    const w = trafficWindow(previous, [snap(a, 20), snap(b, 21)]);
    expect(w.from).toBe(at(10).toISOString());
    expect(w.to).toBe(at(21).toISOString());
    expect(w.revisions.stable!.live.requests).toBe(135);
    expect(w.revisions.canary!.live).toMatchObject({ requests: 15, errors: 10, codes: { '5xx': 10, '2xx': 5 } });
    expect(w.agreement.canary).toEqual({ compared: 5, agreed: 4 });
    expect(w.restartedPods).toEqual([]);
  });

  it('counts a restarted pod from its new start and never goes negative', () => {
    const old = emptyStatsDocument('router-a', T0);
    record(old, 'canary', 1000);
    const previous = [snap(old, 10)];
    const restarted = emptyStatsDocument('router-a', at(12));
    record(restarted, 'canary', 40, 200);
    const w = trafficWindow(previous, [snap(restarted, 20)]);
    expect(w.revisions.canary!.live.requests).toBe(40);
    expect(w.restartedPods).toEqual(['router-a']);
  });

  it('treats counters that went backwards under the same startTime as a restart', () => {
    const before = emptyStatsDocument('router-a', T0);
    record(before, 'canary', 100);
    const reset = emptyStatsDocument('router-a', T0);
    record(reset, 'canary', 7);
    const w = trafficWindow([snap(before, 10)], [snap(reset, 20)]);
    expect(w.revisions.canary!.live.requests).toBe(7);
    expect(w.restartedPods).toEqual(['router-a']);
  });

  it('counts a pod that started inside the window, skips one that predates it', () => {
    const a = emptyStatsDocument('router-a', T0);
    const previous = [snap(a, 10)];
    const scaledUp = emptyStatsDocument('router-b', at(15));
    record(scaledUp, 'canary', 20);
    const unknown = emptyStatsDocument('router-c', at(5));
    record(unknown, 'canary', 999);
    const w = trafficWindow(previous, [snap(a, 20), snap(scaledUp, 20), snap(unknown, 20)]);
    expect(w.revisions.canary!.live.requests).toBe(20);
    expect(w.restartedPods).toEqual(['router-b']);
    expect(w.skippedPods).toEqual(['router-c: no earlier reading and started before the window']);
  });

  it("starts the window at the live pods' previous readings, not at a gone pod's stale key", () => {
    const gone = snap(emptyStatsDocument('router-old', T0), 2);
    const live = emptyStatsDocument('router-new', at(30));
    const before = snap(live, 40);
    record(live, 'digits-b', 7);
    const window = trafficWindow([gone, before], [gone, snap(live, 50)]);
    expect(window.from).toBe(at(40).toISOString());
    expect(window.revisions['digits-b']!.live.requests).toBe(7);
  });

  it('counts the labels joined in the window, per revision, summed over pods, a restarted pod from its start', () => {
    const a = emptyStatsDocument('router-a', T0);
    const b = emptyStatsDocument('router-b', T0);
    label(a, 'canary', 40, 10);
    label(a, 'stable', 5, 0);
    const previous = [snap(a, 10), snap(b, 10)];
    label(a, 'canary', 8, 2);
    label(b, 'canary', 3, 7);
    const restarted = emptyStatsDocument('router-b', at(12));
    label(restarted, 'canary', 1, 1);
    expect(trafficWindow(previous, [snap(a, 20), snap(b, 20)]).accuracy).toEqual({
      canary: { labelled: 20, correct: 11 },
      stable: { labelled: 0, correct: 0 },
    });
    const w = trafficWindow(previous, [snap(a, 20), snap(restarted, 20)]);
    expect(w.accuracy.canary).toEqual({ labelled: 12, correct: 9 });
    expect(w.restartedPods).toEqual(['router-b']);
  });

  it('treats fewer labels than before under the same startTime as a restart', () => {
    const before = emptyStatsDocument('router-a', T0);
    label(before, 'canary', 100, 0);
    const reset = emptyStatsDocument('router-a', T0);
    label(reset, 'canary', 2, 3);
    const w = trafficWindow([snap(before, 10)], [snap(reset, 20)]);
    expect(w.accuracy.canary).toEqual({ labelled: 5, correct: 2 });
    expect(w.restartedPods).toEqual(['router-a']);
  });

  it('is empty without a previous reading: the first check only sets the baseline', () => {
    const a = emptyStatsDocument('router-a', T0);
    record(a, 'canary', 100);
    const w = trafficWindow([], [snap(a, 10)]);
    expect(w.revisions).toEqual({});
    expect(w.skippedPods).toHaveLength(1);
  });
});

describe('figuresOf', () => {
  it('computes error rate, p99 and agreement for live or mirror traffic', () => {
    const a = emptyStatsDocument('router-a', T0);
    const previous = [snap(a, 0)];
    record(a, 'canary', 98, 200, 3);
    record(a, 'canary', 2, 'timeout', 2000);
    record(a, 'canary', 30, 200, 40, 'mirror');
    agree(a, 'canary', 29, 1);
    const w = trafficWindow(previous, [snap(a, 10)]);
    const live = figuresOf(w, 'canary');
    expect(live).toMatchObject({ requests: 100, errors: 2, errorRate: 0.02, compared: 30, agreed: 29 });
    expect(live.latencyP99Ms).toBeGreaterThan(1000);
    expect(live.agreement).toBeCloseTo(29 / 30);
    const mirror = figuresOf(w, 'canary', 'mirror');
    expect(mirror).toMatchObject({ requests: 30, errors: 0, errorRate: 0 });
    expect(mirror.latencyP99Ms).toBeGreaterThan(25);
    expect(mirror.latencyP99Ms).toBeLessThanOrEqual(50);
    expect(figuresOf(w, 'nobody')).toEqual({ requests: 0, errors: 0, compared: 0, agreed: 0 });
  });

  it('computes accuracy from the labels joined with live predictions only', () => {
    const a = emptyStatsDocument('router-a', T0);
    const previous = [snap(a, 0)];
    label(a, 'canary', 45, 5);
    label(a, 'idle', 0, 0);
    const w = trafficWindow(previous, [snap(a, 10)]);
    expect(figuresOf(w, 'canary')).toMatchObject({ labels: 50, correct: 45, accuracy: 0.9 });
    expect(figuresOf(w, 'canary', 'mirror')).not.toHaveProperty('labels');
    expect(figuresOf(w, 'idle')).toEqual({ requests: 0, errors: 0, compared: 0, agreed: 0, labels: 0, correct: 0 });
  });
});

describe('verdictOf', () => {
  const limits = analysisLimitsOf({ maxErrorRate: 0.01, maxLatencyP99Ms: 250, minRequests: 50, minAgreement: 0.98 });
  const fig = (f: Partial<WindowFigures>): WindowFigures => {
    const base: WindowFigures = { requests: 0, errors: 0, compared: 0, agreed: 0, ...f };
    if (base.requests > 0 && base.errorRate === undefined) base.errorRate = base.errors / base.requests;
    if (base.compared > 0 && base.agreement === undefined) base.agreement = base.agreed / base.compared;
    return base;
  };
  const stable = fig({ requests: 900, errors: 0, latencyP99Ms: 12 });

  it.each<[string, Partial<WindowFigures>, boolean, string, string[]]>([
    ['healthy', { requests: 100, errors: 1, latencyP99Ms: 20 }, false, 'Passed', []],
    ['exactly at the error limit', { requests: 100, errors: 1, latencyP99Ms: 250 }, false, 'Passed', []],
    ['erroring', { requests: 119, errors: 5, latencyP99Ms: 20 }, false, 'Failed', ['error rate 4.2% > 1% (stable 0%)']],
    ['slow', { requests: 100, latencyP99Ms: 312.5 }, false, 'Failed', ['p99 latency 312.5ms > 250ms (stable 12ms)']],
    [
      'erroring and slow: every reason',
      { requests: 100, errors: 3, latencyP99Ms: 900 },
      false,
      'Failed',
      ['error rate 3% > 1% (stable 0%)', 'p99 latency 900ms > 250ms (stable 12ms)'],
    ],
    [
      'disagreeing',
      { requests: 100, compared: 100, agreed: 90 },
      false,
      'Failed',
      ['agreement 90% < 98% (90/100 mirrored responses agreed)'],
    ],
    ['too few requests', { requests: 12, latencyP99Ms: 900 }, false, 'Inconclusive', ['12 requests < 50 minimum']],
    ['no traffic at all', {}, false, 'Inconclusive', ['0 requests < 50 minimum']],
    [
      'failing every request at low traffic',
      { requests: 3, errors: 3 },
      false,
      'Failed',
      ['3 errors in 3 requests: more than 1% of the 50 minimum'],
    ],
    [
      'one stray error at low traffic',
      { requests: 10, errors: 1 },
      false,
      'Inconclusive',
      ['10 requests < 50 minimum'],
    ],
    [
      'disagreeing early in shadow',
      { requests: 10, compared: 10, agreed: 7 },
      true,
      'Failed',
      ['3 of 10 mirrored responses disagreed: more than 2% of the 50 minimum'],
    ],
    [
      'shadow without comparisons',
      { requests: 80 },
      true,
      'Inconclusive',
      ['0 mirrored responses compared < 50 minimum'],
    ],
    ['live without mirroring: agreement not judged', { requests: 80 }, false, 'Passed', []],
  ])('%s', (_name, candidate, shadow, result, reasons) => {
    const v = verdictOf(fig(candidate), stable, limits, shadow);
    expect(v.result).toBe(result);
    expect(v.reasons).toEqual(reasons);
    expect(v.message).toEqual(result === 'Passed' ? expect.stringMatching(/requests, error rate/) : reasons.join('; '));
  });

  describe('accuracy', () => {
    const accuracyLimits = analysisLimitsOf({ minRequests: 50, minAccuracy: 0.9, minLabels: 40 });
    const withLabels = (labels: number, correct: number): Partial<WindowFigures> => ({
      requests: 100,
      labels,
      correct,
      ...(labels > 0 ? { accuracy: correct / labels } : {}),
    });
    const stableLabelled = fig({ requests: 900, labels: 200, correct: 194, accuracy: 0.97 });

    it.each<[string, Partial<WindowFigures>, boolean, string, string[]]>([
      ['accurate', withLabels(40, 38), false, 'Passed', []],
      ['exactly at the limit', withLabels(50, 45), false, 'Passed', []],
      [
        'inaccurate',
        withLabels(40, 20),
        false,
        'Failed',
        ['accuracy 50% < 90% (20/40 labelled rows right) (stable 97%)'],
      ],
      ['too few labels', withLabels(39, 39), false, 'Inconclusive', ['39 labels < 40 minimum']],
      ['no labels yet', withLabels(0, 0), false, 'Inconclusive', ['0 labels < 40 minimum']],
      [
        'so many wrong that no later label can lift it',
        withLabels(10, 5),
        false,
        'Failed',
        ['5 of 10 labelled rows wrong: more than 10% of the 40 minimum'],
      ],
      ['a few wrong at low labels', withLabels(10, 7), false, 'Inconclusive', ['10 labels < 40 minimum']],
      [
        'shadowing: no live predictions, accuracy not judged',
        { requests: 80, compared: 80, agreed: 80 },
        true,
        'Passed',
        [],
      ],
      [
        'inaccurate and erroring: both reasons',
        { ...withLabels(40, 0), errors: 10 },
        false,
        'Failed',
        ['error rate 10% > 1% (stable 0%)', 'accuracy 0% < 90% (0/40 labelled rows right) (stable 97%)'],
      ],
    ])('%s', (_name, candidate, shadow, result, reasons) => {
      const v = verdictOf(fig(candidate), stableLabelled, accuracyLimits, shadow);
      expect(v.result).toBe(result);
      expect(v.reasons).toEqual(reasons);
      expect(v.broken).toEqual(
        result === 'Failed' ? reasons.map((r) => (r.startsWith('error') ? 'errorRate' : 'accuracy')) : [],
      );
      expect(v.message).toEqual(
        result === 'Passed' ? expect.stringMatching(/requests, error rate/) : reasons.join('; '),
      );
    });

    it('says the accuracy in a passing message', () => {
      expect(verdictOf(fig(withLabels(40, 38)), undefined, accuracyLimits).message).toBe(
        '100 requests, error rate 0%, accuracy 95% of 40 labels',
      );
    });

    it('leaves a rollout that does not ask for accuracy alone, labels or not', () => {
      expect(verdictOf(fig(withLabels(0, 0)), undefined, analysisLimitsOf({ minRequests: 50 })).result).toBe('Passed');
      expect(verdictOf(fig(withLabels(100, 0)), undefined, analysisLimitsOf({ minRequests: 50 })).result).toBe(
        'Passed',
      );
    });

    it('needs 50 labels unless the spec says otherwise', () => {
      expect(analysisLimitsOf({ minAccuracy: 0.9 })).toMatchObject({ minAccuracy: 0.9, minLabels: 50 });
      expect(analysisLimitsOf(undefined)).not.toHaveProperty('minAccuracy');
    });
  });

  it('does not check latency or agreement when the spec sets no limit', () => {
    const v = verdictOf(
      fig({ requests: 60, latencyP99Ms: 9000, compared: 60, agreed: 0 }),
      undefined,
      analysisLimitsOf(undefined),
    );
    expect(v.result).toBe('Passed');
  });
});

describe('analyse', () => {
  it('judges the candidate on mirror traffic while it shadows and on live traffic after', () => {
    const a = emptyStatsDocument('router-a', T0);
    const previous = [snap(a, 0)];
    record(a, 'stable', 100);
    record(a, 'canary', 100, 500, 3, 'mirror');
    agree(a, 'canary', 0, 0);
    const current = [snap(a, 10)];
    const spec = { minRequests: 50 };
    const shadow = analyse(previous, current, { stable: 'stable', candidate: 'canary' }, spec, true);
    expect(shadow.result).toBe('Failed');
    expect(shadow.reasons).toEqual(['error rate 100% > 1% (stable 0%)']);
    const live = analyse(previous, current, { stable: 'stable', candidate: 'canary' }, spec, false);
    expect(live.result).toBe('Inconclusive');
  });
});

describe('analyse with accuracy', () => {
  it('fails a candidate whose labels in the window show it inaccurate, and puts the figures in the verdict', () => {
    const a = emptyStatsDocument('router-a', T0);
    label(a, 'canary', 50, 0); // before the window: not judged again
    const previous = [snap(a, 0)];
    record(a, 'stable', 100);
    record(a, 'canary', 100);
    label(a, 'stable', 58, 2);
    label(a, 'canary', 1, 59);
    const v = analyse(previous, [snap(a, 10)], { stable: 'stable', candidate: 'canary' }, { minAccuracy: 0.8 });
    expect(v.result).toBe('Failed');
    expect(v.broken).toEqual(['accuracy']);
    expect(v.candidate).toMatchObject({ labels: 60, correct: 1 });
    expect(v.message).toBe('accuracy 1.67% < 80% (1/60 labelled rows right) (stable 96.67%)');
  });
});

describe('percent', () => {
  it.each([
    [0.042, '4.2%'],
    [0.01, '1%'],
    [1, '100%'],
    [0.98765, '98.77%'],
  ])('%p → %s', (share, text) => {
    expect(percent(share)).toBe(text);
  });
});
