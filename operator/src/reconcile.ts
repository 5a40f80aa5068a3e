/**
 * One reconcile of one ModelDeployment: the thin shell around the pure core. Reads only from the
 * informer caches, decides with plan/desiredObjects/computeStatus, and writes with server-side
 * apply, prune and (only when it changed) the status subresource.
 */
import type { V1ConfigMap, V1Deployment } from '@kubernetes/client-node';
import { parseStatsData, type RouterStatsDocument } from '../../contract/stats.js';
import type { ModelDeployment, ModelDeploymentStatus, RevisionScaleStatus, WebhookType } from './api/types.js';
import { requestPolicyFor, ringSecondsFor } from './autoscale/decide.js';
import type { StatsReading } from './autoscale/load.js';
import { desiredObjects, type DesiredOptions } from './desired/index.js';
import { routerPeersOf } from './traffic/routes.js';
import { driftEvents, monitoringRefreshSeconds } from './status/monitoring.js';
import { prune, type Applier, type StatusWriter } from './kube/apply.js';
import type { Caches } from './kube/caches.js';
import type { KubeApi, KubeObject } from './kube/client.js';
import type { EventRecorder } from './kube/events.js';
import type { HandlerResult } from './kube/workqueue.js';
import { configMapNamed, type Observed } from './observed.js';
import type { CheckAnswers } from './rollout/canary.js';
import { plan, type RolloutPlan } from './rollout/plan.js';
import { webhookPayload, webhooksOf, type WebhookResult, type WebhookResults } from './rollout/webhooks.js';
import type { WebhookCaller } from './checks/call.js';
import type { MetricQuerier } from './checks/prometheus.js';
import { pathFor, resourceFor } from './kube/resources.js';
import { staleStatsPatch } from './traffic/stats.js';
import { statsConfigMapName } from './traffic/names.js';
import { ConditionType, findCondition } from './status/conditions.js';
import { computeStatus, invalidSpecStatus, type SpecError } from './status/index.js';
import { volumeWaitEndsInSeconds } from './status/problems.js';
import { Because, Reason, type Reasoned, type ScaleEventReason } from './status/reasons.js';

/** Everything a reconcile needs; main.ts wires the real ones, tests may wire others. */
export interface ReconcileDeps {
  api: KubeApi;
  caches: Caches;
  applier: Applier;
  statusWriter: StatusWriter;
  events: EventRecorder;
  options: DesiredOptions;
  /** Schema validation of a ModelDeployment (the same schema as the CRD); [] when valid. */
  validate: (obj: unknown) => SpecError[];
  now: () => Date;
  /** Warnings that must not fail the reconcile (a failed Event). */
  warn: (msg: string, fields?: Record<string, unknown>) => void;
  /**
   * Per ModelDeployment key: the router stats its last analysis check read (the start of the
   * next check's window). Memory only: after a restart the first check has no window.
   */
  baselines: Map<string, RouterStatsDocument[]>;
  /**
   * Per ModelDeployment key that scales on requests: the ring of readings of its router stats
   * ConfigMap (see {@link recordReading}). Memory only: after a restart it starts empty, and the
   * autoscaler keeps what runs until the readings cover its windows.
   */
  readings: Map<string, StatsReading[]>;
  /** Calls one webhook of spec.rollout.analysis.webhooks (checks/call.ts's callWebhook). */
  callWebhook: WebhookCaller;
  /** Asks one metric of spec.rollout.analysis.metrics (checks/prometheus.ts's queryMetric). */
  queryMetric: MetricQuerier;
}

/** What one reconcile did, for logs and metrics. */
export interface ReconcileOutcome extends HandlerResult {
  applied: number;
  skipped: number;
  pruned: number;
  statusWritten: boolean;
}

/** Kinds the operator prunes (pods belong to their ReplicaSets, not to us). */
const PRUNED_KINDS = [
  'Deployment',
  'Service',
  'HorizontalPodAutoscaler',
  'PodDisruptionBudget',
  'ConfigMap',
  'ServiceAccount',
  'Role',
  'RoleBinding',
  'HTTPRoute',
];

/**
 * The owned objects of one ModelDeployment as the core wants them. The caches hold plain JSON;
 * the core's types are client-node's models, whose fields are the same JSON (the core reads dates
 * as the strings they are).
 */
export function observedOf(
  caches: Caches,
  key: string,
  baseline?: RouterStatsDocument[],
  readings?: StatsReading[],
): Observed {
  const of = <T>(kind: string): T[] => caches.ownedBy(kind, key) as unknown as T[];
  const observed: Observed = {
    deployments: of<V1Deployment>('Deployment'),
    services: of('Service'),
    hpas: of('HorizontalPodAutoscaler'),
    pdbs: of('PodDisruptionBudget'),
    pods: of('Pod'),
    configMaps: of<V1ConfigMap>('ConfigMap'),
  };
  if (baseline) observed.statsBaseline = baseline;
  if (readings) observed.statsReadings = readings;
  return observed;
}

/** When to look again at a ModelDeployment whose cached copy does not show the operator's last status write yet. */
const CACHE_BEHIND_RETRY_MS = 1000;

/** Most readings a ring keeps, whatever the windows: a bound on the operator's memory per ModelDeployment. */
export const MAX_READINGS = 4096;

/**
 * The ring after this reconcile's reading of the stats ConfigMap: the new reading appended unless
 * no router pod wrote since the last one, readings older than `keepSeconds` dropped, and at most
 * {@link MAX_READINGS}. Pure.
 */
export function recordReading(
  ring: readonly StatsReading[],
  reading: StatsReading,
  keepSeconds: number,
): StatsReading[] {
  const stamp = (r: StatsReading): string =>
    r.documents
      .map((d) => `${d.pod}@${d.time}`)
      .sort()
      .join();
  const last = ring.at(-1);
  const next = last !== undefined && stamp(last) === stamp(reading) ? [...ring] : [...ring, reading];
  const from = reading.at - keepSeconds * 1000;
  return next.filter((r) => r.at >= from).slice(-MAX_READINGS);
}

/** An Event to record about the ModelDeployment. */
export interface PlannedEvent {
  type: 'Normal' | 'Warning';
  reason: Reason;
  note: string;
}

function eventOf(type: PlannedEvent['type'], why: Reasoned): PlannedEvent {
  return { type, reason: why.reason, note: why.message };
}

/** The Events a plan deserves: its stable change, the canary's phase or step change, the action's fate. */
export function planEvents(decided: RolloutPlan): PlannedEvent[] {
  const out: PlannedEvent[] = [];
  const t = decided.transition;
  if (t) out.push(eventOf(t.outcome === 'RolledBack' ? 'Warning' : 'Normal', t));
  const c = decided.canaryTransition;
  if (c && c.to !== 'Promoted' && c.to !== 'RolledBack' && c.message !== t?.message) {
    out.push(eventOf('Normal', c));
  }
  if (decided.actionMessage !== undefined) {
    const refused = decided.actionRefused === true;
    out.push(eventOf(refused ? 'Warning' : 'Normal', Because.action(refused, decided.actionMessage)));
  }
  return out;
}

/**
 * The Events a status change deserves: one per condition transition a user cares about.
 * Pure, so the transitions are table-tested.
 */
export function transitionEvents(
  before: ModelDeploymentStatus | undefined,
  after: ModelDeploymentStatus,
): PlannedEvent[] {
  const out: PlannedEvent[] = [];
  const readyBefore = findCondition(before?.conditions, ConditionType.Ready);
  const readyAfter = findCondition(after.conditions, ConditionType.Ready);
  if (
    readyAfter?.status === 'True' &&
    (readyBefore?.status !== 'True' || before?.stable?.revision !== after.stable?.revision)
  ) {
    out.push(eventOf('Normal', Because.revisionReady(readyAfter.message)));
  }
  const stalledBefore = findCondition(before?.conditions, ConditionType.Stalled);
  const stalledAfter = findCondition(after.conditions, ConditionType.Stalled);
  if (
    stalledAfter?.status === 'True' &&
    (stalledBefore?.status !== 'True' || stalledBefore.reason !== stalledAfter.reason)
  ) {
    // Written by computeStatus or invalidSpecStatus, so one of our reasons.
    out.push(eventOf('Warning', { reason: stalledAfter.reason as Reason, message: stalledAfter.message }));
  }
  return out;
}

/** The scale reasons that are request autoscaling's own decisions, each worth an Event when it changes the replicas. */
const DECIDED = new Set<RevisionScaleStatus['reason']>(['Load', 'Idle', 'Activation']);

/**
 * One Event per change of a revision's desired replicas that request autoscaling decided
 * (ScaledUp, ScaledDown, ScaledToZero, Activating), naming the revision, from → to and the figures.
 * A revision seen for the first time has nothing to change from. Pure, so table-tested.
 */
export function scaleEvents(
  before: RevisionScaleStatus[] | undefined,
  after: RevisionScaleStatus[] | undefined,
): PlannedEvent[] {
  const out: PlannedEvent[] = [];
  for (const e of after ?? []) {
    const was = before?.find((b) => b.revision === e.revision)?.desiredReplicas;
    if (was === undefined || was === e.desiredReplicas || !DECIDED.has(e.reason)) continue;
    const reason: ScaleEventReason =
      e.desiredReplicas === 0
        ? Reason.ScaledToZero
        : was === 0
          ? Reason.Activating
          : e.desiredReplicas > was
            ? Reason.ScaledUp
            : Reason.ScaledDown;
    out.push(eventOf('Normal', Because.scaled(reason, e.revision, was, e.desiredReplicas, e.message)));
  }
  return out;
}

/**
 * The Events of one reconcile, one per transition: the plan's (a stable change, a canary phase or
 * step, an action's fate), the conditions' (Ready, Stalled) and request autoscaling's (a change of
 * a revision's replicas). A rollback or a progress deadline
 * both moves the rollout and makes Stalled True for the same reason: one transition, reported once,
 * as the Stalled Warning, whose message also says what serves and the ways on. A promotion or a
 * rollback to a retained revision is reported by the plan, not again as RevisionReady.
 */
export function reconcileEvents(
  decided: RolloutPlan,
  before: ModelDeploymentStatus | undefined,
  after: ModelDeploymentStatus,
): PlannedEvent[] {
  const stableChanged = decided.transition !== undefined && decided.transition.outcome !== 'Initial';
  const wasReady = findCondition(before?.conditions, ConditionType.Ready)?.status === 'True';
  const conditions = transitionEvents(before, after).filter(
    (e) => !(e.reason === Reason.RevisionReady && stableChanged && wasReady),
  );
  const stalled = new Set(conditions.filter((e) => e.type === 'Warning').map((e) => e.reason));
  return [
    ...planEvents(decided).filter((e) => !stalled.has(e.reason)),
    ...conditions,
    ...scaleEvents(before?.scale, after.scale),
    ...driftEvents(before, after).map((e) => eventOf(e.type, e.why)),
  ];
}

async function emit(deps: ReconcileDeps, md: KubeObject, events: PlannedEvent[]): Promise<void> {
  for (const e of events) {
    const err = await deps.events.record(md, e.type, e.reason, e.note);
    if (err) deps.warn(err.message);
  }
}

/** Reconciles the ModelDeployment with this namespace/name key. */
export async function reconcile(key: string, deps: ReconcileDeps): Promise<ReconcileOutcome> {
  const outcome: ReconcileOutcome = { applied: 0, skipped: 0, pruned: 0, statusWritten: false };
  const cached = deps.caches.modelDeployment(key);
  if (!cached) {
    // Deleted: ownerReferences let the garbage collector remove what it owned.
    deps.applier.forget(key);
    deps.statusWriter.forget(key);
    deps.baselines.delete(key);
    deps.readings.delete(key);
    return outcome;
  }
  if (cached.metadata.deletionTimestamp) return outcome;
  // The watch event of the last status write re-queues the key; the requeue only covers a lost one.
  if (deps.statusWriter.behind(cached)) return { ...outcome, requeueAfterMs: CACHE_BEHIND_RETRY_MS };
  const md = cached as unknown as ModelDeployment;
  const now = deps.now();

  const errors = deps.validate(cached);
  if (errors.length > 0) {
    const status = invalidSpecStatus(md, errors, now);
    outcome.statusWritten = await deps.statusWriter.writeIfChanged(cached, status);
    await emit(deps, cached, [eventOf('Warning', Because.invalidSpec(errors))]);
    return outcome;
  }

  const observed = observedOf(deps.caches, key, deps.baselines.get(key), readingsFor(deps, key, md, now));
  const decided = await planWithWebhooks(deps, md, observed, now);
  for (const e of decided.statsErrors ?? []) deps.warn(`read router stats of ModelDeployment ${key}: ${e}`);
  const desired = desiredObjects(md, decided, deps.options, routerPeersOf(md, observed.pods)) as KubeObject[];

  try {
    const applied = await deps.applier.applyAll(key, desired, (o) => deps.caches.live(o));
    outcome.applied = applied.applied;
    outcome.skipped = applied.skipped;
    const owned = PRUNED_KINDS.flatMap((kind) => deps.caches.ownedBy(kind, key));
    outcome.pruned = (await prune(deps.api, owned, desired, md.metadata.uid ?? '')).length;
  } catch (err) {
    // Users read Events, not operator logs: say what failed where they look; the queue retries.
    await emit(deps, cached, [eventOf('Warning', Because.applyFailed(err as Error))]);
    throw err;
  }

  const status = computeStatus(md, observed, decided, now);
  outcome.statusWritten = await deps.statusWriter.writeIfChanged(cached, status);

  if (decided.baseline) {
    deps.baselines.set(key, decided.baseline);
    await dropStaleStats(deps, md, observed, now);
  }

  await emit(deps, cached, reconcileEvents(decided, md.status, status));
  if (outcome.statusWritten) notifyRollback(deps, cached, md, decided);

  const requeue = [
    decided.requeueAfterSeconds,
    volumeWaitEndsInSeconds(observed, now),
    monitoringRefreshSeconds(md),
  ].filter((s): s is number => s !== undefined);
  if (requeue.length > 0) outcome.requeueAfterMs = Math.max(1, Math.min(...requeue)) * 1000;
  return outcome;
}

/**
 * This reconcile's ring of stats readings for a ModelDeployment that scales on requests (the cached
 * stats ConfigMap read now, appended), or undefined (and no ring kept) for one that does not.
 */
function readingsFor(deps: ReconcileDeps, key: string, md: ModelDeployment, now: Date): StatsReading[] | undefined {
  const policy = requestPolicyFor(md);
  if (policy === undefined) {
    deps.readings.delete(key);
    return undefined;
  }
  const stats = deps.caches.ownedBy('ConfigMap', key).find((c) => c.metadata.name === statsConfigMapName(md));
  const { documents } = parseStatsData((stats as { data?: Record<string, string> } | undefined)?.data);
  // A few seconds beyond the windows, so the oldest recommendation still has its metric window.
  const ring = recordReading(
    deps.readings.get(key) ?? [],
    { at: now.getTime(), documents },
    ringSecondsFor(policy) + 5,
  );
  deps.readings.set(key, ring);
  return ring;
}

/**
 * Plans, and while the plan names metrics or webhooks whose answers it needs, asks them and plans
 * again on the same snapshot with the answers. Each is asked at most once per reconcile, so this
 * ends (at most metrics, Rollout or PreRollout, then PrePromotion). Planning again keeps the decision
 * pure and the answers out of status: they are asked again whenever a later decision needs them.
 */
async function planWithWebhooks(
  deps: ReconcileDeps,
  md: ModelDeployment,
  observed: Observed,
  now: Date,
): Promise<RolloutPlan> {
  const webhooks: WebhookResults = {};
  const answers: CheckAnswers = { webhooks };
  let decided = plan(md, observed, now);
  for (;;) {
    if (decided.metricsDue && answers.metrics === undefined) {
      const metrics = md.spec.rollout?.analysis?.metrics ?? [];
      answers.metrics = await Promise.all(metrics.map((m) => deps.queryMetric(m, now)));
      decided = plan(md, observed, now, answers);
      continue;
    }
    const type = decided.webhooksDue;
    if (type === undefined || webhooks[type] !== undefined) return decided;
    const canary = decided.canary;
    const at = {
      revision: canary?.revision ?? decided.specRevision,
      stable: decided.stable.revision,
      weight: canary?.weight ?? 0,
      step: canary?.step ?? -1,
    };
    webhooks[type] = await callAll(deps, md, type, at);
    decided = plan(md, observed, now, answers);
  }
}

/** Calls every webhook of a type at once; logs each failure (by name and answer, never its URL or metadata). */
async function callAll(
  deps: ReconcileDeps,
  md: ModelDeployment,
  type: WebhookType,
  at: Parameters<typeof webhookPayload>[2],
): Promise<WebhookResult[]> {
  const meta = { name: md.metadata.name, namespace: md.metadata.namespace ?? '' };
  const results = await Promise.all(
    webhooksOf(md.spec, type).map((hook) => deps.callWebhook(hook, webhookPayload(hook, meta, at))),
  );
  for (const r of results.filter((r) => !r.passed)) {
    deps.warn(`${type} webhook ${r.name} of ModelDeployment ${meta.namespace}/${meta.name} failed: ${r.message}`);
  }
  return results;
}

/**
 * Tells the Rollback webhooks of a rollback this reconcile recorded, without waiting for them: their
 * answers change nothing, so each is only reported, as an Event.
 */
function notifyRollback(deps: ReconcileDeps, obj: KubeObject, md: ModelDeployment, decided: RolloutPlan): void {
  const hooks = webhooksOf(md.spec, 'Rollback');
  const revision =
    decided.canaryTransition?.to === 'RolledBack'
      ? decided.canary?.revision
      : decided.transition?.outcome === 'RolledBack'
        ? decided.transition.previous
        : undefined;
  if (hooks.length === 0 || revision === undefined) return;
  const at = { revision, stable: decided.stable.revision, weight: 0, step: decided.canary?.step ?? -1 };
  void callAll(deps, md, 'Rollback', at).then((results) =>
    emit(
      deps,
      obj,
      results.map((r) =>
        eventOf(r.passed ? 'Normal' : 'Warning', Because.rollbackWebhook(r.name, revision, r.message)),
      ),
    ),
  );
}

/** Removes stats keys of router pods that are gone, so the ConfigMap stays far below its 1 MiB limit. */
async function dropStaleStats(deps: ReconcileDeps, md: ModelDeployment, observed: Observed, now: Date): Promise<void> {
  const name = statsConfigMapName(md);
  const patch = staleStatsPatch(configMapNamed(observed, name)?.data, now);
  if (!patch) return;
  try {
    await deps.api.request({
      method: 'PATCH',
      path: pathFor(resourceFor('v1', 'ConfigMap'), md.metadata.namespace, name),
      body: patch,
      contentType: 'application/merge-patch+json',
    });
  } catch (err) {
    deps.warn(`patch ConfigMap ${md.metadata.namespace}/${name}: ${(err as Error).message}`);
  }
}
