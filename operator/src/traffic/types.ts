/**
 * The traffic-routing contract: one interface, one file per implementation (the builtin router,
 * the Gateway API), in the manner of Flagger's pkg/router and Argo Rollouts' trafficrouting.
 */
import type { AuthSpec, ModelDeployment } from '../api/types.js';
import type { KubeObject } from '../desired/types.js';

/** Share of live traffic one revision receives (the percents of a plan sum to 100). */
export interface TrafficWeight {
  revision: string;
  percent: number;
}

/** Requests copied to a revision (responses discarded), as a percent of the requests routed elsewhere. */
export interface TrafficMirror {
  revision: string;
  percent: number;
}

/**
 * What traffic routing needs from a rollout decision. RolloutPlan satisfies it (its `weights` list
 * the stable revision first); `mirror` is the canary's shadow or agreement sampling.
 */
export interface TrafficPlan {
  /** Live traffic per revision, stable first; percents sum to 100. */
  weights: TrafficWeight[];
  mirror?: TrafficMirror;
  /** The model name each revision serves (revision → name), so the router can read its V2 metadata. */
  models?: Record<string, string>;
  /**
   * The auth token Secret of each revision whose servers require a bearer token (revision → its
   * template's spec.auth.tokenSecretRef), so the router can read their metadata.
   */
  tokenSecrets?: Record<string, TokenSecretRef>;
  /** Revisions whose requests the router holds: no ready pod (at zero, or starting from it), or going to zero. */
  hold?: string[];
  /** Of the held revisions, the base URLs of the running pods the router may probe and send to directly. */
  startingPods?: Record<string, string[]>;
  /** Revisions whose model has a reference profile (spec.model.profile): their servers serve it for drift. */
  profiles?: string[];
  /** The router pods' base URLs, for spec.monitoring.accuracy's label forwarding (contract AccuracyRoute.peers). */
  routerPeers?: string[];
}

/** A revision's bearer-token Secret (spec.auth.tokenSecretRef; `key` defaults to `token`). */
export type TokenSecretRef = AuthSpec['tokenSecretRef'];

/** Turns a traffic plan into the objects that realise it. Pure: no I/O, no clock. */
export interface TrafficRouter {
  /** Every object this implementation needs for the plan, in apply order, each owned by `md`. */
  objectsFor(md: ModelDeployment, plan: TrafficPlan): KubeObject[];
}
