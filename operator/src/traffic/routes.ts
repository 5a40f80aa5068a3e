/**
 * The Routes document the builtin router obeys (format: contract/routes.ts), built from a traffic
 * plan and the ModelDeployment's rollout settings the router applies.
 */
import { createHash } from 'node:crypto';
import type { ModelDeployment } from '../api/types.js';
import { DEFAULT_TOKEN_KEY } from '../desired/deployment.js';
import { SERVICE_PORT } from '../desired/service.js';
import type { Routes } from '../../../contract/routes.js';
import { analysisLimitsOf } from '../rollout/analysis.js';
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

/**
 * How often router pods publish their stats: half the analysis interval (so each check reads
 * figures at most half an interval old), between 0.5 s and the router's default of 5 s.
 */
export function statsIntervalMsFor(md: ModelDeployment): number {
  const interval = analysisLimitsOf(md.spec.rollout?.analysis).intervalSeconds;
  return Math.min(5_000, Math.max(500, Math.round((interval * 1000) / 2)));
}

/**
 * The Routes document for a plan: one backend per weighted revision (weight 0 kept, so the mirror
 * target is listed and a rollback is a weight change only), the mirror, and the sticky header. A
 * revision whose servers require a bearer token names its token file, for the router's metadata fetch.
 * The stats interval rides along, so a new analysis interval reaches the routers without a restart.
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
        ...(secret !== undefined ? { tokenFile: tokenFileOf(secret) } : {}),
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
  const generation = parseInt(createHash('sha256').update(canonicalJson(body)).digest('hex').slice(0, 12), 16);
  const { version, ...rest } = body;
  return { version, generation, ...rest };
}
