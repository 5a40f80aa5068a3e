/**
 * The operator's Prometheus metrics, on their own registry (so tests can build several operators
 * in one process): reconcile count, duration and errors, work queue depth, and — registered by
 * the kube client — API requests by verb, resource and code.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The operator's metric handles. */
export interface OperatorMetrics {
  registry: Registry;
  reconciles: Counter<'result'>;
  reconcileDuration: Histogram;
  queueDepth: Gauge;
  leader: Gauge;
  applies: Counter<'outcome'>;
}

/** Creates the registry and the metrics on it; queueDepth reads the queue at scrape time. */
export function createMetrics(queueDepth: () => number): OperatorMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    reconciles: new Counter({
      name: 'modelship_reconcile_total',
      help: 'Reconciles of ModelDeployments, by result (success or error).',
      labelNames: ['result'],
      registers: [registry],
    }),
    reconcileDuration: new Histogram({
      name: 'modelship_reconcile_duration_seconds',
      help: 'Time one reconcile of one ModelDeployment took.',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: 'modelship_workqueue_depth',
      help: 'ModelDeployment keys waiting in the work queue.',
      registers: [registry],
      collect() {
        this.set(queueDepth());
      },
    }),
    leader: new Gauge({
      name: 'modelship_leader',
      help: '1 while this operator instance holds the leader Lease (or runs without election), else 0.',
      registers: [registry],
    }),
    applies: new Counter({
      name: 'modelship_apply_total',
      help: 'Desired objects per reconcile, by outcome: applied, or skipped as provably unchanged.',
      labelNames: ['outcome'],
      registers: [registry],
    }),
  };
}
