/**
 * The routes in force and one keep-alive connection pool per backend URL. Swapping routes is a
 * single assignment, so a new document reaches the very next request; pools of backends that are
 * still listed are kept (warm connections survive weight changes), pools of dropped backends are
 * closed once requests already on them have had time to finish.
 */
import http from 'node:http';
import { Balancer } from './balancer.js';
import { DEFAULT_TOLERANCE, type Routes } from './routes.js';

/** How long a pooled backend connection may sit idle before the router closes it. */
export const IDLE_SOCKET_MS = 30_000;

/** A backend chosen for one request. */
export interface Target {
  revision: string;
  url: URL;
  agent: http.Agent;
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
  private readonly agents = new Map<string, http.Agent>();
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
      let agent = this.agents.get(r.url);
      if (!agent) {
        agent = new http.Agent({
          keepAlive: true,
          maxSockets: this.maxSockets,
          maxFreeSockets: this.maxSockets,
          scheduling: 'lifo',
          // Close idle pooled sockets well before the model server does (65 s), so a request is never
          // written to a socket the backend is closing at that very moment (a spurious 502).
          timeout: IDLE_SOCKET_MS,
        });
        this.agents.set(r.url, agent);
      }
      targets.set(r.name, { revision: r.name, url: new URL(r.url), agent });
    }
    this.balancer = new Balancer(routes);
    this.targets = targets;
    const inUse = new Set(routes.revisions.map((r) => r.url));
    for (const [url, agent] of this.agents) {
      if (inUse.has(url)) continue;
      this.agents.delete(url);
      const timer = setTimeout(() => {
        this.retiring.delete(timer);
        agent.destroy();
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
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }
}
