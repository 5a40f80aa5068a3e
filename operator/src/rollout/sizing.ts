/**
 * How many pods each revision of a plan runs, and why: the spec's fixed count, the CPU HPA, or the
 * operator's own request autoscaling (autoscale/), with the canary's and the retention's rules on
 * top. Pure: the shell's ring of router stats readings comes in through `observed`.
 *
 * - Stable: with request autoscaling, sized on the live load of every revision (during a canary
 *   it keeps the capacity for an instant rollback) and never scaled to zero while a candidate is in
 *   flight. Scaling to zero takes two steps: first the route holds the revision's requests; only
 *   when every router pod echoes the routes generation that holds does its Deployment go to zero,
 *   so no request meets a revision with no pod and no hold. The hold stays while it has no ready
 *   pod (scaled to zero, or starting from it), and drops once one is ready.
 * - Candidate: max(1, ceil(stable's current replicas × share / 100)), the stable's current
 *   replicas being what its Deployment runs (the CPU HPA's choice) or, with request autoscaling,
 *   what this plan gives it. With the CPU HPA the share becomes the candidate HPA's floor, so the
 *   HPA keeps owning `replicas` and a promotion hands nothing over.
 * - Retained: keeps the replicas it had until its window ends, never scaled to zero.
 */
import type { ModelDeployment, ScaleReason } from '../api/types.js';
import { decideScale, type RequestPolicy, type ScaleDecision } from '../autoscale/decide.js';
import { LABEL, revisionName } from '../desired/names.js';
import { configMapNamed, deploymentNamed, type Observed } from '../observed.js';
import { routeNameOf, routesConfigMapName, statsConfigMapName } from '../traffic/names.js';
import { MAX_STARTING_PODS, parseRoutes } from '../../../contract/routes.js';
import { HTTP_PORT } from '../desired/service.js';
import { ROUTES_KEY } from '../../../contract/keys.js';
import { parseStatsData } from '../../../contract/stats.js';

/** Why a revision runs the replicas it does, for status.scale and the scale Events. */
export interface ScaleWhy {
  reason: ScaleReason;
  message: string;
  /**
   * The replicas the operator wants (what the Deployment gets once a scale to zero is confirmed);
   * undefined when an HPA decides.
   */
  desired?: number;
}

/** The replicas the Deployment of `revision` has now (spec.replicas, which an HPA writes), if it exists. */
export function currentReplicasOf(md: ModelDeployment, observed: Observed, revision: string): number | undefined {
  const deployment = deploymentNamed(observed, revisionName(md, revision));
  if (deployment === undefined) return undefined;
  return deployment.spec?.replicas ?? 1;
}

/** The ready pods of `revision`'s Deployment (0 when it does not exist). */
export function readyReplicasOf(md: ModelDeployment, observed: Observed, revision: string): number {
  return deploymentNamed(observed, revisionName(md, revision))?.status?.readyReplicas ?? 0;
}

/**
 * The request autoscaler's decision for a stable revision, sized on the load of `revisions` (its own,
 * or every running revision's during a canary); `mayIdle` false keeps it from zero.
 */
export function stableDecision(
  md: ModelDeployment,
  observed: Observed,
  policy: RequestPolicy,
  stable: string,
  revisions: readonly string[],
  mayIdle: boolean,
): ScaleDecision {
  return decideScale({
    policy,
    readings: observed.statsReadings ?? [],
    routes: revisions.map((r) => routeNameOf(md, r)),
    current: currentReplicasOf(md, observed, stable),
    mayIdle,
  });
}

/**
 * The stable's current replicas a candidate is sized against and must match before it takes 100%:
 * the spec's count, the stable Deployment's (its HPA's choice, at least minReplicas), or with
 * request autoscaling the replicas this plan gives the stable (at least one: a canary runs).
 */
export function stableReplicasFor(
  md: ModelDeployment,
  observed: Observed,
  stable: string,
  requestDecision: ScaleDecision | undefined,
): number {
  if (requestDecision !== undefined) return Math.max(1, requestDecision.desired);
  const autoscaling = md.spec.autoscaling;
  if (autoscaling === undefined) return md.spec.replicas ?? 1;
  const min = Math.max(1, autoscaling.minReplicas ?? 1);
  return Math.max(min, currentReplicasOf(md, observed, stable) ?? min);
}

/**
 * How far a scale to zero of `revision` has come: whether the routes the router pods read hold its
 * requests, and how many of the running router pods' stats echo that routes generation. Zero is
 * safe once every running router pod does.
 */
export function holdReached(
  md: ModelDeployment,
  observed: Observed,
  revision: string,
): { held: boolean; echoed: number; routers: number } {
  const text = configMapNamed(observed, routesConfigMapName(md))?.data?.[ROUTES_KEY];
  const parsed = text === undefined ? undefined : parseRoutes(text);
  const routes = parsed?.ok ? parsed.routes : undefined;
  const route = routeNameOf(md, revision);
  const held = routes?.revisions.some((r) => r.name === route && r.hold === true) ?? false;
  const routers = observed.pods.filter(
    (p) =>
      p.metadata?.labels?.[LABEL.component] === 'router' &&
      p.metadata?.deletionTimestamp === undefined &&
      p.status?.phase === 'Running',
  );
  const { documents } = parseStatsData(configMapNamed(observed, statsConfigMapName(md))?.data);
  const echoed = routers.filter((p) =>
    documents.some((d) => d.pod === p.metadata?.name && held && d.routesGeneration === routes?.generation),
  ).length;
  return { held, echoed, routers: routers.length };
}

/**
 * The base URLs of `revision`'s running pods (IP and serving port, sorted by pod name, at most
 * MAX_STARTING_PODS): while its route holds, the router probes them and sends the held requests to
 * the first that is ready, so a cold start waits for the model, not for the kubelet's next probe,
 * the EndpointSlice and kube-proxy.
 */
export function startingPodsOf(md: ModelDeployment, observed: Observed, revision: string): string[] {
  return observed.pods
    .filter(
      (p) =>
        p.metadata?.labels?.[LABEL.deployment] === md.metadata.name &&
        p.metadata?.labels?.[LABEL.revision] === revision &&
        p.metadata?.deletionTimestamp === undefined &&
        p.status?.phase === 'Running' &&
        p.status?.podIP !== undefined,
    )
    .sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''))
    .slice(0, MAX_STARTING_PODS)
    .map((p) => `http://${p.status!.podIP!.includes(':') ? `[${p.status!.podIP}]` : p.status!.podIP}:${HTTP_PORT}`);
}

/**
 * The stable's scale under request autoscaling: its replicas, whether its route holds requests, and
 * why. A decision of zero holds first and keeps the pods until every router pod has the hold; a
 * revision with no ready pod (at zero, or starting from it) keeps the hold until one is ready.
 */
export function stableScaleOf(
  md: ModelDeployment,
  observed: Observed,
  policy: RequestPolicy,
  revision: string,
  decision: ScaleDecision,
): { replicas: number; hold: boolean; startingPods?: string[]; why: ScaleWhy } {
  const current = currentReplicasOf(md, observed, revision) ?? decision.desired;
  const why: ScaleWhy = { reason: decision.reason, message: decision.message, desired: decision.desired };
  if (decision.desired > 0) {
    const hold = policy.minReplicas === 0 && readyReplicasOf(md, observed, revision) === 0;
    const starting = hold ? startingPodsOf(md, observed, revision) : [];
    return { replicas: decision.desired, hold, why, ...(starting.length > 0 ? { startingPods: starting } : {}) };
  }
  if (current === 0) return { replicas: 0, hold: true, why };
  const reached = holdReached(md, observed, revision);
  if (reached.held && reached.routers > 0 && reached.echoed === reached.routers) {
    return { replicas: 0, hold: true, why };
  }
  const wait = `; holding new requests at the router first (${reached.echoed}/${reached.routers} router pod(s) have the hold)`;
  return { replicas: current, hold: true, why: { ...why, message: `${why.message}${wait}` } };
}

/** Why a candidate runs what it does. */
export function candidateWhy(replicas: number, stableReplicas: number, share: number, rolledBack: boolean): ScaleWhy {
  if (rolledBack) return { reason: 'RolledBack', message: 'a rolled-back candidate runs no pod', desired: 0 };
  return {
    reason: 'CanaryWeight',
    message: `${Math.round(share * 10) / 10}% of the traffic against the stable's ${stableReplicas} replica(s): ${replicas}`,
    desired: replicas,
  };
}

/** Why a retained revision runs what it does. */
export function retainedWhy(replicas: number | undefined, until: string): ScaleWhy {
  return {
    reason: 'Retained',
    message: `kept warm for an instant rollback until ${until}${replicas === undefined ? '; its HPA sizes it' : ` at ${replicas} replica(s)`}`,
    ...(replicas !== undefined ? { desired: replicas } : {}),
  };
}
