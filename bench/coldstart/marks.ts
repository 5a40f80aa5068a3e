/**
 * The pure half of the cold-start benchmark: the moments of one start from zero (each a Date.now()
 * in ms, from the clocks of the one machine everything runs on), read out of the records each part
 * keeps (the kubelet's and containerd's logs, the server's JSON log, /proc, what our watches of the
 * API saw), and the parts between them. No I/O, no clock.
 */

/**
 * The moments of one start from zero, in the order they happen on the way to the first answer.
 * Each is when the thing was first seen: by our watch of the API (ms), by the component's own log
 * (µs or ms) or by /proc (the kernel's 10 ms ticks).
 */
export const MARKS = [
  /** The trigger: the first request sent (from zero) or the Deployment scaled by hand. */
  'trigger',
  /** The routers' stats first showed the request held (a router publishes at once on 0 → held). */
  'held',
  /** The revision's Deployment asks for ≥ 1 replica (our watch: generation and spec.replicas). */
  'scaled',
  /** The pod exists (our watch). */
  'podCreated',
  /** The pod is bound to the node (our watch: spec.nodeName). */
  'scheduled',
  /** The kubelet started on the pod (its first log line naming it: the volumes). */
  'kubeletSaw',
  /** The pod's sandbox (pause) process started (/proc), after its network (CNI) was set up. */
  'sandboxStarted',
  /** The server container's first process started (/proc): the image was already on the node. */
  'containerStarted',
  /** The server's "listening" line: Node up, HTTP port open. */
  'listening',
  /** The server's "model fetched" line: the model file found (node cache, or fetched) and its digest checked. */
  'modelFetched',
  /**
   * The inference worker's onnxruntime session created: the "model loaded" line's time less its
   * warm-up seconds (the worker re-read and checked the file, then created the session).
   */
  'sessionCreated',
  /** The server's "model loaded" line: the warm-up inference run. */
  'warmedUp',
  /** The server's "model ready" line: ready to serve (the readiness endpoint says so from now on). */
  'modelReady',
  /**
   * A router's own probe found the starting pod ready (its log line): from then on it sends the
   * held requests straight to the pod, without waiting for the kubelet's probes, the EndpointSlice
   * and kube-proxy (routes' startingPods).
   */
  'direct',
  /**
   * The kubelet's startup probe (on /v2/health/live) said started: readiness is probed only after
   * it. Usually before modelReady (then its part is 0).
   */
  'startupProbe',
  /** The kubelet's readiness probe said ready ("SyncLoop (probe)" readiness ready). */
  'readinessProbe',
  /** The pod's Ready condition True in the API (our watch). */
  'podReady',
  /** The pod's endpoint ready in the revision Service's EndpointSlice (our watch). */
  'endpointReady',
  /** A TCP connect to the revision Service's ClusterIP first succeeded (kube-proxy programmed it). */
  'serviceRoutes',
  /** The routes ConfigMap no longer holds the revision (the operator saw a ready pod). */
  'unheld',
  /** The first correct answer arrived at the client. */
  'answered',
] as const;

/** One moment's name. */
export type Mark = (typeof MARKS)[number];

/** The moments of one start (ms since the epoch); a moment not seen is absent. */
export type Marks = Partial<Record<Mark, number>>;

/** What each part (from the mark before it to this mark) is, for the table. */
export const PART_NAMES: Record<Exclude<Mark, 'trigger'>, string> = {
  held: 'request held by the router',
  scaled: 'scale decision (operator)',
  podCreated: 'pod created (Deployment, ReplicaSet controllers)',
  scheduled: 'scheduled',
  kubeletSaw: 'kubelet picks the pod up',
  sandboxStarted: 'sandbox + CNI',
  containerStarted: 'container created and started (image on the node)',
  listening: 'Node starts, HTTP up',
  modelFetched: 'model fetched (node cache) + digest checked',
  sessionCreated: 'worker re-reads the model, onnxruntime session',
  warmedUp: 'warm-up inference',
  modelReady: 'server marks itself ready',
  direct: "a router's probe finds the pod ready (direct path)",
  startupProbe: 'wait for the startup probe (after the model: its tick came late)',
  readinessProbe: 'wait for the readiness probe',
  podReady: 'Ready to the API',
  endpointReady: 'EndpointSlice',
  serviceRoutes: 'kube-proxy programs the Service',
  unheld: 'operator drops the hold (routes)',
  answered: 'router/client: request to answer',
};

/** One part of a start: the time from the last earlier mark seen to this one, in ms. */
export interface Part {
  mark: Exclude<Mark, 'trigger'>;
  ms: number;
}

/**
 * The parts of a start, in MARKS order: each present mark after the trigger and not after the
 * answer, measured from the latest earlier mark seen. A mark seen before an earlier one (clocks of
 * different resolution, or two things racing) gives 0, and the next part is measured from the later
 * of the two, so the parts always add up to answered - trigger. Marks after the answer were not on
 * its path (for example the pod's Ready when the router sent to the pod directly): afterAnswer.
 */
export function partsOf(marks: Marks): Part[] {
  let from = marks.trigger;
  if (from === undefined) return [];
  const parts: Part[] = [];
  for (const mark of MARKS.slice(1) as Exclude<Mark, 'trigger'>[]) {
    const at = marks[mark];
    if (at === undefined || (marks.answered !== undefined && at > marks.answered)) continue;
    parts.push({ mark, ms: Math.max(0, at - from) });
    from = Math.max(from, at);
  }
  return parts;
}

/** The marks seen after the answer, each with how long after it (ms), in MARKS order. */
export function afterAnswer(marks: Marks): Part[] {
  const answered = marks.answered;
  if (answered === undefined) return [];
  return (MARKS.slice(1) as Exclude<Mark, 'trigger'>[]).flatMap((mark) => {
    const at = marks[mark];
    return at !== undefined && at > answered ? [{ mark, ms: at - answered }] : [];
  });
}

/**
 * The time of a klog line (`I1207 13:57:12.928971 ...`), read in the machine's own time zone as
 * the kubelet wrote it; klog has no year, so `year` gives it.
 */
export function klogTime(line: string, year: number): number | undefined {
  const m = /^[IWEF](\d\d)(\d\d) (\d\d):(\d\d):(\d\d)\.(\d{6})/.exec(line);
  if (!m) return undefined;
  const [, mo, d, h, mi, s, us] = m.map(Number);
  return new Date(year, mo - 1, d, h, mi, s).getTime() + us / 1000;
}

/** What the kubelet's log says of one pod (`<namespace>/<name>`). */
export interface KubeletMarks {
  /** Its first line naming the pod. */
  kubeletSaw?: number;
  /** Its first readiness probe that said ready. */
  readinessProbe?: number;
  /** Its first startup probe that said started. */
  startupProbe?: number;
}

/** Reads the kubelet's log lines (klog, verbosity 1) for one pod. */
export function kubeletMarks(lines: readonly string[], pod: string, year: number): KubeletMarks {
  const found: KubeletMarks = {};
  const [namespace, name] = pod.split('/');
  for (const line of lines) {
    if (!line.includes(`pod="${pod}"`) && !line.includes(`pod \\"${name}\\"`)) continue;
    if (namespace === undefined || name === undefined) continue;
    const at = klogTime(line, year);
    if (at === undefined) continue;
    found.kubeletSaw ??= at;
    if (line.includes('"SyncLoop (probe)"') && line.includes('probe="readiness" status="ready"'))
      found.readinessProbe ??= at;
    if (line.includes('"SyncLoop (probe)"') && line.includes('probe="startup" status="started"'))
      found.startupProbe ??= at;
  }
  return found;
}

/** What the server's JSON log says of its start. */
export interface ServerMarks {
  listening?: number;
  modelFetched?: number;
  sessionCreated?: number;
  warmedUp?: number;
  modelReady?: number;
}

/** Reads the server's log (one JSON object per line; other lines, e.g. onnxruntime's, are skipped). */
export function serverMarks(lines: readonly string[]): ServerMarks {
  const found: ServerMarks = {};
  for (const line of lines) {
    if (!line.startsWith('{')) continue;
    let event: { time?: string; msg?: string; warmupSeconds?: number };
    try {
      event = JSON.parse(line) as typeof event;
    } catch {
      continue;
    }
    const at = event.time === undefined ? NaN : Date.parse(event.time);
    if (Number.isNaN(at)) continue;
    if (event.msg === 'listening') found.listening ??= at;
    if (event.msg === 'model fetched') found.modelFetched ??= at;
    // Each serving process of a group loads the model and says so: the last one is what the
    // server's readiness waited for.
    if (event.msg === 'model loaded' && at >= (found.warmedUp ?? -Infinity)) {
      found.warmedUp = at;
      if (typeof event.warmupSeconds === 'number') found.sessionCreated = at - event.warmupSeconds * 1000;
    }
    if (event.msg === 'model ready') found.modelReady ??= at;
  }
  return found;
}

/**
 * When a process started, from its /proc/<pid>/stat (field 22: clock ticks since boot), the
 * machine's /proc/uptime and the time both were read (ms): boot = now - uptime.
 */
export function processStart(stat: string, uptime: string, nowMs: number, ticksPerSecond = 100): number | undefined {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[19]);
  const up = Number(uptime.split(' ')[0]);
  if (!Number.isFinite(ticks) || !Number.isFinite(up)) return undefined;
  return nowMs - up * 1000 + (ticks * 1000) / ticksPerSecond;
}

/** Parsed JSON, or undefined. */
function json(text: string | undefined): unknown {
  try {
    return text === undefined ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Whether the routes ConfigMap's data says hold for `route`; undefined when it does not list it. */
export function holdsIn(data: Record<string, string> | undefined, route: string): boolean | undefined {
  const routes = json(data?.['routes.json']) as { revisions?: { name: string; hold?: boolean }[] } | undefined;
  const r = routes?.revisions?.find((x) => x.name === route);
  return r === undefined ? undefined : r.hold === true;
}

/** Over every router pod's stats document in the stats ConfigMap's data: `route`'s held now and held ever. */
export function heldIn(data: Record<string, string> | undefined, route: string): { held: number; heldTotal: number } {
  let held = 0;
  let heldTotal = 0;
  for (const [key, text] of Object.entries(data ?? {})) {
    if (!key.endsWith('.json')) continue;
    const doc = json(text) as { revisions?: Record<string, { load?: { held?: number; heldTotal?: number } }> };
    const load = doc?.revisions?.[route]?.load;
    held += load?.held ?? 0;
    heldTotal += load?.heldTotal ?? 0;
  }
  return { held, heldTotal };
}

/** The first time a router pod's log says a starting pod of `route` answered ready, at or after `since`. */
export function routerDirect(lines: readonly string[], route: string, since: number): number | undefined {
  let first: number | undefined;
  for (const line of lines) {
    if (!line.startsWith('{')) continue;
    let event: { time?: string; msg?: string; revision?: string };
    try {
      event = JSON.parse(line) as typeof event;
    } catch {
      continue;
    }
    if (event.revision !== route || !event.msg?.startsWith('a starting pod answered ready')) continue;
    const at = Date.parse(event.time ?? '');
    if (at >= since && (first === undefined || at < first)) first = at;
  }
  return first;
}

/** The median of the defined values (the mean of the two middle ones for an even count). */
export function median(values: readonly (number | undefined)[]): number | undefined {
  const sorted = values.filter((v): v is number => v !== undefined).sort((x, y) => x - y);
  if (sorted.length === 0) return undefined;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
