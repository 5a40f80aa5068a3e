/**
 * The routes in force and one keep-alive connection pool per backend URL: each revision's Service,
 * and each starting pod a held revision lists (starting.ts probes them; the proxy sends to the ready
 * ones). Swapping routes is a single assignment, so a new document reaches the very next request;
 * pools of backends that are still listed are kept (warm connections survive weight changes), pools
 * of dropped backends are closed once requests already on them have had time to finish.
 */
import { Pool } from 'undici';
import { Balancer } from './balancer.js';
import { DEFAULT_TOLERANCE, type Routes } from '../../../contract/routes.js';

/** How long a pooled backend connection may sit idle before the router closes it. */
export const IDLE_SOCKET_MS = 30_000;

/** A backend chosen for one request. */
export interface Target {
  revision: string;
  url: URL;
  /** Path prefix of the backend URL ('' for the root), prepended to each request's path. */
  basePath: string;
  pool: Pool;
  /**
   * The route says `hold`: no pod is known ready, so requests wait in the hold queue (hold.ts), or
   * go to a starting pod found ready. Always false for a starting pod's own target.
   */
  hold: boolean;
}

/**
 * Options of the keep-alive pool to one backend. undici's Pool rather than http.Agent +
 * http.request: it costs the router roughly half the CPU per proxied request (measured:
 * bench/results/router.md). Timeouts are the proxy's own (headers) or absent (body), as before.
 */
export function poolOptions(maxSockets: number): Pool.Options {
  return {
    connections: maxSockets,
    pipelining: 1,
    // Close idle pooled sockets well before the model server does (65 s), so a request is never
    // written to a socket the backend is closing at that very moment (a spurious 502). The max
    // also caps the server's `Keep-Alive: timeout=` hint, which undici would otherwise follow.
    keepAliveTimeout: IDLE_SOCKET_MS,
    keepAliveMaxTimeout: IDLE_SOCKET_MS,
    headersTimeout: 0,
    bodyTimeout: 0,
  };
}

/** A routing decision resolved to backends. */
export interface ResolvedRoute {
  served: Target;
  mirror?: Target;
  tolerance: number;
}

/** Routes in force, their balancer, and the connection pools. */
export class RouteTable {
  private balancer?: Balancer;
  private targets = new Map<string, Target>();
  /** revision → starting pod URL → its target, for the held revisions that list starting pods. */
  private startingPods = new Map<string, Map<string, Target>>();
  private readonly pools = new Map<string, Pool>();
  private readonly retiring = new Set<NodeJS.Timeout>();

  /**
   * @param maxSockets pool size per backend
   * @param retireAfterMs how long a dropped backend's pool stays open for requests already on it
   */
  constructor(
    private readonly maxSockets: number,
    private readonly retireAfterMs: number,
  ) {}

  /** The routes in force, if any have been applied. */
  get routes(): Routes | undefined {
    return this.balancer?.routes;
  }

  /** Puts `routes` in force for every request from now on. */
  apply(routes: Routes): void {
    const targets = new Map<string, Target>();
    const startingPods = new Map<string, Map<string, Target>>();
    const inUse = new Set<string>();
    for (const r of routes.revisions) {
      targets.set(r.name, this.targetOf(r.name, r.url, r.hold === true));
      inUse.add(r.url);
      if (!r.startingPods?.length) continue;
      startingPods.set(r.name, new Map(r.startingPods.map((pod) => [pod, this.targetOf(r.name, pod, false)])));
      for (const pod of r.startingPods) inUse.add(pod);
    }
    this.balancer = new Balancer(routes);
    this.targets = targets;
    this.startingPods = startingPods;
    for (const [url, pool] of this.pools) {
      if (inUse.has(url)) continue;
      this.pools.delete(url);
      const timer = setTimeout(() => {
        this.retiring.delete(timer);
        void pool.destroy();
      }, this.retireAfterMs);
      timer.unref();
      this.retiring.add(timer);
    }
  }

  /** A target for `revision` at `backend` (a base URL), on the backend's pool (made if new). */
  private targetOf(revision: string, backend: string, hold: boolean): Target {
    const url = new URL(backend);
    let pool = this.pools.get(backend);
    if (!pool) {
      pool = new Pool(url.origin, poolOptions(this.maxSockets));
      this.pools.set(backend, pool);
    }
    return { revision, url, basePath: url.pathname === '/' ? '' : url.pathname, pool, hold };
  }

  /** Routes one request; undefined when no routes have been applied yet. */
  resolve(stickyValue: string | undefined): ResolvedRoute | undefined {
    if (!this.balancer) return undefined;
    const d = this.balancer.decide(stickyValue);
    const served = this.targets.get(d.revision) as Target;
    const mirror = d.mirror ? this.targets.get(d.mirror) : undefined;
    return { served, mirror, tolerance: this.balancer.routes.mirror?.tolerance ?? DEFAULT_TOLERANCE };
  }

  /** The backend of `revision` in the routes in force, if it is listed. */
  target(revision: string): Target | undefined {
    return this.targets.get(revision);
  }

  /** The starting pod `pod` (a base URL) of `revision`, if the routes in force list it there. */
  startingPod(revision: string, pod: string): Target | undefined {
    return this.startingPods.get(revision)?.get(pod);
  }

  /** Closes every pool (shutdown). */
  close(): void {
    for (const t of this.retiring) clearTimeout(t);
    this.retiring.clear();
    for (const pool of this.pools.values()) void pool.destroy();
    this.pools.clear();
  }
}
