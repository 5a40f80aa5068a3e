/**
 * Prometheus metrics of the node cache agent, on their own Registry (as the server's and the
 * router's): hits and misses, bytes served and downloaded, downloads in flight, the cache's size.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { AgentObserver } from './agent.js';
import type { StoreObserver } from './store.js';

/** The agent's metrics and the hooks that update them. */
export class CacheMetrics implements AgentObserver, StoreObserver {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'modelship_cache_requests_total',
    help: 'Model requests by outcome: hit, miss, or the failure reason (agent: the agent itself failed).',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly servedBytes = new Counter({
    name: 'modelship_cache_served_bytes_total',
    help: 'Model bytes sent to pods.',
    registers: [this.registry],
  });
  readonly downloadedBytes = new Counter({
    name: 'modelship_cache_downloaded_bytes_total',
    help: 'Model bytes downloaded from stores and verified.',
    registers: [this.registry],
  });
  readonly downloads = new Counter({
    name: 'modelship_cache_downloads_total',
    help: 'Downloads started (one per digest however many pods asked at once).',
    registers: [this.registry],
  });
  readonly inFlight = new Gauge({
    name: 'modelship_cache_downloads_in_flight',
    help: 'Downloads running now.',
    registers: [this.registry],
  });
  readonly evictions = new Counter({
    name: 'modelship_cache_evictions_total',
    help: 'Cached models evicted to stay under the size limit.',
    registers: [this.registry],
  });
  readonly evictedBytes = new Counter({
    name: 'modelship_cache_evicted_bytes_total',
    help: 'Bytes of the cached models evicted.',
    registers: [this.registry],
  });
  readonly cachedBytes = new Gauge({
    name: 'modelship_cache_bytes',
    help: 'Bytes of the models cached on this node.',
    registers: [this.registry],
  });
  readonly cachedModels = new Gauge({
    name: 'modelship_cache_models',
    help: 'Models cached on this node.',
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'modelship_cache_' });
  }

  downloadStarted(): void {
    this.downloads.inc();
    this.inFlight.inc();
  }

  downloadEnded(bytes: number | undefined): void {
    this.inFlight.dec();
    if (bytes !== undefined) this.downloadedBytes.inc(bytes);
  }

  evicted(bytes: number): void {
    this.evictions.inc();
    this.evictedBytes.inc(bytes);
  }

  size(bytes: number, models: number): void {
    this.cachedBytes.set(bytes);
    this.cachedModels.set(models);
  }

  /** One answered request. */
  answered(outcome: string, bytes: number): void {
    this.requests.inc({ outcome });
    if (bytes > 0) this.servedBytes.inc(bytes);
  }
}
