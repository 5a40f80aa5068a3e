/**
 * Part of the cross-process contract (contract/): the Routes document, between the operator (which
 * writes it) and the router (which obeys it). The operator stores it as JSON under the key
 * `routes.json` (contract/keys.ts) of a ConfigMap (the router watches it through the API server) or,
 * for local use, in a file. A change reaches running routers within a second, without a restart.
 *
 * ```json
 * {
 *   "version": 1,
 *   "generation": 7,
 *   "revisions": [
 *     {"name": "digits-5f7c9", "url": "http://digits-5f7c9.ml.svc:8080", "weight": 90},
 *     {"name": "digits-a41b2", "url": "http://digits-a41b2.ml.svc:8080", "weight": 10}
 *   ],
 *   "mirror": {"revision": "digits-a41b2", "percent": 100, "tolerance": 0.001},
 *   "stickyHeader": "x-user-id",
 *   "statsIntervalMs": 5000,
 *   "holdTimeoutMs": 60000
 * }
 * ```
 *
 * - `version`: format version, always 1 for now (a router refuses versions it does not know).
 * - `generation`: a non-negative integer the operator bumps on every change; the router echoes the
 *   generation it serves in its stats so the operator knows when a change has reached the data path.
 * - `revisions`: 1..16 backends, unique names (DNS labels, ≤ 63 chars), `http://` base URLs without
 *   query or fragment, integer weights 0..1,000,000 with at least one weight above zero. Weights are
 *   relative (percentages are the natural choice). The split is exact: over any `sum(weights)`
 *   consecutive requests, each revision receives exactly its weight. Optional `model`: the served
 *   model's name; when given, the router fetches the revision's `GET /v2/models/{model}` metadata
 *   and publishes it in its stats document (`models`), so the operator can compare contracts
 *   without network access to pods.
 *   Optional `tokenFile`: when the revision's servers require a bearer token (spec.auth), the file
 *   holding it, as a relative path under the router's token directory (`MODELSHIP_ROUTER_TOKEN_DIR`,
 *   where the operator mounts the auth Secrets); one or more `/`-separated segments of letters,
 *   digits, `.`, `_`, `-`, none of them `.` or `..`. The router sends the file's first token as
 *   `Authorization: Bearer` on its own metadata fetches only, and re-reads the file on every fetch,
 *   so a rotated Secret is used as soon as the kubelet has updated the mount. Clients' requests
 *   are proxied with their own Authorization header, never this one.
 *   Optional `hold: true`: the revision has no ready pod because it is scaled to zero or starting
 *   from zero. The router holds the requests it routes there (a bounded queue per router pod,
 *   MODELSHIP_ROUTER_MAX_HELD), counts them in its stats (`load.held`) and publishes its stats at
 *   once so the operator scales the revision up; when a Routes document without `hold` for that
 *   revision arrives, the held requests are sent in arrival order. A request held longer than
 *   `holdTimeoutMs`, or refused because the queue is full, gets a 503 `{"error"}` naming the
 *   revision, with `Retry-After`. The operator scales a revision to zero only after every router
 *   pod's stats echo a `routesGeneration` in which it holds, so no request meets a revision with
 *   no pod and no hold.
 *   Optional `startingPods` (only with `hold`): `http://` base URLs (pod IP and port, at most 16) of
 *   the revision's pods that run but are not yet known ready. While it holds, the router polls
 *   `GET <url>/v2/health/ready` of each (every ~50 ms, as Knative's activator probes) and, as soon
 *   as one answers 200, sends the held requests, and new ones for the revision, straight to that
 *   pod rather than through the Service, until a Routes document drops the hold. A cold start then
 *   waits for the model, not for the kubelet's next probe tick, the EndpointSlice and kube-proxy.
 * - `mirror` (optional): a share of the requests routed to another revision is also sent to
 *   `revision` (which must be listed; its weight may be 0). `percent` is 0..100 and exact in the
 *   same sense as weights (over every 100 eligible requests, exactly `percent` are mirrored). The
 *   mirror's response is discarded, compared with the served one for the agreement statistics
 *   (top class for classifier-like outputs, else max |a-b| ≤ `tolerance`, default 1e-3).
 * - `stickyHeader` (optional): a request header name; requests carrying it are routed by a hash of
 *   its value, so the same value reaches the same revision for as long as the weights do not change.
 *   Requests without the header use the exact split.
 * - `statsIntervalMs` (optional): how often each router pod publishes its stats document, an
 *   integer of 100..3,600,000 ms. A rollout setting (the operator derives it from the analysis
 *   interval), hence here rather than in the pods' environment: changing it must not restart the
 *   routers. Without it a router publishes every MODELSHIP_STATS_INTERVAL_MS.
 * - `monitoring` (optional): what the router observes of the requests it serves: `payloadLog`
 *   (contract/payload-log.ts), `drift` (contract/drift.ts; a revision with `profile: true` serves
 *   its reference profile) and `accuracy` (contract/accuracy.ts). Each part is off when absent.
 * - `holdTimeoutMs` (optional): how long a held request waits for its revision to come up before
 *   its 503, an integer of 100..600,000 ms; {@link DEFAULT_HOLD_TIMEOUT_MS} without it.
 */
import { validateAccuracyRoute, type AccuracyRoute } from './accuracy.js';
import { validateDriftRoute, type DriftRoute } from './drift.js';
import { validatePayloadLogRoute, type PayloadLogRoute } from './payload-log.js';

export interface Routes {
  version: 1;
  generation: number;
  revisions: RouteRevision[];
  mirror?: RouteMirror;
  stickyHeader?: string;
  statsIntervalMs?: number;
  holdTimeoutMs?: number;
  monitoring?: RouteMonitoring;
}

/**
 * What the router observes of the requests it serves (spec.monitoring); each part is off when
 * absent. The formats are in contract/payload-log.ts, contract/drift.ts and contract/accuracy.ts.
 */
export interface RouteMonitoring {
  payloadLog?: PayloadLogRoute;
  drift?: DriftRoute;
  accuracy?: AccuracyRoute;
}

/** One backend the router may send requests to: a revision Service. */
export interface RouteRevision {
  name: string;
  url: string;
  weight: number;
  model?: string;
  /** The bearer token for the metadata fetch, relative to the router's token directory. */
  tokenFile?: string;
  /** No pod of this revision is ready (scaled to zero, or starting from it): hold its requests. */
  hold?: boolean;
  /** With `hold`: the revision's running pods (base URLs) the router probes and may send to directly. */
  startingPods?: string[];
  /** With `model`: the revision's servers serve a reference profile (contract/drift.ts PROFILE_PATH). */
  profile?: boolean;
}

/** Which revision receives copies of requests, and how many. */
export interface RouteMirror {
  revision: string;
  percent: number;
  tolerance?: number;
}

/** The outcome of validating a candidate Routes document. */
export type RoutesResult = { ok: true; routes: Routes } | { ok: false; error: string };

/** Highest weight one revision may carry; keeps the weight arithmetic far inside safe integers. */
export const MAX_WEIGHT = 1_000_000;
/** Most revisions a Routes document may list. */
export const MAX_REVISIONS = 16;
/** Agreement tolerance for non-classifier outputs when the document does not name one. */
export const DEFAULT_TOLERANCE = 1e-3;
/** Bounds of `statsIntervalMs`: each interval every router pod writes to the API server. */
export const STATS_INTERVAL_MS = { min: 100, max: 3_600_000 } as const;
/** Most `startingPods` one revision's route may list. */
export const MAX_STARTING_PODS = 16;
/** Bounds of `holdTimeoutMs`. */
export const HOLD_TIMEOUT_MS = { min: 100, max: 600_000 } as const;
/** How long a held request waits when the Routes document names no `holdTimeoutMs`. */
export const DEFAULT_HOLD_TIMEOUT_MS = 60_000;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;
const PATH_SEGMENT = /^[A-Za-z0-9._-]{1,253}$/;
/** Longest `tokenFile` (a Secret name, 253, a slash and a key, 253). */
export const MAX_TOKEN_FILE_LENGTH = 507;

/** Whether a `tokenFile` is a relative path that stays inside the token directory. */
export function isTokenFilePath(v: unknown): v is string {
  if (typeof v !== 'string' || v.length > MAX_TOKEN_FILE_LENGTH) return false;
  return v.split('/').every((seg) => PATH_SEGMENT.test(seg) && seg !== '.' && seg !== '..');
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isWholeNumber(v: unknown, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
}

function checkUrl(url: unknown, field: string): string | undefined {
  if (typeof url !== 'string') return `${field}: must be a string`;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `${field}: not a valid URL: ${JSON.stringify(url)}`;
  }
  if (parsed.protocol !== 'http:') return `${field}: must be an http:// URL, got ${parsed.protocol}`;
  if (parsed.search || parsed.hash) return `${field}: must not have a query or fragment`;
  if (parsed.username || parsed.password) return `${field}: must not carry credentials`;
  return undefined;
}

/**
 * Validates an already-parsed Routes document. Errors name the offending field
 * (`revisions[1].weight: ...`) so the operator's mistakes are obvious in the router's log.
 */
export function validateRoutes(doc: unknown): RoutesResult {
  const fail = (error: string): RoutesResult => ({ ok: false, error });
  if (!isRecord(doc)) return fail('routes: must be a JSON object');
  const known = new Set([
    'version',
    'generation',
    'revisions',
    'mirror',
    'stickyHeader',
    'statsIntervalMs',
    'holdTimeoutMs',
    'monitoring',
  ]);
  for (const key of Object.keys(doc)) if (!known.has(key)) return fail(`${key}: unknown field`);
  if (doc.version !== 1) return fail(`version: must be 1, got ${JSON.stringify(doc.version)}`);
  if (!isWholeNumber(doc.generation, Number.MAX_SAFE_INTEGER)) {
    return fail('generation: must be a non-negative integer');
  }
  if (!Array.isArray(doc.revisions) || doc.revisions.length === 0) {
    return fail('revisions: must be a non-empty array');
  }
  if (doc.revisions.length > MAX_REVISIONS) return fail(`revisions: at most ${MAX_REVISIONS} entries`);
  const revisions: RouteRevision[] = [];
  const names = new Set<string>();
  for (const [i, rev] of doc.revisions.entries()) {
    const where = `revisions[${i}]`;
    if (!isRecord(rev)) return fail(`${where}: must be an object`);
    for (const key of Object.keys(rev)) {
      if (!['name', 'url', 'weight', 'model', 'tokenFile', 'hold', 'startingPods', 'profile'].includes(key)) {
        return fail(`${where}.${key}: unknown field`);
      }
    }
    if (typeof rev.name !== 'string' || rev.name.length > 63 || !DNS_LABEL.test(rev.name)) {
      return fail(`${where}.name: must be a DNS label (lowercase alphanumerics and '-', at most 63 chars)`);
    }
    if (names.has(rev.name)) return fail(`${where}.name: duplicate revision ${rev.name}`);
    names.add(rev.name);
    const urlError = checkUrl(rev.url, `${where}.url`);
    if (urlError) return fail(urlError);
    if (!isWholeNumber(rev.weight, MAX_WEIGHT)) {
      return fail(`${where}.weight: must be an integer between 0 and ${MAX_WEIGHT}`);
    }
    if (rev.model !== undefined && (typeof rev.model !== 'string' || !MODEL_NAME.test(rev.model))) {
      return fail(`${where}.model: must be a model name (letters, digits, '.', '_', '-'; at most 253 chars)`);
    }
    if (rev.tokenFile !== undefined && !isTokenFilePath(rev.tokenFile)) {
      return fail(
        `${where}.tokenFile: must be a relative path of segments of letters, digits, '.', '_', '-' (no '.' or '..' segment; at most ${MAX_TOKEN_FILE_LENGTH} chars)`,
      );
    }
    const revision: RouteRevision = {
      name: rev.name,
      url: (rev.url as string).replace(/\/+$/, ''),
      weight: rev.weight,
    };
    if (rev.model !== undefined) revision.model = rev.model as string;
    if (rev.tokenFile !== undefined) revision.tokenFile = rev.tokenFile as string;
    if (rev.hold !== undefined) {
      if (typeof rev.hold !== 'boolean') return fail(`${where}.hold: must be true or false`);
      if (rev.hold) revision.hold = true;
    }
    if (rev.startingPods !== undefined) {
      if (!revision.hold) return fail(`${where}.startingPods: only with hold: true`);
      if (!Array.isArray(rev.startingPods) || rev.startingPods.length > MAX_STARTING_PODS) {
        return fail(`${where}.startingPods: must be an array of at most ${MAX_STARTING_PODS} URLs`);
      }
      for (const [j, url] of rev.startingPods.entries()) {
        const urlError = checkUrl(url, `${where}.startingPods[${j}]`);
        if (urlError) return fail(urlError);
      }
      revision.startingPods = (rev.startingPods as string[]).map((u) => u.replace(/\/+$/, ''));
    }
    if (rev.profile !== undefined) {
      if (typeof rev.profile !== 'boolean') return fail(`${where}.profile: must be true or false`);
      if (rev.profile && revision.model === undefined) return fail(`${where}.profile: only with model`);
      if (rev.profile) revision.profile = true;
    }
    revisions.push(revision);
  }
  if (revisions.every((r) => r.weight === 0)) return fail('revisions: at least one weight must be above 0');
  const routes: Routes = { version: 1, generation: doc.generation, revisions };
  if (doc.mirror !== undefined) {
    const m = doc.mirror;
    if (!isRecord(m)) return fail('mirror: must be an object');
    for (const key of Object.keys(m)) {
      if (!['revision', 'percent', 'tolerance'].includes(key)) return fail(`mirror.${key}: unknown field`);
    }
    if (typeof m.revision !== 'string' || !names.has(m.revision)) {
      return fail(`mirror.revision: must name a listed revision, got ${JSON.stringify(m.revision)}`);
    }
    if (!isWholeNumber(m.percent, 100)) return fail('mirror.percent: must be an integer between 0 and 100');
    if (
      m.tolerance !== undefined &&
      (typeof m.tolerance !== 'number' || !(m.tolerance >= 0) || !isFinite(m.tolerance))
    ) {
      return fail('mirror.tolerance: must be a finite number >= 0');
    }
    routes.mirror = { revision: m.revision, percent: m.percent };
    if (m.tolerance !== undefined) routes.mirror.tolerance = m.tolerance as number;
  }
  if (doc.stickyHeader !== undefined) {
    if (typeof doc.stickyHeader !== 'string' || !HEADER_NAME.test(doc.stickyHeader)) {
      return fail('stickyHeader: must be a valid HTTP header name');
    }
    routes.stickyHeader = doc.stickyHeader.toLowerCase();
  }
  if (doc.statsIntervalMs !== undefined) {
    const { min, max } = STATS_INTERVAL_MS;
    if (!isWholeNumber(doc.statsIntervalMs, max) || doc.statsIntervalMs < min) {
      return fail(`statsIntervalMs: must be an integer between ${min} and ${max}`);
    }
    routes.statsIntervalMs = doc.statsIntervalMs;
  }
  if (doc.holdTimeoutMs !== undefined) {
    const { min, max } = HOLD_TIMEOUT_MS;
    if (!isWholeNumber(doc.holdTimeoutMs, max) || doc.holdTimeoutMs < min) {
      return fail(`holdTimeoutMs: must be an integer between ${min} and ${max}`);
    }
    routes.holdTimeoutMs = doc.holdTimeoutMs;
  }
  if (doc.monitoring !== undefined) {
    const monitoring = validateMonitoring(doc.monitoring);
    if (!monitoring.ok) return fail(monitoring.error);
    if (Object.keys(monitoring.value).length > 0) routes.monitoring = monitoring.value;
  }
  return { ok: true, routes };
}

/** Validates a Routes document's `monitoring`: each part by its own contract module. */
function validateMonitoring(m: unknown): { ok: true; value: RouteMonitoring } | { ok: false; error: string } {
  if (!isRecord(m)) return { ok: false, error: 'monitoring: must be an object' };
  const value: RouteMonitoring = {};
  for (const key of Object.keys(m)) {
    const where = `monitoring.${key}`;
    const part =
      key === 'payloadLog'
        ? validatePayloadLogRoute(m[key], where)
        : key === 'drift'
          ? validateDriftRoute(m[key], where)
          : key === 'accuracy'
            ? validateAccuracyRoute(m[key], where)
            : { ok: false as const, error: `${where}: unknown field` };
    if (!part.ok) return part;
    Object.assign(value, { [key]: part.value });
  }
  return { ok: true, value };
}

/** Parses and validates Routes JSON text (the `routes.json` key or the routes file). */
export function parseRoutes(text: string): RoutesResult {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: `routes: invalid JSON: ${(err as Error).message}` };
  }
  return validateRoutes(doc);
}
