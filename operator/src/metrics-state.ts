/**
 * Where every ModelDeployment stands, as Prometheus gauges read from the operator's informer cache
 * at scrape time (kube-state-metrics style): conditions, the canary's phase, weight, step and failed
 * checks, the live traffic split, replicas per revision and the rollout history. Nothing is kept
 * between scrapes, so a deleted ModelDeployment's series end with it.
 *
 * `revision` is the revision's workload name (`<md>-<rev>`, its Deployment, Service and route), the
 * same value the router's metrics carry and the chart's PodMonitor gives model-server pods, so one
 * dashboard can join the three. Every operator replica serves these (followers' caches are synced
 * too); dashboards and alerts aggregate with max by.
 */
import { Gauge, type Registry } from 'prom-client';
import type { CanaryPhase, HistoryEntry, ModelDeployment } from './api/types.js';
import { revisionName } from './desired/names.js';
import type { KubeObject } from './kube/client.js';

/** Every canary phase, so the phase gauge is a state set (one series per phase, 1 for the current). */
export const CANARY_PHASES: readonly CanaryPhase[] = [
  'Pending',
  'Shadow',
  'Progressing',
  'Paused',
  'Promoted',
  'RolledBack',
];
const OUTCOMES: readonly HistoryEntry['outcome'][] = ['Initial', 'Promoted', 'RolledBack', 'Superseded'];

/** One sample of one state gauge. */
export interface StateSample {
  /** The gauge's name without the `modelship_modeldeployment_` prefix. */
  metric: StateMetric;
  labels: Record<string, string>;
  value: number;
}

/** The state gauges, by their name after `modelship_modeldeployment_`, with their help and labels. */
export const STATE_METRICS = {
  condition: {
    help: 'Conditions of each ModelDeployment (Ready, Reconciling, Stalled): 1 for its current status and reason.',
    labels: ['type', 'status', 'reason'],
  },
  canary_phase: {
    help: "The canary's phase, one series per phase: 1 for the current one, else 0.",
    labels: ['revision', 'phase'],
  },
  canary_weight: { help: "The canary's live weight in percent.", labels: ['revision'] },
  canary_step: { help: "Index of the canary's current step (-1 before the first).", labels: ['revision'] },
  canary_failures: { help: 'Failed analysis checks of the current canary.', labels: ['revision'] },
  traffic_percent: { help: 'Percent of live traffic each revision receives (status.traffic).', labels: ['revision'] },
  desired_replicas: {
    help: 'Replicas the operator (or an HPA) wants for each revision (status.scale; before it, a fixed spec.replicas).',
    labels: ['revision', 'role'],
  },
  ready_replicas: { help: 'Ready replicas of each revision.', labels: ['revision', 'role'] },
  rollouts: {
    help: 'Entries in status.history by outcome (Initial, Promoted, RolledBack, Superseded); a bounded list, not a counter.',
    labels: ['outcome'],
  },
} as const;

/** A state gauge's short name. */
export type StateMetric = keyof typeof STATE_METRICS;

/** The samples one ModelDeployment contributes (pure: its status in, rows out). */
export function stateSamples(md: ModelDeployment): StateSample[] {
  const base = { namespace: md.metadata.namespace, modeldeployment: md.metadata.name };
  const rev = (revision: string): string => revisionName(md, revision);
  const out: StateSample[] = [];
  const add = (metric: StateMetric, labels: Record<string, string>, value: number): void => {
    out.push({ metric, labels: { ...base, ...labels }, value });
  };
  const status = md.status ?? {};
  for (const c of status.conditions ?? []) add('condition', { type: c.type, status: c.status, reason: c.reason }, 1);

  const canary = status.canary;
  if (canary) {
    const revision = rev(canary.revision);
    for (const phase of CANARY_PHASES) add('canary_phase', { revision, phase }, phase === canary.phase ? 1 : 0);
    add('canary_weight', { revision }, canary.weight);
    add('canary_step', { revision }, canary.step);
    add('canary_failures', { revision }, canary.failures ?? canary.analysis?.failures ?? 0);
  }
  for (const t of status.traffic ?? []) add('traffic_percent', { revision: rev(t.revision) }, t.percent);

  if (status.scale && status.scale.length > 0) {
    for (const s of status.scale) {
      const labels = { revision: rev(s.revision), role: s.role };
      add('desired_replicas', labels, s.desiredReplicas);
      add('ready_replicas', labels, s.readyReplicas);
    }
  } else {
    if (status.stable) {
      const labels = { revision: rev(status.stable.revision), role: 'stable' };
      // Before status.scale, only a fixed spec.replicas says what the stable revision should run.
      if (md.spec.replicas !== undefined) add('desired_replicas', labels, md.spec.replicas);
      add('ready_replicas', labels, status.stable.readyReplicas);
    }
    if (canary && canary.phase !== 'RolledBack' && canary.phase !== 'Promoted') {
      add('ready_replicas', { revision: rev(canary.revision), role: 'candidate' }, canary.readyReplicas);
    }
  }

  const history = status.history ?? [];
  for (const outcome of OUTCOMES) add('rollouts', { outcome }, history.filter((h) => h.outcome === outcome).length);
  return out;
}

/**
 * Registers the state gauges on `registry`; each scrape reads `list()` (the ModelDeployment informer's
 * cache) anew.
 * A ModelDeployment whose status cannot be read is skipped, never a failed scrape.
 */
export function registerStateMetrics(registry: Registry, list: () => readonly KubeObject[]): void {
  const current = (): StateSample[] =>
    list().flatMap((md) => {
      try {
        return stateSamples(md as unknown as ModelDeployment);
      } catch {
        return [];
      }
    });
  for (const metric of Object.keys(STATE_METRICS) as StateMetric[]) {
    const { help, labels } = STATE_METRICS[metric];
    new Gauge({
      name: `modelship_modeldeployment_${metric}`,
      help,
      labelNames: ['namespace', 'modeldeployment', ...labels],
      registers: [registry],
      collect(this: Gauge) {
        // Each gauge reads the cache itself: a few objects' statuses per scrape, no state to share.
        this.reset();
        for (const s of current()) if (s.metric === metric) this.set(s.labels, s.value);
      },
    });
  }
}
