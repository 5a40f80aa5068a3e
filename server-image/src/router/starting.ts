/**
 * The starting pods of held revisions (contract/routes.ts, `startingPods`): while a revision's
 * route holds, the router probes each pod the route lists, `GET <pod>/v2/health/ready` every
 * {@link PROBE_INTERVAL_MS} as Knative's activator does, and reports the first answer 200 of each,
 * so the proxy sends the revision's held and new requests straight to that pod. A cold start then
 * waits for the model, not for the kubelet's next readiness tick, the EndpointSlice, kube-proxy and
 * the operator's routes update.
 *
 * A pod found ready is no longer probed: it is sent to, round-robin with the revision's other ready
 * pods, until a Routes document drops the hold or the pod leaves the list, or until it refuses a
 * connection ({@link StartingPods.lost}: it died), after which it is probed again. Probing of a pod
 * stops, and what was learnt about it is forgotten, as soon as routes arrive that no longer list it
 * under a holding revision. The class knows nothing of HTTP: it is given its probe
 * ({@link httpReadyProbe} in the router, a fake in tests).
 */
import type { Dispatcher } from 'undici';
import type { Routes } from '../../../contract/routes.js';

/** Time between the end of one probe of a pod and the start of the next. */
export const PROBE_INTERVAL_MS = 50;
/** How long one probe may take before it counts as not ready (and is aborted). */
export const PROBE_TIMEOUT_MS = 1_000;

/** Whether the pod at `pod` (a base URL) of `revision` is ready; aborted through `signal` at its timeout. */
export type ReadyProbe = (revision: string, pod: string, signal: AbortSignal) => Promise<boolean>;

/** What the prober reports. */
export interface StartingPodsEvents {
  /** `pod` of `revision` answered ready: it may be sent to from now on. */
  ready(revision: string, pod: string, probes: number): void;
}

/** One pod of one held revision, and where its probing stands. */
interface Pod {
  revision: string;
  url: string;
  ready: boolean;
  /** Probes sent so far (for the log). */
  probes: number;
  /** The probe under way, if any. */
  inFlight?: AbortController;
  /** The wait before the next probe, if any. */
  next?: NodeJS.Timeout;
}

/** The starting pods of every held revision, their probing, and which of them are ready. */
export class StartingPods {
  /** revision → pod URL → pod, for the revisions whose route holds and lists starting pods. */
  private readonly revisions = new Map<string, Map<string, Pod>>();
  /** revision → its ready pods, in the order they were found ready, and whose turn is next. */
  private readonly readyPods = new Map<string, { pods: Pod[]; turn: number }>();

  /**
   * @param probe asks one pod whether it is ready
   * @param intervalMs time between the end of one probe of a pod and the start of the next
   * @param timeoutMs how long one probe may take
   */
  constructor(
    private readonly probe: ReadyProbe,
    private readonly events: StartingPodsEvents,
    private readonly intervalMs = PROBE_INTERVAL_MS,
    private readonly timeoutMs = PROBE_TIMEOUT_MS,
  ) {}

  /**
   * Follows new routes: starts probing the pods they newly list under a holding revision, stops
   * probing (and forgets) those they no longer list there, and leaves the others as they are (a pod
   * found ready stays ready across routes that still hold).
   */
  sync(routes: Routes): void {
    const wanted = new Map<string, Set<string>>();
    for (const r of routes.revisions) {
      if (r.hold && r.startingPods?.length) wanted.set(r.name, new Set(r.startingPods));
    }
    for (const [revision, pods] of this.revisions) {
      const still = wanted.get(revision);
      for (const pod of pods.values()) if (!still?.has(pod.url)) this.forget(pod);
    }
    for (const [revision, urls] of wanted) {
      let pods = this.revisions.get(revision);
      if (!pods) {
        pods = new Map();
        this.revisions.set(revision, pods);
      }
      for (const url of urls) {
        if (pods.has(url)) continue;
        const pod: Pod = { revision, url, ready: false, probes: 0 };
        pods.set(url, pod);
        this.probeNow(pod);
      }
    }
  }

  /** Whether `revision` has a starting pod known ready. */
  hasReady(revision: string): boolean {
    return this.readyPods.has(revision);
  }

  /** The next ready starting pod of `revision` (round-robin over its ready ones), if it has one. */
  pick(revision: string): string | undefined {
    const ready = this.readyPods.get(revision);
    if (!ready) return undefined;
    return ready.pods[ready.turn++ % ready.pods.length].url;
  }

  /**
   * `pod` of `revision`, found ready, refused a connection (it died or restarts): no longer sent
   * to, and probed again. False, and nothing done, when the pod was not known ready (already lost,
   * or no longer listed).
   */
  lost(revision: string, pod: string): boolean {
    const p = this.revisions.get(revision)?.get(pod);
    if (!p?.ready) return false;
    this.unready(p);
    this.probeNow(p);
    return true;
  }

  /** Stops all probing (shutdown). */
  close(): void {
    for (const pods of this.revisions.values()) for (const pod of pods.values()) this.forget(pod);
  }

  private probeNow(pod: Pod): void {
    pod.next = undefined;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new Error('probe timed out')), this.timeoutMs);
    pod.inFlight = controller;
    pod.probes++;
    const settle = (answeredReady: boolean): void => {
      clearTimeout(timer);
      // Forgotten, or superseded, while the probe was under way: its answer is no longer wanted.
      if (pod.inFlight !== controller) return;
      pod.inFlight = undefined;
      if (!answeredReady) {
        pod.next = setTimeout(() => this.probeNow(pod), this.intervalMs);
        return;
      }
      pod.ready = true;
      const ready = this.readyPods.get(pod.revision);
      if (ready) ready.pods.push(pod);
      else this.readyPods.set(pod.revision, { pods: [pod], turn: 0 });
      this.events.ready(pod.revision, pod.url, pod.probes);
    };
    this.probe(pod.revision, pod.url, controller.signal).then(settle, () => settle(false));
  }

  private forget(pod: Pod): void {
    pod.inFlight?.abort(new Error('probe no longer wanted'));
    pod.inFlight = undefined;
    clearTimeout(pod.next);
    pod.next = undefined;
    if (pod.ready) this.unready(pod);
    const pods = this.revisions.get(pod.revision);
    pods?.delete(pod.url);
    if (pods?.size === 0) this.revisions.delete(pod.revision);
  }

  private unready(pod: Pod): void {
    pod.ready = false;
    const ready = this.readyPods.get(pod.revision);
    if (!ready) return;
    ready.pods = ready.pods.filter((p) => p !== pod);
    if (ready.pods.length === 0) this.readyPods.delete(pod.revision);
  }
}

/**
 * The router's probe: `GET <basePath>/v2/health/ready` through the pod's connection pool (the one
 * its requests then use, so the first of them finds a warm connection). Ready is a 200; any other
 * status, or an error, is not ready.
 *
 * @param pool the pool of `revision`'s starting pod `pod` under the routes in force, if it has one
 */
export function httpReadyProbe(
  pool: (revision: string, pod: string) => { pool: Dispatcher; basePath: string } | undefined,
): ReadyProbe {
  return async (revision, pod, signal) => {
    const to = pool(revision, pod);
    if (!to) return false;
    const res = await to.pool.request({ method: 'GET', path: `${to.basePath}/v2/health/ready`, signal });
    await res.body.dump();
    return res.statusCode === 200;
  };
}
