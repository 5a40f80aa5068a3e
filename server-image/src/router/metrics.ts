/**
 * The router's Prometheus metrics, on its own Registry (never prom-client's global one, so several
 * routers or a router and a server can live in one process in tests).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Routes } from './routes.js';
import { LATENCY_BUCKETS_MS, isErrorOutcome, outcomeClass, type Outcome, type TrafficKind } from './stats.js';

/** Router metrics and the hooks the proxy and the route source call. */
export class RouterMetrics {
  readonly registry = new Registry();
  private readonly requests = new Counter({
    name: 'modelship_router_requests_total',
    help: 'Requests proxied to a revision, by kind (live or mirror) and outcome (2xx..5xx, timeout, unreachable).',
    labelNames: ['revision', 'kind', 'outcome'] as const,
    registers: [this.registry],
  });
  private readonly errors = new Counter({
    name: 'modelship_router_errors_total',
    help: 'Proxied requests that failed: status >= 500, timeout or unreachable backend.',
    labelNames: ['revision', 'kind'] as const,
    registers: [this.registry],
  });
  private readonly latency = new Histogram({
    name: 'modelship_router_request_duration_seconds',
    help: 'Time from dispatch to the last byte of the backend response.',
    labelNames: ['revision', 'kind'] as const,
    buckets: LATENCY_BUCKETS_MS.map((ms) => ms / 1000),
    registers: [this.registry],
  });
  private readonly compared = new Counter({
    name: 'modelship_router_mirror_compared_total',
    help: 'Mirrored requests whose served and mirrored responses were compared, by mirror revision.',
    labelNames: ['revision'] as const,
    registers: [this.registry],
  });
  private readonly agreed = new Counter({
    name: 'modelship_router_mirror_agreed_total',
    help: 'Compared mirrored requests whose outputs agreed, by mirror revision.',
    labelNames: ['revision'] as const,
    registers: [this.registry],
  });
  private readonly maxAbsDiff = new Gauge({
    name: 'modelship_router_mirror_max_abs_diff',
    help: 'Largest absolute output difference seen between served and mirrored responses.',
    labelNames: ['revision'] as const,
    registers: [this.registry],
  });
  /** Mirrors not sent, by reason (too_large, saturated). */
  readonly mirrorSkipped = new Counter({
    name: 'modelship_router_mirror_skipped_total',
    help: 'Requests chosen for mirroring that were served without a copy, by reason.',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  /** Requests being proxied right now. */
  readonly inFlight = new Gauge({
    name: 'modelship_router_requests_in_flight',
    help: 'Requests being proxied right now.',
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

  private readonly maxDiffs = new Map<string, number>();
  private readonly bound = new Map<string, { requests: { inc(): void }; errors?: { inc(): void }; latency: { observe(v: number): void } }>();

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    this.generation.set(-1);
  }

  /** Counts one finished proxied request. */
  record(revision: string, kind: TrafficKind, outcome: Outcome, latencyMs: number): void {
    // Label-bound children are cached: resolving labels costs more than the increment itself.
    const key = `${revision}\u0000${kind}\u0000${typeof outcome === 'number' ? Math.floor(outcome / 100) : outcome}`;
    let bound = this.bound.get(key);
    if (!bound) {
      bound = {
        requests: this.requests.labels(revision, kind, outcomeClass(outcome)),
        errors: isErrorOutcome(outcome) ? this.errors.labels(revision, kind) : undefined,
        latency: this.latency.labels(revision, kind),
      };
      this.bound.set(key, bound);
    }
    bound.requests.inc();
    bound.errors?.inc();
    bound.latency.observe(latencyMs / 1000);
  }

  /** Counts one agreement comparison for a mirror revision. */
  recordAgreement(revision: string, agree: boolean, absDiff: number): void {
    this.compared.inc({ revision });
    if (agree) this.agreed.inc({ revision });
    const max = Math.max(this.maxDiffs.get(revision) ?? 0, absDiff);
    this.maxDiffs.set(revision, max);
    this.maxAbsDiff.set({ revision }, max);
  }

  /** Reflects newly applied routes. */
  routesApplied(routes: Routes): void {
    this.updates.inc({ result: 'applied' });
    this.generation.set(routes.generation);
    this.weight.reset();
    // Children of revisions no longer routed to would otherwise accumulate across rollouts.
    if (this.bound.size > 1000) this.bound.clear();
    for (const r of routes.revisions) this.weight.set({ revision: r.name }, r.weight);
  }

  /** Counts a routes document that was refused (invalid); the previous routes stay in force. */
  routesRejected(): void {
    this.updates.inc({ result: 'rejected' });
  }
}
