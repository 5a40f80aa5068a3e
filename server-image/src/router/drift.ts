/**
 * The router's drift part (contract/drift.ts): an {@link ExchangeObserver} that decodes each
 * observed V2 or V1 JSON inference exchange into rows, keeps each revision's sliding window of
 * the last `windowRows` rows, and compares it with the revision's reference: the profile its
 * servers serve when its route says `profile: true` (fetched like the model metadata, with the
 * route's `tokenFile`), else the first `referenceRows` rows it served. Readings go into the stats
 * document (`revisions.<rev>.drift`) and from there into the metrics.
 *
 * Decoding happens in observe(), after the caller has the response. Exchanges the part cannot
 * decode (binary-extension bodies, errors, shapes that do not match the reference) are counted as
 * skipped.
 *
 * A distribution needs a sample, not a census: each revision's requests are observed up to
 * `sampleRps` per second (a token bucket, decided on arrival, so an unobserved request costs
 * nothing), and the rest pass. Drift's cost is then bounded whatever the traffic; at full rate a
 * window of 1000 rows fills in 1000 / `sampleRps` seconds.
 */
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseTokens } from '../auth.js';
import type { Logger } from '../../../common/log.js';
import { DEFAULT_ROUTER_TOKEN_DIR } from '../../../contract/env.js';
import {
  DriftWindow,
  LiveReference,
  PROFILE_PATH,
  validateProfile,
  type DriftRoute,
  type ReferenceProfile,
  type RevisionDrift,
  type RowBatch,
} from '../../../contract/drift.js';
import type { RouteRevision } from '../../../contract/routes.js';
import type { ExchangeObserver, ObservedExchange } from './observe.js';
import { RateBudget } from './rate-budget.js';

/** The inference paths whose exchanges the part decodes. */
const V2_INFER = /^\/v2\/models\/[^/]+(?:\/versions\/[^/]+)?\/infer$/;
const V1_PREDICT = /^\/v1\/models\/[^/]+:predict$/;

/** How often a missing profile is fetched again. */
const PROFILE_RETRY_MS = 2000;
/** Per profile fetch. */
const PROFILE_TIMEOUT_MS = 5000;

/** One revision's reference and window. */
class RevisionWindow {
  rows = 0;
  skipped = 0;
  window?: DriftWindow;
  live?: LiveReference;
  private reference?: ReferenceProfile;

  constructor(
    /** What the settings were when this was made: a change starts over. */
    readonly key: string,
    readonly fromProfile: boolean,
    private readonly settings: DriftRoute,
  ) {
    if (!fromProfile) this.live = new LiveReference(settings.referenceRows);
  }

  /** Starts comparing with `profile` (fetched from the revision's servers). */
  useProfile(profile: ReferenceProfile): void {
    this.reference = profile;
    this.window = new DriftWindow(profile, this.settings.windowRows);
  }

  /**
   * The names V1 rows are filed under (V1 names no tensor): the reference's sole input and sole
   * class output, else placeholders, which a reference taken from V1 rows itself uses.
   */
  v1Names(): { input: string; output: string } {
    const ref = this.reference;
    return {
      input: ref?.inputs.length === 1 ? ref.inputs[0].name : 'instances',
      output: ref?.outputs.length === 1 ? ref.outputs[0].name : 'predictions',
    };
  }

  add(batch: RowBatch): void {
    this.rows += batch.rows;
    let rest = batch;
    if (this.live && !this.live.complete) {
      const taken = this.live.add(batch);
      if (taken === 0) return void this.skipped++;
      if (!this.live.complete) return;
      this.useProfile(this.live.profile());
      rest = sliceBatch(batch, taken);
    }
    if (this.window && rest.rows > 0) this.window.add(rest);
  }

  read(): RevisionDrift {
    const reading = this.window?.read() ?? { inputPsi: null, outputPsi: null, windowRows: 0 };
    return { reference: this.fromProfile ? 'profile' : 'live', rows: this.rows, skipped: this.skipped, ...reading };
  }
}

/** The rows of `batch` from `from` on. */
function sliceBatch(batch: RowBatch, from: number): RowBatch {
  const rows = batch.rows - from;
  const cut = <T>(values: ArrayLike<T>): T[] => {
    const per = values.length / batch.rows;
    return Array.prototype.slice.call(values, from * per) as T[];
  };
  return {
    rows,
    inputs: new Map([...batch.inputs].map(([k, v]) => [k, cut(v)])),
    outputs: new Map([...batch.outputs].map(([k, v]) => [k, cut(v)])),
  };
}

/** A nested JSON array flattened (V2 allows `data` either way). */
function flatten(data: unknown, out: unknown[] = []): unknown[] {
  if (Array.isArray(data)) for (const d of data) flatten(d, out);
  else out.push(data);
  return out;
}

interface V2Tensor {
  name: string;
  shape: number[];
  data: unknown;
}

function tensors(v: unknown, key: 'inputs' | 'outputs'): V2Tensor[] | undefined {
  const list = (v as Record<string, unknown> | null)?.[key];
  if (!Array.isArray(list)) return undefined;
  return list.filter(
    (t): t is V2Tensor =>
      typeof (t as V2Tensor)?.name === 'string' && Array.isArray((t as V2Tensor).shape) && 'data' in (t as object),
  );
}

/** The rows of a V2 JSON exchange: each input's values, each output with one value per row. */
export function decodeV2(request: unknown, response: unknown): RowBatch | undefined {
  const ins = tensors(request, 'inputs');
  const outs = tensors(response, 'outputs');
  if (!ins || ins.length === 0 || !outs) return undefined;
  const rows = ins[0].shape[0];
  if (!Number.isInteger(rows) || rows < 1) return undefined;
  const inputs = new Map<string, number[]>();
  for (const t of ins) inputs.set(t.name, flatten(t.data) as number[]);
  const outputs = new Map<string, unknown[]>();
  for (const t of outs) {
    const values = flatten(t.data);
    if (values.length === rows) outputs.set(t.name, values);
  }
  return { rows, inputs, outputs };
}

/**
 * The rows of a V1 JSON exchange: `instances` are the rows of the model's sole input (named
 * `inputName`); `predictions` are one value per row (the sole output, named `outputName`) or
 * objects keyed by output name.
 */
export function decodeV1(
  request: unknown,
  response: unknown,
  inputName: string,
  outputName: string,
): RowBatch | undefined {
  const instances = (request as Record<string, unknown> | null)?.instances;
  const predictions = (response as Record<string, unknown> | null)?.predictions;
  if (!Array.isArray(instances) || !Array.isArray(predictions) || instances.length === 0) return undefined;
  if (predictions.length !== instances.length) return undefined;
  const rows = instances.length;
  const inputs = new Map([[inputName, flatten(instances) as number[]]]);
  const outputs = new Map<string, unknown[]>();
  if (predictions.every((p) => typeof p === 'object' && p !== null && !Array.isArray(p))) {
    for (const name of Object.keys(predictions[0] as object)) {
      outputs.set(
        name,
        predictions.map((p) => (p as Record<string, unknown>)[name]),
      );
    }
  } else {
    outputs.set(outputName, predictions);
  }
  return { rows, inputs, outputs };
}

/** What the part needs from the router. */
export interface DriftDeps {
  log: Logger;
  /** The directory routes' `tokenFile`s are relative to. */
  tokenDir?: string;
  /** Most requests per second of each revision observed (0 or unset: every one). */
  sampleRps?: number;
  /** The clock of the sample budgets (performance.now unless a test fakes it). */
  now?: () => number;
}

/** The drift part: one window per revision with drift on. */
export class DriftObserver implements ExchangeObserver {
  private settings: DriftRoute;
  private revisions = new Map<string, { route: RouteRevision; state: RevisionWindow; budget: RateBudget }>();
  private readonly fetching = new Set<string>();
  private readonly failures = new Map<string, string>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    settings: DriftRoute,
    revisions: readonly RouteRevision[],
    private readonly deps: DriftDeps,
  ) {
    this.settings = settings;
    this.configure(settings, revisions);
    this.timer = setInterval(() => this.fetchProfiles(), PROFILE_RETRY_MS);
    this.timer.unref();
  }

  /** The threshold in force (exported beside the scores). */
  get threshold(): number {
    return this.settings.threshold;
  }

  /**
   * Puts new settings and revisions in force: a revision whose settings, URL, model and profile
   * flag are unchanged keeps its window; others start over.
   */
  configure(settings: DriftRoute, revisions: readonly RouteRevision[]): void {
    this.settings = settings;
    const next = new Map<string, { route: RouteRevision; state: RevisionWindow; budget: RateBudget }>();
    for (const route of revisions) {
      const fromProfile = route.profile === true && route.model !== undefined;
      const key = JSON.stringify([settings.windowRows, settings.referenceRows, route.url, route.model, fromProfile]);
      const old = this.revisions.get(route.name);
      next.set(route.name, {
        route,
        state: old?.state.key === key ? old.state : new RevisionWindow(key, fromProfile, settings),
        budget: old?.budget ?? new RateBudget(this.deps.sampleRps ?? 0, this.deps.now),
      });
    }
    this.revisions = next;
    this.fetchProfiles();
  }

  /** Stops fetching profiles. */
  close(): void {
    clearInterval(this.timer);
  }

  wants(revision: string, method: string, urlPath: string): boolean {
    const entry = this.revisions.get(revision);
    if (method !== 'POST' || !entry) return false;
    const q = urlPath.indexOf('?');
    const p = q < 0 ? urlPath : urlPath.slice(0, q);
    return (V2_INFER.test(p) || V1_PREDICT.test(p)) && entry.budget.take();
  }

  observe(exchange: ObservedExchange): void {
    const entry = this.revisions.get(exchange.revision);
    if (!entry) return;
    const { state } = entry;
    try {
      const batch = exchange.status === 200 ? this.decode(exchange, state) : undefined;
      if (batch) state.add(batch);
      else state.skipped++;
    } catch {
      state.skipped++;
    }
  }

  /** Every revision's figures, for the stats document. */
  read(): Record<string, RevisionDrift> {
    const out: Record<string, RevisionDrift> = {};
    for (const [name, { state }] of this.revisions) out[name] = state.read();
    return out;
  }

  private decode(exchange: ObservedExchange, state: RevisionWindow): RowBatch | undefined {
    const { request, response } = exchange;
    // Binary-extension bodies are not decoded (a JSON header followed by raw tensors).
    if (request.inferenceHeaderLength !== undefined || response.inferenceHeaderLength !== undefined) return undefined;
    const req: unknown = JSON.parse(request.body.toString('utf8'));
    const res: unknown = JSON.parse(response.body.toString('utf8'));
    const p = exchange.path;
    if (V2_INFER.test(p.split('?')[0])) return decodeV2(req, res);
    const names = state.v1Names();
    return decodeV1(req, res, names.input, names.output);
  }

  private fetchProfiles(): void {
    for (const [name, { route, state }] of this.revisions) {
      if (!state.fromProfile || state.window || this.fetching.has(name) || route.model === undefined) continue;
      this.fetching.add(name);
      const url = `${route.url}${PROFILE_PATH(route.model)}`;
      void this.fetchProfile(url, route.tokenFile).then(
        (profile) => {
          this.fetching.delete(name);
          if (this.revisions.get(name)?.state !== state) return;
          state.useProfile(profile);
          this.failures.delete(name);
          this.deps.log.info('drift profile fetched', { revision: name, url });
        },
        (err: Error) => {
          this.fetching.delete(name);
          const message = `fetch drift profile of revision ${name} from ${url}: ${err.message}`;
          if (this.failures.get(name) === message) return;
          this.failures.set(name, message);
          this.deps.log.warn(message);
        },
      );
    }
  }

  private async fetchProfile(url: string, tokenFile: string | undefined): Promise<ReferenceProfile> {
    const headers: http.OutgoingHttpHeaders = { accept: 'application/json' };
    if (tokenFile !== undefined) {
      // validateRoutes keeps tokenFile relative and free of '..' segments: it stays under tokenDir.
      const file = path.join(this.deps.tokenDir ?? DEFAULT_ROUTER_TOKEN_DIR, tokenFile);
      const [token] = parseTokens(await readFile(file, 'utf8'));
      if (token === undefined) throw new Error(`token file ${file} holds no token`);
      headers.authorization = `Bearer ${token}`;
    }
    const body = await new Promise<unknown>((resolve, reject) => {
      const req = http.get(url, { agent: false, timeout: PROFILE_TIMEOUT_MS, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode}`));
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          } catch (err) {
            reject(new Error(`invalid JSON: ${(err as Error).message}`));
          }
        });
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${PROFILE_TIMEOUT_MS} ms`)));
      req.on('error', reject);
    });
    const checked = validateProfile(body);
    if (!checked.ok) throw new Error(checked.error);
    return checked.value;
  }
}
