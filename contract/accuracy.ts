/**
 * Part of the cross-process contract (contract/): live accuracy, between clients (who post
 * ground-truth labels against request ids), the router (which keeps each served request's
 * predicted labels for a while, joins the labels that come, and counts per revision), and the
 * operator (which reads the counts from the stats document, `revisions.<rev>.accuracy`, for
 * status and for the canary's accuracy check).
 *
 * Every response the router serves while accuracy is on carries `x-request-id` (the caller's own
 * when it sent one). Labels are posted to any router pod at {@link LABELS_PATH}; a pod that did not
 * serve the request forwards the label to the route's `peers`.
 *
 * ## The labels API
 *
 * `POST /modelship/v1/labels` on the router's serving port (the apex Service), `content-type:
 * application/json`, at most {@link MAX_LABELS_BODY_BYTES} bytes and {@link MAX_LABELS_PER_POST}
 * entries:
 *
 * ```json
 * {"labels": [{"id": "<x-request-id>", "labels": [3, 7]}, {"id": "<another>", "label": "cat"}]}
 * ```
 *
 * - `id`: the `x-request-id` of an answered inference request (V1 or V2 JSON, status 200).
 * - `labels`: the true label of every row of that request, in row order (as many as it had rows);
 *   `label`: the same for a one-row request. A label is an integer or a string; it is compared with
 *   the predicted class as text (3 and "3" are the same label). The predicted class of a row is its
 *   value in the route's `output`, else in the first integer output, else in the first output; an
 *   output with several values per row (class scores) gives the index of the row's largest. A V1
 *   answer's outputs are its `predictions` (one output), or their keys when they are objects.
 *
 * Answer 200 with {@link LabelsAnswer}: `matched` entries were joined (each of their rows counted
 * right or wrong for the revision that served the request); `unknown` ids are not (or no longer:
 * `ttlSeconds`, `maxPending`) held by any router pod; `duplicate` ids were labelled before (a
 * prediction is joined once: later labels for it are refused and counted here, never counted
 * again); `mismatched` entries gave a number of labels other than the request's rows (not joined;
 * the prediction still waits for a right one). A bad body is answered 400 (413 when too large)
 * with `{"error"}` naming the field, and nothing of it is joined.
 *
 * Labels judge revisions (wrong labels roll a canary back), so while the routes name a `tokenFile`
 * for any revision (spec.auth), a caller must send `Authorization: Bearer <token>` with a token of
 * one of them: without it the answer is 401 `{"error"}`. Forwarded labels carry the caller's header.
 *
 * Between router pods: a pod that does not hold some ids posts them, in one body with
 * `"forwarded": true`, to every peer at once (each within {@link PEER_TIMEOUT_MS}); the pod that
 * served the request joins them and names them in its answer's `found`. A forwarded body is never
 * forwarded again, and its unknown ids are not counted as unmatched there (the pod that took the
 * caller's post counts them, once). A peer that does not answer leaves its ids unknown and is
 * counted in `unreachablePeers`. A route's peers may include the pod itself (one ConfigMap lists
 * every pod); asking itself again finds nothing new and costs one loopback request.
 */

/** The accuracy part of a Routes document's `monitoring`. */
export interface AccuracyRoute {
  /** The output whose values are the predicted labels (else the first integer output, else argmax of the first). */
  output?: string;
  /** How long a served request's prediction waits for its label. */
  ttlSeconds: number;
  /** Most predictions one router pod keeps waiting (oldest dropped first). */
  maxPending: number;
  /**
   * Base URLs (`http://<pod-ip>:<port>`) of the ModelDeployment's running router pods, sorted by
   * pod name, where unknown ids are asked for. One Routes document serves every router pod, so the
   * list INCLUDES the pod reading it: a router skips its own address (its pod IP) when it forwards.
   * The operator rewrites the routes when a router pod starts or goes.
   */
  peers: string[];
}

/** Where labels are posted, on the router's serving port. */
export const LABELS_PATH = '/modelship/v1/labels';

/** A revision's accuracy counts in a router pod's stats document (cumulative since its start). */
export interface RevisionAccuracy {
  /** Rows whose true label arrived and was joined with a prediction. */
  labelled: number;
  /** Of those, the rows predicted right. */
  correct: number;
}

/** Most peers a route lists. */
export const MAX_PEERS = 64;
/** Bounds of `ttlSeconds` and `maxPending`. */
export const ACCURACY_TTL_SECONDS = { min: 1, max: 7 * 24 * 3600 } as const;
export const ACCURACY_MAX_PENDING = { min: 1, max: 10_000_000 } as const;

const OUTPUT_NAME = /^[A-Za-z0-9_.:/-]{1,256}$/;

/** Validates a route's `monitoring.accuracy`; the error names the field. */
export function validateAccuracyRoute(
  v: unknown,
  where: string,
): { ok: true; value: AccuracyRoute } | { ok: false; error: string } {
  const fail = (error: string) => ({ ok: false as const, error: `${where}${error}` });
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail(': must be an object');
  const o = v as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!['output', 'ttlSeconds', 'maxPending', 'peers'].includes(key)) return fail(`.${key}: unknown field`);
  }
  if (o.output !== undefined && (typeof o.output !== 'string' || !OUTPUT_NAME.test(o.output))) {
    return fail('.output: must be an output name');
  }
  const bounded = (key: 'ttlSeconds' | 'maxPending', { min, max }: { min: number; max: number }) => {
    const n = o[key];
    return typeof n === 'number' && Number.isInteger(n) && n >= min && n <= max
      ? undefined
      : fail(`.${key}: must be an integer between ${min} and ${max}`);
  };
  const bad = bounded('ttlSeconds', ACCURACY_TTL_SECONDS) ?? bounded('maxPending', ACCURACY_MAX_PENDING);
  if (bad) return bad;
  if (!Array.isArray(o.peers) || o.peers.length > MAX_PEERS)
    return fail(`.peers: must be an array of at most ${MAX_PEERS} URLs`);
  const peers: string[] = [];
  for (const [i, p] of o.peers.entries()) {
    let url: URL;
    try {
      url = new URL(String(p));
    } catch {
      return fail(`.peers[${i}]: not a valid URL: ${JSON.stringify(p)}`);
    }
    if (url.protocol !== 'http:' || url.search || url.hash || url.username || url.password) {
      return fail(`.peers[${i}]: must be an http:// base URL without query, fragment or credentials`);
    }
    peers.push(String(p).replace(/\/+$/, ''));
  }
  const value: AccuracyRoute = { ttlSeconds: o.ttlSeconds as number, maxPending: o.maxPending as number, peers };
  if (o.output !== undefined) value.output = o.output as string;
  return { ok: true, value };
}

/** Largest labels body a router accepts (413 above). */
export const MAX_LABELS_BODY_BYTES = 1024 * 1024;
/** Most entries in one labels body. */
export const MAX_LABELS_PER_POST = 10_000;
/** Most labels in one entry (rows of one request). */
export const MAX_LABELS_PER_ENTRY = 100_000;
/** How long a router pod waits for a peer's answer to forwarded labels. */
export const PEER_TIMEOUT_MS = 2_000;
const MAX_LABEL_CHARS = 256;

/** A true label: compared with the predicted class as text. */
export type Label = number | string;

/** One entry of a labels body: a request id and the true label of each of its rows. */
export interface LabelEntry {
  id: string;
  labels: Label[];
}

/** A labels body, parsed. */
export interface LabelsRequest {
  labels: LabelEntry[];
  /** Sent by a router pod to its peers: never forwarded again. */
  forwarded: boolean;
}

/** The answer to a labels post (see the module doc). */
export interface LabelsAnswer {
  matched: number;
  unknown: number;
  duplicate: number;
  mismatched: number;
  /** Peers that did not answer in time (their ids count as unknown). */
  unreachablePeers: number;
  /** In answers to forwarded posts only: the ids this pod held (matched, duplicate or mismatched). */
  found?: string[];
}

const REQUEST_ID = /^[\x21-\x7e]{1,200}$/;

function isLabel(v: unknown): v is Label {
  return (typeof v === 'number' && Number.isSafeInteger(v)) || (typeof v === 'string' && v.length <= MAX_LABEL_CHARS);
}

/** Parses a labels body (its JSON already decoded); the error names the field. */
export function parseLabelsRequest(body: unknown): { ok: true; value: LabelsRequest } | { ok: false; error: string } {
  const fail = (error: string) => ({ ok: false as const, error });
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    return fail('labels body: must be a JSON object');
  const o = body as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (key !== 'labels' && key !== 'forwarded') return fail(`${key}: unknown field (expected labels)`);
  }
  if (o.forwarded !== undefined && typeof o.forwarded !== 'boolean') return fail('forwarded: must be a boolean');
  if (!Array.isArray(o.labels) || o.labels.length === 0 || o.labels.length > MAX_LABELS_PER_POST) {
    return fail(`labels: must be an array of 1 to ${MAX_LABELS_PER_POST} entries`);
  }
  const entries: LabelEntry[] = [];
  for (const [i, e] of o.labels.entries()) {
    const where = `labels[${i}]`;
    if (typeof e !== 'object' || e === null || Array.isArray(e)) return fail(`${where}: must be an object`);
    const entry = e as Record<string, unknown>;
    for (const key of Object.keys(entry)) {
      if (!['id', 'labels', 'label'].includes(key)) return fail(`${where}.${key}: unknown field`);
    }
    if (typeof entry.id !== 'string' || !REQUEST_ID.test(entry.id)) {
      return fail(`${where}.id: must be a request id (1 to 200 visible ASCII characters)`);
    }
    if ((entry.label === undefined) === (entry.labels === undefined)) {
      return fail(`${where}: needs either label or labels`);
    }
    let labels: Label[];
    if (entry.label !== undefined) {
      if (!isLabel(entry.label))
        return fail(`${where}.label: must be an integer or a string of at most ${MAX_LABEL_CHARS} characters`);
      labels = [entry.label];
    } else {
      const list = entry.labels;
      if (!Array.isArray(list) || list.length === 0 || list.length > MAX_LABELS_PER_ENTRY) {
        return fail(`${where}.labels: must be an array of 1 to ${MAX_LABELS_PER_ENTRY} labels, one per row`);
      }
      const bad = list.findIndex((l) => !isLabel(l));
      if (bad >= 0)
        return fail(`${where}.labels[${bad}]: must be an integer or a string of at most ${MAX_LABEL_CHARS} characters`);
      labels = list as Label[];
    }
    entries.push({ id: entry.id, labels });
  }
  return { ok: true, value: { labels: entries, forwarded: o.forwarded === true } };
}

/** Counts into a revision's accuracy `labelled` rows joined, `correct` of them right (cumulative). */
export function countLabels(
  accuracy: RevisionAccuracy | undefined,
  labelled: number,
  correct: number,
): RevisionAccuracy {
  const a = accuracy ?? { labelled: 0, correct: 0 };
  a.labelled += labelled;
  a.correct += correct;
  return a;
}

/**
 * The labels joined between two cumulative readings of the same pod and start time (`later -
 * earlier`); a missing reading counts as none joined.
 */
export function subtractAccuracy(
  later: RevisionAccuracy | undefined,
  earlier: RevisionAccuracy | undefined,
): RevisionAccuracy {
  return {
    labelled: (later?.labelled ?? 0) - (earlier?.labelled ?? 0),
    correct: (later?.correct ?? 0) - (earlier?.correct ?? 0),
  };
}
