/**
 * The Routes document the builtin router obeys (format: contract/routes.ts), built from a traffic
 * plan and the ModelDeployment's rollout settings the router applies.
 */
import { createHash } from 'node:crypto';
import type { V1Pod } from '@kubernetes/client-node';
import type { ModelDeployment } from '../api/types.js';
import { DEFAULT_TOKEN_KEY } from '../desired/deployment.js';
import { LABEL } from '../desired/names.js';
import { HTTP_PORT, SERVICE_PORT } from '../desired/service.js';
import type { RouteMonitoring, Routes } from '../../../contract/routes.js';
import { MAX_PEERS } from '../../../contract/accuracy.js';
import { analysisLimitsOf } from '../rollout/analysis.js';
import { DEFAULT_ACTIVATION_TIMEOUT_SECONDS, requestPolicyFor } from '../autoscale/decide.js';
import { canonicalJson } from '../../../common/json.js';
import { routeNameOf } from './names.js';
import type { TokenSecretRef, TrafficPlan } from './types.js';

/** The in-cluster base URL of a revision's Service. */
export function revisionUrl(md: ModelDeployment, revision: string): string {
  return `http://${routeNameOf(md, revision)}.${md.metadata.namespace}.svc:${SERVICE_PORT}`;
}

/**
 * Where the router finds a token Secret's key, relative to its token directory: `<secret>/<key>`,
 * the path the router Deployment's projected volume gives it.
 */
export function tokenFileOf(ref: TokenSecretRef): string {
  return `${ref.name}/${ref.key ?? DEFAULT_TOKEN_KEY}`;
}

/** Defaults of spec.monitoring, as the CRD writes them (for objects that did not pass the API server). */
export const MONITORING_DEFAULTS = {
  percent: 100,
  mode: 'all',
  threshold: 0.2,
  windowRows: 1000,
  referenceRows: 1000,
  labelTtlSeconds: 3600,
} as const;

/**
 * Most predictions one router pod keeps waiting for their labels. At a few hundred bytes each
 * (request id, revision, labels, time) about 30 MB: an hour's TTL at ~28 requests/s per pod;
 * beyond it the oldest go first and their labels count as unmatched.
 */
export const MAX_PENDING_PREDICTIONS = 100_000;

/**
 * The base URLs (pod IP and serving port) of this ModelDeployment's running router pods, sorted by
 * pod name, at most MAX_PEERS: where a router pod forwards a label for a request it did not serve.
 * One Routes document serves every router pod, so the list includes the reading pod itself.
 */
export function routerPeersOf(md: ModelDeployment, pods: V1Pod[]): string[] {
  return pods
    .filter(
      (p) =>
        p.metadata?.labels?.[LABEL.deployment] === md.metadata.name &&
        p.metadata?.labels?.[LABEL.component] === 'router' &&
        p.metadata?.deletionTimestamp === undefined &&
        p.status?.phase === 'Running' &&
        p.status?.podIP !== undefined,
    )
    .sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''))
    .slice(0, MAX_PEERS)
    .map((p) => `http://${p.status!.podIP!.includes(':') ? `[${p.status!.podIP}]` : p.status!.podIP}:${HTTP_PORT}`);
}

/**
 * The routes' `monitoring` from spec.monitoring, with the CRD's defaults, or undefined when it asks
 * for nothing. `peers` are the router pods' base URLs ({@link routerPeersOf}).
 */
export function routeMonitoringFor(md: ModelDeployment, peers: string[]): RouteMonitoring | undefined {
  const spec = md.spec.monitoring;
  if (spec === undefined) return undefined;
  const out: RouteMonitoring = {};
  if (spec.payloadLogging) {
    out.payloadLog = {
      url: spec.payloadLogging.url,
      percent: spec.payloadLogging.percent ?? MONITORING_DEFAULTS.percent,
      mode: spec.payloadLogging.mode ?? MONITORING_DEFAULTS.mode,
      modelDeployment: md.metadata.name,
      namespace: md.metadata.namespace,
    };
  }
  if (spec.drift) {
    out.drift = {
      windowRows: spec.drift.windowRows ?? MONITORING_DEFAULTS.windowRows,
      referenceRows: spec.drift.referenceRows ?? MONITORING_DEFAULTS.referenceRows,
      threshold: spec.drift.threshold ?? MONITORING_DEFAULTS.threshold,
    };
  }
  if (spec.accuracy) {
    out.accuracy = {
      ...(spec.accuracy.output !== undefined ? { output: spec.accuracy.output } : {}),
      ttlSeconds: spec.accuracy.labelTtlSeconds ?? MONITORING_DEFAULTS.labelTtlSeconds,
      maxPending: MAX_PENDING_PREDICTIONS,
      peers,
    };
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** How often router pods publish their stats while the operator scales on their figures. */
export const AUTOSCALING_STATS_INTERVAL_MS = 1_000;

/**
 * How often router pods publish their stats: half the analysis interval (so each check reads
 * figures at most half an interval old), between 0.5 s and the router's default of 5 s; at most
 * every second while request autoscaling reads them.
 */
export function statsIntervalMsFor(md: ModelDeployment): number {
  const interval = analysisLimitsOf(md.spec.rollout?.analysis).intervalSeconds;
  const forAnalysis = Math.min(5_000, Math.max(500, Math.round((interval * 1000) / 2)));
  return requestPolicyFor(md) ? Math.min(AUTOSCALING_STATS_INTERVAL_MS, forAnalysis) : forAnalysis;
}

/**
 * The Routes document for a plan: one backend per weighted revision (weight 0 kept, so the mirror
 * target is listed and a rollback is a weight change only), the mirror, and the sticky header. A
 * revision whose servers require a bearer token names its token file, for the router's metadata fetch.
 * The stats interval rides along, so a new analysis interval reaches the routers without a restart;
 * with request autoscaling, so do the revisions the router holds and how long it holds a request;
 * with spec.monitoring, what the router observes (and the revisions that serve a reference profile).
 *
 * `generation` is derived from the content (48 bits of its sha256), so it changes with every
 * change and stays the same for the same routes: the router echoes it in its stats, and equality
 * tells the operator the change reached the data path, with no counter to keep anywhere.
 */
export function routesFor(md: ModelDeployment, plan: TrafficPlan): Routes {
  if (!plan.weights.some((w) => w.percent > 0)) {
    throw new Error(
      `build routes of ModelDeployment ${md.metadata.namespace}/${md.metadata.name}: no revision has a weight above 0`,
    );
  }
  const body: Omit<Routes, 'generation'> = {
    version: 1,
    revisions: plan.weights.map((w) => {
      const model = plan.models?.[w.revision];
      const secret = plan.tokenSecrets?.[w.revision];
      return {
        name: routeNameOf(md, w.revision),
        url: revisionUrl(md, w.revision),
        weight: w.percent,
        ...(model !== undefined ? { model } : {}),
        ...(model !== undefined && plan.profiles?.includes(w.revision) ? { profile: true } : {}),
        ...(secret !== undefined ? { tokenFile: tokenFileOf(secret) } : {}),
        ...(plan.hold?.includes(w.revision) ? { hold: true } : {}),
        ...(plan.hold?.includes(w.revision) && plan.startingPods?.[w.revision]?.length
          ? { startingPods: plan.startingPods[w.revision] }
          : {}),
      };
    }),
  };
  if (plan.mirror && plan.mirror.percent > 0) {
    if (!plan.weights.some((w) => w.revision === plan.mirror!.revision)) {
      throw new Error(
        `build routes of ModelDeployment ${md.metadata.namespace}/${md.metadata.name}: mirror revision ${plan.mirror.revision} has no weight entry`,
      );
    }
    body.mirror = { revision: routeNameOf(md, plan.mirror.revision), percent: plan.mirror.percent };
  }
  const sticky = md.spec.traffic?.stickyHeader;
  if (sticky !== undefined) body.stickyHeader = sticky.toLowerCase();
  body.statsIntervalMs = statsIntervalMsFor(md);
  if (requestPolicyFor(md)) {
    const seconds = md.spec.autoscaling?.activationTimeoutSeconds ?? DEFAULT_ACTIVATION_TIMEOUT_SECONDS;
    body.holdTimeoutMs = seconds * 1000;
  }
  const monitoring = routeMonitoringFor(md, plan.routerPeers ?? []);
  if (monitoring !== undefined) body.monitoring = monitoring;
  const generation = parseInt(createHash('sha256').update(canonicalJson(body)).digest('hex').slice(0, 12), 16);
  const { version, ...rest } = body;
  return { version, generation, ...rest };
}
