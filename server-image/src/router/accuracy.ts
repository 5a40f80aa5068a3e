/**
 * Live accuracy in the router (contract/accuracy.ts has the labels API): an observer that keeps the
 * predicted labels of every answered inference request, keyed by its request id, until its true
 * labels are posted or its time runs out, and the labels endpoint that joins them. A joined row
 * counts right or wrong for the revision that served it, in the stats document
 * (`revisions.<rev>.accuracy`) and the metrics. Labels for ids this pod does not hold are asked of
 * the route's peers, once, in parallel, within a deadline.
 *
 * Nothing here runs on a timer: expired predictions are dropped when predictions are stored,
 * labels joined or the pending count read.
 */
import type http from 'node:http';
import {
  LABELS_PATH,
  MAX_LABELS_BODY_BYTES,
  PEER_TIMEOUT_MS,
  parseLabelsRequest,
  type AccuracyRoute,
  type LabelEntry,
  type LabelsAnswer,
} from '../../../contract/accuracy.js';
import type { Logger } from '../../../common/log.js';
import { decodeOutputs, type DecodedOutput } from './agreement.js';
import type { RouterMetrics } from './metrics.js';
import type { ExchangeObserver, ObservedExchange } from './observe.js';
import type { RouterStats } from './stats.js';

/** The inference paths whose answers carry predictions: V2 infer and V1 predict. */
const INFERENCE_PATH = /^\/v2\/models\/[^/]+(?:\/versions\/[^/]+)?\/infer$|^\/v1\/models\/[^/]+:predict$/;

const INTEGER_TYPES = new Set(['INT8', 'INT16', 'INT32', 'INT64', 'UINT8', 'UINT16', 'UINT32', 'UINT64']);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * V1 predictions that are objects keyed by output name (a model with several outputs), as one
 * output per key with a row per prediction; undefined for any other body.
 */
function v1KeyedOutputs(body: Buffer): DecodedOutput[] | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isRecord(doc) || !Array.isArray(doc.predictions) || !doc.predictions.every(isRecord)) return undefined;
  const rows = doc.predictions as Record<string, unknown>[];
  if (rows.length === 0) return undefined;
  const outputs: DecodedOutput[] = [];
  for (const name of Object.keys(rows[0]!)) {
    const perRow = rows.map((r) => r[name]);
    const width = Array.isArray(perRow[0]) ? perRow[0].length : undefined;
    const values: (number | string)[] = [];
    for (const v of perRow) {
      const flat = Array.isArray(v) ? v : [v];
      if (!flat.every((x) => typeof x === 'number' || typeof x === 'string')) return undefined;
      if (Array.isArray(v) !== (width !== undefined) || flat.length !== (width ?? 1)) return undefined;
      values.push(...(flat as (number | string)[]));
    }
    outputs.push({ name, shape: width === undefined ? [rows.length] : [rows.length, width], values });
  }
  return outputs;
}

function isIntegerOutput(o: DecodedOutput): boolean {
  if (o.datatype !== undefined) return INTEGER_TYPES.has(o.datatype);
  return o.values.length > 0 && o.values.every((v) => typeof v === 'number' && Number.isInteger(v));
}

/** One predicted class per row of `o`: the argmax of each row of scores, else the value itself. */
function classesOf(o: DecodedOutput): string[] | undefined {
  const rows = o.shape[0];
  if (rows === undefined || rows <= 0)
    return o.shape.length === 0 && o.values.length === 1 ? [String(o.values[0])] : undefined;
  if (o.values.length % rows !== 0) return undefined;
  const width = o.values.length / rows;
  if (width === 1) return o.values.map(String);
  if (!o.values.every((v) => typeof v === 'number')) return undefined;
  const values = o.values as number[];
  const out: string[] = [];
  for (let start = 0; start < values.length; start += width) {
    let best = start;
    for (let i = start + 1; i < start + width; i++) if (values[i]! > values[best]!) best = i;
    out.push(String(best - start));
  }
  return out;
}

/**
 * The predicted label of each row of an inference response body (V2 JSON or binary extension, V1
 * JSON), as text: the values of output `output` when named, else of the first integer output, else
 * the argmax of each row of the first output. Undefined when the body is no inference response or
 * lacks that output.
 */
export function predictedLabels(
  body: Buffer,
  inferenceHeaderLength: number | undefined,
  output: string | undefined,
): string[] | undefined {
  const outputs = decodeOutputs(body, inferenceHeaderLength) ?? v1KeyedOutputs(body);
  if (!outputs || outputs.length === 0) return undefined;
  const chosen =
    output !== undefined
      ? (outputs.find((o) => o.name === output) ??
        // A single V1 output is named "predictions" whatever the model calls it.
        (outputs.length === 1 && outputs[0]!.name === 'predictions' ? outputs[0] : undefined))
      : (outputs.find(isIntegerOutput) ?? outputs[0]);
  return chosen ? classesOf(chosen) : undefined;
}

/** A served request's predictions, waiting for their labels. */
interface Pending {
  revision: string;
  predicted: string[];
  /** Date.now() when stored; expires ttlSeconds later. */
  at: number;
  /** Set once labels were joined: later ones are duplicates. */
  joined: boolean;
}

/** How one label entry was taken. */
export type JoinOutcome =
  | { kind: 'matched'; revision: string; rows: number; correct: number }
  | { kind: 'duplicate' | 'mismatched' | 'unknown' };

/**
 * The predictions one router pod keeps, in arrival order, for `ttlSeconds`, at most `maxPending`
 * (the oldest dropped first). Joined ones stay (without their predictions' use) until they expire
 * so a second label for them is told apart from an unknown id.
 */
export class PredictionStore {
  private readonly entries = new Map<string, Pending>();
  private waiting = 0;

  /**
   * @param onEvicted called for each prediction dropped unlabelled because the store was full
   * @param now Date.now unless a test fakes it
   */
  constructor(
    private settings: { ttlSeconds: number; maxPending: number },
    private readonly onEvicted: () => void = () => undefined,
    private readonly now: () => number = Date.now,
  ) {}

  /** New settings, in force at once (a smaller maxPending drops the oldest at the next put). */
  configure(settings: { ttlSeconds: number; maxPending: number }): void {
    this.settings = settings;
  }

  /** Predictions still waiting for labels (expired ones dropped first). */
  pending(): number {
    this.expire();
    return this.waiting;
  }

  /** Keeps the predictions of request `id` (a reused id replaces the earlier request's). */
  put(id: string, revision: string, predicted: string[]): void {
    this.expire();
    this.remove(id);
    while (this.entries.size >= this.settings.maxPending) {
      const oldest = this.entries.keys().next().value as string;
      if (!this.entries.get(oldest)!.joined) this.onEvicted();
      this.remove(oldest);
    }
    this.entries.set(id, { revision, predicted, at: this.now(), joined: false });
    this.waiting++;
  }

  /** Joins the true labels of request `id` with its predictions (compared as text). */
  join(entry: LabelEntry): JoinOutcome {
    this.expire();
    const p = this.entries.get(entry.id);
    if (!p) return { kind: 'unknown' };
    if (p.joined) return { kind: 'duplicate' };
    if (entry.labels.length !== p.predicted.length) return { kind: 'mismatched' };
    let correct = 0;
    entry.labels.forEach((label, i) => {
      if (String(label) === p.predicted[i]) correct++;
    });
    p.joined = true;
    p.predicted = [];
    this.waiting--;
    return { kind: 'matched', revision: p.revision, rows: entry.labels.length, correct };
  }

  private remove(id: string): void {
    const p = this.entries.get(id);
    if (!p) return;
    if (!p.joined) this.waiting--;
    this.entries.delete(id);
  }

  /** Drops what expired: entries are in arrival order, so the scan stops at the first live one. */
  private expire(): void {
    const cutoff = this.now() - this.settings.ttlSeconds * 1000;
    for (const [id, p] of this.entries) {
      if (p.at > cutoff) break;
      this.remove(id);
    }
  }
}

/** What the accuracy part needs from the router. */
export interface AccuracyDeps {
  stats: RouterStats;
  metrics: RouterMetrics;
  log: Logger;
  /** Date.now unless a test fakes it. */
  now?: () => number;
  /** Posts forwarded labels to a peer (fetch unless a test fakes it); resolves with its answer. */
  post?: PeerPost;
}

/**
 * Posts forwarded labels `body` to a peer's `url`, with the caller's Authorization header when it
 * sent one (the peer guards labels with the same tokens); resolves with the peer's answer.
 */
export type PeerPost = (url: string, body: string, timeoutMs: number, authorization?: string) => Promise<unknown>;

/** Posts `body` to `url` and resolves with the JSON of a 200 answer; rejects otherwise. */
async function postJson(url: string, body: string, timeoutMs: number, authorization?: string): Promise<unknown> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
    body,
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (res.status !== 200) throw new Error(`answered ${res.status}`);
  return res.json();
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}

/** Reads a request body up to `limit` bytes; undefined when it is larger. */
function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume();
      resolve(undefined);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= limit) chunks.push(c);
    });
    req.on('end', () => resolve(size > limit ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** A peer's answer to forwarded labels, as far as the asking pod uses it. */
interface PeerAnswer {
  matched: number;
  duplicate: number;
  mismatched: number;
  found: string[];
}

function peerAnswerOf(v: unknown): PeerAnswer | undefined {
  if (!isRecord(v) || !Array.isArray(v.found) || !v.found.every((id) => typeof id === 'string')) return undefined;
  const n = (x: unknown) => (typeof x === 'number' && Number.isSafeInteger(x) && x >= 0 ? x : 0);
  return { matched: n(v.matched), duplicate: n(v.duplicate), mismatched: n(v.mismatched), found: v.found as string[] };
}

/** The accuracy part: the observer on the proxy's tap and the labels endpoint. */
export class AccuracyMonitor implements ExchangeObserver {
  private readonly store: PredictionStore;
  private readonly post: PeerPost;

  constructor(
    private route: AccuracyRoute,
    private readonly deps: AccuracyDeps,
  ) {
    this.store = new PredictionStore(route, () => deps.metrics.predictionsEvicted.inc(), deps.now);
    this.post = deps.post ?? postJson;
  }

  /** New settings from a routes change; the predictions held and the counts carry on. */
  configure(route: AccuracyRoute): void {
    this.route = route;
    this.store.configure(route);
  }

  /** Predictions waiting for labels. */
  pending(): number {
    return this.store.pending();
  }

  wants(_revision: string, method: string, path: string): boolean {
    return method === 'POST' && INFERENCE_PATH.test(path.split('?')[0]!);
  }

  observe(exchange: ObservedExchange): void {
    if (exchange.status !== 200) return;
    const { body, inferenceHeaderLength } = exchange.response;
    const predicted = predictedLabels(body, inferenceHeaderLength, this.route.output);
    if (predicted && predicted.length > 0) this.store.put(exchange.requestId, exchange.revision, predicted);
  }

  /** Joins label entries here; counts matched rows. The ids not held here come back as `unknown`. */
  private joinHere(entries: LabelEntry[]): { answer: LabelsAnswer; found: string[]; unknown: LabelEntry[] } {
    const answer: LabelsAnswer = { matched: 0, unknown: 0, duplicate: 0, mismatched: 0, unreachablePeers: 0 };
    const found: string[] = [];
    const unknown: LabelEntry[] = [];
    for (const entry of entries) {
      const outcome = this.store.join(entry);
      if (outcome.kind === 'unknown') {
        unknown.push(entry);
        continue;
      }
      found.push(entry.id);
      answer[outcome.kind]++;
      if (outcome.kind === 'matched') this.deps.stats.recordLabels(outcome.revision, outcome.rows, outcome.correct);
    }
    answer.unknown = unknown.length;
    return { answer, found, unknown };
  }

  /** Asks every peer at once about `entries`; adds what they joined to `answer`. */
  private async askPeers(entries: LabelEntry[], answer: LabelsAnswer, authorization?: string): Promise<void> {
    const body = JSON.stringify({ labels: entries, forwarded: true });
    const replies = await Promise.allSettled(
      this.route.peers.map(async (peer) => {
        const reply = peerAnswerOf(await this.post(`${peer}${LABELS_PATH}`, body, PEER_TIMEOUT_MS, authorization));
        if (!reply) throw new Error('answered no labels answer');
        return reply;
      }),
    );
    const found = new Set<string>();
    replies.forEach((r, i) => {
      if (r.status === 'rejected') {
        answer.unreachablePeers++;
        this.deps.log.warn('labels: a peer router did not take forwarded labels', {
          peer: this.route.peers[i],
          error: (r.reason as Error).message,
        });
        return;
      }
      answer.matched += r.value.matched;
      answer.duplicate += r.value.duplicate;
      answer.mismatched += r.value.mismatched;
      for (const id of r.value.found) found.add(id);
    });
    answer.unknown = entries.filter((e) => !found.has(e.id)).length;
  }

  /**
   * `POST LABELS_PATH`: see contract/accuracy.ts. The caller was let in already (labels-auth.ts);
   * its `authorization` goes with the labels forwarded to peers.
   */
  async handleLabels(req: http.IncomingMessage, res: http.ServerResponse, authorization?: string): Promise<void> {
    if (req.method !== 'POST') {
      sendJson(res, 405, { error: `labels: ${req.method} not allowed, POST a labels body to ${LABELS_PATH}` });
      return;
    }
    const body = await readBody(req, MAX_LABELS_BODY_BYTES);
    if (!body) {
      sendJson(res, 413, { error: `labels body: larger than ${MAX_LABELS_BODY_BYTES} bytes` });
      return;
    }
    let doc: unknown;
    try {
      doc = JSON.parse(body.toString('utf8'));
    } catch (err) {
      sendJson(res, 400, { error: `labels body: invalid JSON: ${(err as Error).message}` });
      return;
    }
    const parsed = parseLabelsRequest(doc);
    if (!parsed.ok) {
      sendJson(res, 400, { error: parsed.error });
      return;
    }
    const { labels, forwarded } = parsed.value;
    const { answer, found, unknown } = this.joinHere(labels);
    if (forwarded) {
      sendJson(res, 200, { ...answer, found });
      return;
    }
    if (unknown.length > 0 && this.route.peers.length > 0) await this.askPeers(unknown, answer, authorization);
    if (answer.unknown > 0) this.deps.metrics.labelsUnmatched.inc(answer.unknown);
    sendJson(res, 200, answer);
  }
}
