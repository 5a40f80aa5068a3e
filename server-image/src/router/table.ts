/**
 * The routes in force and one keep-alive connection pool per backend URL. Swapping routes is a
 * single assignment, so a new document reaches the very next request; pools of backends that are
 * still listed are kept (warm connections survive weight changes), pools of dropped backends are
 * closed once requests already on them have had time to finish.
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
    for (const r of routes.revisions) {
      const url = new URL(r.url);
      let pool = this.pools.get(r.url);
      if (!pool) {
        pool = new Pool(url.origin, poolOptions(this.maxSockets));
        this.pools.set(r.url, pool);
      }
      targets.set(r.name, { revision: r.name, url, basePath: url.pathname === '/' ? '' : url.pathname, pool });
    }
    this.balancer = new Balancer(routes);
    this.targets = targets;
    const inUse = new Set(routes.revisions.map((r) => r.url));
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

  /** Routes one request; undefined when no routes have been applied yet. */
  resolve(stickyValue: string | undefined): ResolvedRoute | undefined {
    if (!this.balancer) return undefined;
    const d = this.balancer.decide(stickyValue);
    const served = this.targets.get(d.revision) as Target;
    const mirror = d.mirror ? this.targets.get(d.mirror) : undefined;
    return { served, mirror, tolerance: this.balancer.routes.mirror?.tolerance ?? DEFAULT_TOLERANCE };
  }

  /** Closes every pool (shutdown). */
  close(): void {
    for (const t of this.retiring) clearTimeout(t);
    this.retiring.clear();
    for (const pool of this.pools.values()) void pool.destroy();
    this.pools.clear();
  }
}
