import { RouterMetrics, latencyMetric } from './metrics.js';
import { RouterStats } from './stats.js';

describe('RouterMetrics', () => {
  it('renders requests, errors, latency and agreement from the stats as they are at scrape time', async () => {
    const stats = new RouterStats('p', new Date('2026-11-21T06:00:00Z'));
    const metrics = new RouterMetrics(stats);
    let inFlight = 3;
    metrics.countInFlight(() => inFlight);
    stats.record('stable', 'live', 200, 0.5);
    stats.record('stable', 'live', 204, 30);
    stats.record('stable', 'live', 503, 2);
    stats.record('canary', 'live', 'timeout', 40_000);
    stats.record('canary', 'mirror', 200, 7);
    stats.recordAgreement('canary', true, 0.25);
    stats.recordAgreement('canary', false, 0.5);
    const text = await metrics.registry.metrics();
    for (const line of [
      'modelship_router_requests_total{revision="stable",kind="live",outcome="2xx"} 2',
      'modelship_router_requests_total{revision="stable",kind="live",outcome="5xx"} 1',
      'modelship_router_requests_total{revision="canary",kind="live",outcome="timeout"} 1',
      'modelship_router_requests_total{revision="canary",kind="mirror",outcome="2xx"} 1',
      'modelship_router_errors_total{revision="stable",kind="live"} 1',
      'modelship_router_errors_total{revision="canary",kind="live"} 1',
      'modelship_router_request_duration_seconds_bucket{revision="stable",kind="live",le="0.001"} 1',
      'modelship_router_request_duration_seconds_bucket{revision="stable",kind="live",le="0.0025"} 2',
      'modelship_router_request_duration_seconds_bucket{revision="stable",kind="live",le="0.025"} 2',
      'modelship_router_request_duration_seconds_bucket{revision="stable",kind="live",le="0.05"} 3',
      'modelship_router_request_duration_seconds_bucket{revision="stable",kind="live",le="+Inf"} 3',
      'modelship_router_request_duration_seconds_sum{revision="stable",kind="live"} 0.0325',
      'modelship_router_request_duration_seconds_count{revision="stable",kind="live"} 3',
      'modelship_router_request_duration_seconds_bucket{revision="canary",kind="live",le="30"} 0',
      'modelship_router_request_duration_seconds_bucket{revision="canary",kind="live",le="+Inf"} 1',
      'modelship_router_mirror_compared_total{revision="canary"} 2',
      'modelship_router_mirror_agreed_total{revision="canary"} 1',
      'modelship_router_mirror_max_abs_diff{revision="canary"} 0.5',
      'modelship_router_requests_in_flight 3',
    ]) {
      expect(text.split('\n')).toContain(line);
    }
    expect(text).toContain('# TYPE modelship_router_request_duration_seconds histogram');
    // No errors counted for a revision that had none of that kind; nothing rendered for empty kinds.
    expect(text).not.toMatch(/errors_total\{revision="canary",kind="mirror"\}/);
    expect(text).not.toMatch(/duration_seconds_count\{revision="stable",kind="mirror"\}/);

    // A later scrape sees later traffic, not a sum of scrapes.
    stats.record('stable', 'live', 200, 1);
    inFlight = 0;
    const later = (await metrics.registry.metrics()).split('\n');
    expect(later).toContain('modelship_router_requests_total{revision="stable",kind="live",outcome="2xx"} 3');
    expect(later).toContain('modelship_router_requests_in_flight 0');
  });

  it('counts connect retries per revision, rendering none before the first', async () => {
    const metrics = new RouterMetrics(new RouterStats('p', new Date()));
    expect(await metrics.registry.metrics()).not.toContain('modelship_router_connect_retries_total{');
    metrics.connectRetries.inc({ revision: 'canary' });
    metrics.connectRetries.inc({ revision: 'canary' });
    expect((await metrics.registry.metrics()).split('\n')).toContain(
      'modelship_router_connect_retries_total{revision="canary"} 2',
    );
  });

  it('renders in-flight and held requests per revision and counts how held requests ended', async () => {
    const stats = new RouterStats('p', new Date(), () => 0);
    const metrics = new RouterMetrics(stats);
    const a = stats.load('a');
    a.start();
    a.start();
    a.hold();
    metrics.holdEnded('a', 'released', 1_500);
    metrics.holdEnded('a', 'timeout', 60_000);
    metrics.holdEnded('a', 'full', 0);
    const text = (await metrics.registry.metrics()).split('\n');
    for (const line of [
      'modelship_router_in_flight{revision="a"} 2',
      'modelship_router_held{revision="a"} 1',
      'modelship_router_held_requests_total{revision="a",outcome="released"} 1',
      'modelship_router_held_requests_total{revision="a",outcome="timeout"} 1',
      'modelship_router_held_requests_total{revision="a",outcome="full"} 1',
      'modelship_router_hold_seconds_bucket{le="2",revision="a"} 1',
      'modelship_router_hold_seconds_bucket{le="60",revision="a"} 2',
      // A request refused because the queue was full was never held: no wait observed.
      'modelship_router_hold_seconds_count{revision="a"} 2',
    ]) {
      expect(text).toContain(line);
    }
  });

  it('reflects the routes in force and rejected documents', async () => {
    const metrics = new RouterMetrics(new RouterStats('p', new Date()));
    expect(await metrics.registry.metrics()).toContain('modelship_router_routes_generation -1');
    metrics.routesApplied({
      version: 1,
      generation: 4,
      revisions: [
        { name: 'a', url: 'http://a', weight: 90 },
        { name: 'b', url: 'http://b', weight: 10 },
      ],
    });
    metrics.routesApplied({ version: 1, generation: 5, revisions: [{ name: 'a', url: 'http://a', weight: 100 }] });
    metrics.routesRejected();
    const text = await metrics.registry.metrics();
    expect(text).toContain('modelship_router_routes_generation 5');
    expect(text).toContain('modelship_router_route_weight{revision="a"} 100');
    expect(text).not.toContain('modelship_router_route_weight{revision="b"}');
    expect(text).toContain('modelship_router_routes_updates_total{result="applied"} 2');
    expect(text).toContain('modelship_router_routes_updates_total{result="rejected"} 1');
  });
});

describe('latencyMetric', () => {
  it('has no values before any traffic', () => {
    expect(latencyMetric({}).values).toEqual([]);
  });
});
