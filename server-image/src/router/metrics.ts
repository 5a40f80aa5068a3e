/**
 * The router's Prometheus metrics, on its own Registry (never prom-client's global one, so several
 * routers or a router and a server can live in one process in tests).
 *
 * Per-request traffic (requests, errors, latency, mirror agreement) is counted once, in
 * {@link RouterStats}, and rendered from it when scraped: updating prom-client metrics per request
 * cost ~3 µs (label validation and hashing on every call), the stats' plain counters ~0.1 µs.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Routes } from '../../../contract/routes.js';
import type { RouterStatsDocument, TrafficKind } from '../../../contract/stats.js';
import type { HoldOutcome } from './hold.js';
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
  /** Where the drift threshold is read at scrape time (the drift part, while on). */
  private driftThresholdSource: () => number | undefined = () => undefined;

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
    const loads = () => this.stats.loads();
    new Gauge({
      name: 'modelship_router_in_flight',
      help: 'Live requests routed to a revision and not yet answered, held ones included.',
      labelNames: ['revision'] as const,
      registers: [this.registry],
      collect(this: Gauge<'revision'>) {
        this.reset();
        for (const [revision, meter] of loads()) this.set({ revision }, meter.inFlight);
      },
    });
    new Gauge({
      name: 'modelship_router_held',
      help: 'Requests waiting in the hold queue for a revision with no ready pod.',
      labelNames: ['revision'] as const,
      registers: [this.registry],
      collect(this: Gauge<'revision'>) {
        this.reset();
        for (const [revision, meter] of loads()) this.set({ revision }, meter.held);
      },
    });
    new Counter({
      name: 'modelship_router_label_rows_total',
      help: "Rows whose true label was joined with a revision's prediction, by outcome (correct or wrong).",
      labelNames: ['revision', 'outcome'] as const,
      registers: [this.registry],
      collect(this: Counter<'revision' | 'outcome'>) {
        this.reset();
        for (const [revision, r] of Object.entries(doc().revisions)) {
          if (!r.accuracy) continue;
          this.inc({ revision, outcome: 'correct' }, r.accuracy.correct);
          this.inc({ revision, outcome: 'wrong' }, r.accuracy.labelled - r.accuracy.correct);
        }
      },
    });
    const pending = () => this.pendingSource();
    new Gauge({
      name: 'modelship_router_predictions_pending',
      help: 'Predictions of served requests waiting for their true labels.',
      registers: [this.registry],
      collect(this: Gauge) {
        this.set(pending());
      },
    });
    const driftThreshold = (): number | undefined => this.driftThresholdSource();
    new Gauge({
      name: 'modelship_router_drift_psi',
      help: "PSI of a revision's live window against its reference: kind=input the largest over the input features, kind=output the predicted classes; absent until the window is full.",
      labelNames: ['revision', 'kind'] as const,
      registers: [this.registry],
      collect(this: Gauge<'revision' | 'kind'>) {
        this.reset();
        for (const [revision, { drift }] of Object.entries(doc().revisions)) {
          if (drift?.inputPsi != null) this.set({ revision, kind: 'input' }, drift.inputPsi);
          if (drift?.outputPsi != null) this.set({ revision, kind: 'output' }, drift.outputPsi);
        }
      },
    });
    new Gauge({
      name: 'modelship_router_drift_threshold',
      help: "The PSI above which a revision counts as drifted (the routes' monitoring.drift.threshold).",
      registers: [this.registry],
      collect(this: Gauge) {
        this.reset();
        const threshold = driftThreshold();
        if (threshold !== undefined) this.set(threshold);
      },
    });
    new Counter({
      name: 'modelship_router_drift_rows_total',
      help: 'Rows of live requests the drift part observed, by revision.',
      labelNames: ['revision'] as const,
      registers: [this.registry],
      collect(this: Counter<'revision'>) {
        this.reset();
        for (const [revision, { drift }] of Object.entries(doc().revisions)) {
          if (drift) this.inc({ revision }, drift.rows);
        }
      },
    });
    this.generation.set(-1);
  }

  /** Where the pending predictions are read at scrape time (the accuracy part's store; none while it is off). */
  private pendingSource: () => number = () => 0;

  /** Reports `source()` as the predictions waiting for labels from now on. */
  countPending(source: () => number): void {
    this.pendingSource = source;
  }

  /** Predictions dropped before their labels came because the accuracy part's maxPending was reached. */
  readonly predictionsEvicted = new Counter({
    name: 'modelship_router_predictions_evicted_total',
    help: 'Predictions dropped before their labels came because maxPending were already waiting (the oldest go first).',
    registers: [this.registry],
  });
  /** Labels posted for request ids no router pod holds (unknown, or expired). */
  readonly labelsUnmatched = new Counter({
    name: 'modelship_router_labels_unmatched_total',
    help: 'Labels posted for request ids that no router pod holds a prediction for (unknown, or expired).',
    registers: [this.registry],
  });

  /** Where the drift threshold in force is read; undefined while drift is off. */
  setDriftThreshold(source: () => number | undefined): void {
    this.driftThresholdSource = source;
  }

  /** Requests that met a hold, by revision and how they left the queue; counted as they leave. */
  private readonly heldRequests = new Counter({
    name: 'modelship_router_held_requests_total',
    help: 'Requests that met a hold (the revision had no ready pod), by outcome: released to the revision, timeout (503 after the hold deadline), full (503: hold queue full), cancelled (the caller went away).',
    labelNames: ['revision', 'outcome'] as const,
    registers: [this.registry],
  });
  private readonly holdSeconds = new Histogram({
    name: 'modelship_router_hold_seconds',
    help: 'How long requests waited in the hold queue, whatever their outcome (none for those refused because it was full).',
    labelNames: ['revision'] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600],
    registers: [this.registry],
  });

  /** Counts a request that met a hold for `revision` and left the queue with `outcome` after `heldMs`. */
  holdEnded(revision: string, outcome: HoldOutcome, heldMs: number): void {
    this.heldRequests.inc({ revision, outcome });
    if (outcome !== 'full') this.holdSeconds.observe({ revision }, heldMs / 1000);
  }

  /** Mirrors not sent, by reason (too_large, saturated, held: the request or its copy met a hold). */
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
  /**
   * Live requests sent straight to a starting pod found ready while their revision's route holds
   * (starting.ts), by revision; counted directly, like the resends, once per request.
   */
  readonly directRequests = new Counter({
    name: 'modelship_router_direct_requests_total',
    help: "Live requests sent straight to a starting pod that answered ready while its revision's route still held, by revision.",
    labelNames: ['revision'] as const,
    registers: [this.registry],
  });
  /** Payload-logging CloudEvents (payload-log.ts), one per event, by revision and fate. */
  readonly payloadEvents = new Counter({
    name: 'modelship_router_payload_events_total',
    help: 'Payload-logging CloudEvents, by revision and outcome: sent (the sink answered 2xx), dropped (the queue was full, or still queued at shutdown), failed (network error, timeout or non-2xx).',
    labelNames: ['revision', 'outcome'] as const,
    registers: [this.registry],
  });
  /** Where the payload queue's depth is read at scrape time. */
  private payloadQueueSource: () => number = () => 0;
  private readonly payloadQueueDepth: Gauge = new Gauge({
    name: 'modelship_router_payload_queue_depth',
    help: 'Payload-logging events waiting to be sent to the sink.',
    registers: [this.registry],
    collect: (): void => this.payloadQueueDepth.set(this.payloadQueueSource()),
  });

  /** Reports `source()` as the payload queue's depth from now on. */
  countPayloadQueue(source: () => number): void {
    this.payloadQueueSource = source;
  }

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
