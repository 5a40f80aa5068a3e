/**
 * The router's Prometheus metrics, on its own Registry (never prom-client's global one, so several
 * routers or a router and a server can live in one process in tests).
 *
 * Per-request traffic (requests, errors, latency, mirror agreement) is counted once, in
 * {@link RouterStats}, and rendered from it when scraped: updating prom-client metrics per request
 * cost ~3 µs (label validation and hashing on every call), the stats' plain counters ~0.1 µs.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Routes } from '../../../contract/routes.js';
import type { RouterStatsDocument, TrafficKind } from '../../../contract/stats.js';
import type { RouterStats } from './stats.js';

const LATENCY_NAME = 'modelship_router_request_duration_seconds';

/** A metric as prom-client's Registry renders it (what a registered metric's `get()` returns). */
export interface RenderedMetric {
  name: string;
  help: string;
  type: 'histogram';
  aggregator: 'sum';
  values: { metricName: string; labels: Record<string, string | number>; value: number }[];
}

/**
 * The latency histogram in Prometheus' form (seconds, cumulative `_bucket`s with `le`, `_sum`,
 * `_count`) from a stats document's per-revision millisecond histograms.
 */
export function latencyMetric(revisions: RouterStatsDocument['revisions']): RenderedMetric {
  const values: RenderedMetric['values'] = [];
  for (const [revision, byKind] of Object.entries(revisions)) {
    for (const kind of ['live', 'mirror'] as TrafficKind[]) {
      const h = byKind[kind].latencyMs;
      if (h.count === 0) continue;
      h.le.forEach((le, i) =>
        values.push({
          metricName: `${LATENCY_NAME}_bucket`,
          labels: { revision, kind, le: le / 1000 },
          value: h.counts[i],
        }),
      );
      values.push({ metricName: `${LATENCY_NAME}_bucket`, labels: { revision, kind, le: '+Inf' }, value: h.count });
      values.push({ metricName: `${LATENCY_NAME}_sum`, labels: { revision, kind }, value: h.sum / 1000 });
      values.push({ metricName: `${LATENCY_NAME}_count`, labels: { revision, kind }, value: h.count });
    }
  }
  return {
    name: LATENCY_NAME,
    help: 'Time from dispatch to the last byte of the backend response.',
    type: 'histogram',
    aggregator: 'sum',
    values,
  };
}

/** Router metrics and the hooks the route source calls. */
export class RouterMetrics {
  readonly registry = new Registry();
  /** Where the in-flight count is read at scrape time (the proxy's own counter). */
  private inFlightSource: () => number = () => 0;

  /** @param stats the per-revision traffic counted by the proxy; rendered at each scrape */
  constructor(private readonly stats: RouterStats) {
    collectDefaultMetrics({ register: this.registry });
    const doc = () => this.stats.snapshot(new Date(), null);
    new Counter({
      name: 'modelship_router_requests_total',
      help: 'Requests proxied to a revision, by kind (live or mirror) and outcome (2xx..5xx, timeout, unreachable).',
      labelNames: ['revision', 'kind', 'outcome'] as const,
      registers: [this.registry],
      collect(this: Counter<'revision' | 'kind' | 'outcome'>) {
        this.reset();
        for (const [revision, byKind] of Object.entries(doc().revisions)) {
          for (const kind of ['live', 'mirror'] as const) {
            for (const [outcome, n] of Object.entries(byKind[kind].codes)) this.inc({ revision, kind, outcome }, n);
          }
        }
      },
    });
    new Counter({
      name: 'modelship_router_errors_total',
      help: 'Proxied requests that failed: status >= 500, timeout or unreachable backend.',
      labelNames: ['revision', 'kind'] as const,
      registers: [this.registry],
      collect(this: Counter<'revision' | 'kind'>) {
        this.reset();
        for (const [revision, byKind] of Object.entries(doc().revisions)) {
          for (const kind of ['live', 'mirror'] as const)
            if (byKind[kind].errors > 0) this.inc({ revision, kind }, byKind[kind].errors);
        }
      },
    });
    this.registry.registerMetric({
      name: LATENCY_NAME,
      get: () => latencyMetric(doc().revisions),
    } as unknown as Parameters<Registry['registerMetric']>[0]);
    new Counter({
      name: 'modelship_router_mirror_compared_total',
      help: 'Mirrored requests whose served and mirrored responses were compared, by mirror revision.',
      labelNames: ['revision'] as const,
      registers: [this.registry],
      collect(this: Counter<'revision'>) {
        this.reset();
        for (const [revision, a] of Object.entries(doc().agreement)) this.inc({ revision }, a.compared);
      },
    });
    new Counter({
      name: 'modelship_router_mirror_agreed_total',
      help: 'Compared mirrored requests whose outputs agreed, by mirror revision.',
      labelNames: ['revision'] as const,
      registers: [this.registry],
      collect(this: Counter<'revision'>) {
        this.reset();
        for (const [revision, a] of Object.entries(doc().agreement)) this.inc({ revision }, a.agreed);
      },
    });
    new Gauge({
      name: 'modelship_router_mirror_max_abs_diff',
      help: 'Largest absolute output difference seen between served and mirrored responses.',
      labelNames: ['revision'] as const,
      registers: [this.registry],
      collect(this: Gauge<'revision'>) {
        this.reset();
        for (const [revision, a] of Object.entries(doc().agreement)) this.set({ revision }, a.maxAbsDiff);
      },
    });
    const inFlight = (): number => this.inFlightSource();
    new Gauge({
      name: 'modelship_router_requests_in_flight',
      help: 'Requests being proxied right now.',
      registers: [this.registry],
      collect(this: Gauge) {
        this.set(inFlight());
      },
    });
    this.generation.set(-1);
  }

  /** Mirrors not sent, by reason (too_large, saturated). */
  readonly mirrorSkipped = new Counter({
    name: 'modelship_router_mirror_skipped_total',
    help: 'Requests chosen for mirroring that were served without a copy, by reason.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  /**
   * Live requests resent after their connection could not be opened, by revision. Counted directly
   * (not from the stats) because a resend is rare, like a skipped mirror, and no part of the stats
   * document: the request's one outcome is recorded there once, however many attempts it took.
   */
  readonly connectRetries = new Counter({
    name: 'modelship_router_connect_retries_total',
    help: 'Live requests sent again to a revision because the connection to it could not be opened (one per resend).',
    labelNames: ['revision'] as const,
    registers: [this.registry],
  });
  private readonly generation = new Gauge({
    name: 'modelship_router_routes_generation',
    help: 'Generation of the Routes document in force (-1 before the first).',
    registers: [this.registry],
  });
  private readonly weight = new Gauge({
    name: 'modelship_router_route_weight',
    help: 'Weight of each revision in the routes in force.',
    labelNames: ['revision'] as const,
    registers: [this.registry],
  });
  private readonly updates = new Counter({
    name: 'modelship_router_routes_updates_total',
    help: 'Routes documents received, by result (applied or rejected).',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });

  /** Reports `source()` as the in-flight gauge from now on. */
  countInFlight(source: () => number): void {
    this.inFlightSource = source;
  }

  /** Reflects newly applied routes. */
  routesApplied(routes: Routes): void {
    this.updates.inc({ result: 'applied' });
    this.generation.set(routes.generation);
    this.weight.reset();
    for (const r of routes.revisions) this.weight.set({ revision: r.name }, r.weight);
  }

  /** Counts a routes document that was refused (invalid); the previous routes stay in force. */
  routesRejected(): void {
    this.updates.inc({ result: 'rejected' });
  }
}
