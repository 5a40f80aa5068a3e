/**
 * Prometheus metrics for the inference server, on their own Registry (never prom-client's global
 * one, so tests and the router can hold several). ServerMetrics is also the data plane's observer.
 * When several serving processes share the port, each keeps its own registry and the primary
 * serves their merge: counters and histograms add up, and each gauge says how it merges.
 */
import http from 'node:http';
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { DataPlaneObserver, ModelLoadSteps } from './dataplane/types.js';

/** Latency buckets in seconds: sub-millisecond inference up to multi-second batches. */
const LATENCY_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const BATCH_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256];

/** The server's metrics and the hooks that update them. */
export class ServerMetrics implements DataPlaneObserver {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: 'modelship_http_requests_total',
    help: 'HTTP requests by route and status code.',
    labelNames: ['route', 'code'] as const,
    registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: 'modelship_http_request_duration_seconds',
    help: 'HTTP request latency from first byte in to last byte out, by route.',
    labelNames: ['route'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly inFlight = new Gauge({
    name: 'modelship_http_requests_in_flight',
    help: 'HTTP requests being served right now.',
    registers: [this.registry],
  });
  readonly batchSize = new Histogram({
    name: 'modelship_batch_size',
    help: 'Rows per inference run (1 when a request ran alone).',
    buckets: BATCH_BUCKETS,
    registers: [this.registry],
  });
  readonly batchDuration = new Histogram({
    name: 'modelship_inference_duration_seconds',
    help: 'Time one inference run (one batch) took on a worker.',
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly queue = new Gauge({
    name: 'modelship_queue_depth',
    help: 'Inference requests waiting for a worker or a batch.',
    registers: [this.registry],
  });
  readonly loadSeconds = new Gauge({
    name: 'modelship_model_load_seconds',
    help: 'Seconds the model took to fetch, verify, load and warm up.',
    aggregator: 'max',
    registers: [this.registry],
  });
  readonly loadStepSeconds = new Gauge({
    name: 'modelship_model_load_step_seconds',
    help: 'Seconds of each step of the model load after the fetch: read (re-read and digest check), session (onnxruntime session creation), warmup (the warm-up inference).',
    labelNames: ['step'] as const,
    aggregator: 'max',
    registers: [this.registry],
  });
  readonly modelInfo = new Gauge({
    name: 'modelship_model_info',
    help: 'The served model; always 1.',
    labelNames: ['name', 'version', 'sha256'] as const,
    aggregator: 'first',
    registers: [this.registry],
  });
  readonly ready = new Gauge({
    name: 'modelship_ready',
    help: '1 when the server is ready to serve inference, else 0.',
    aggregator: 'min',
    registers: [this.registry],
  });

  /** `model` labels the info gauge; process metrics (CPU, memory, event-loop lag) come too. */
  constructor(model: { name: string; version: string; sha256?: string }) {
    this.modelInfo.set({ name: model.name, version: model.version, sha256: model.sha256 ?? 'unverified' }, 1);
    this.ready.set(0);
    collectDefaultMetrics({ register: this.registry, prefix: 'modelship_' });
  }

  modelLoaded(seconds: number, steps: ModelLoadSteps): void {
    this.loadSeconds.set(seconds);
    this.loadStepSeconds.set({ step: 'read' }, steps.readSeconds);
    this.loadStepSeconds.set({ step: 'session' }, steps.sessionSeconds);
    this.loadStepSeconds.set({ step: 'warmup' }, steps.warmupSeconds);
  }

  batchRun(size: number, seconds: number): void {
    this.batchSize.observe(size);
    this.batchDuration.observe(seconds);
  }

  queueDepth(depth: number): void {
    this.queue.set(depth);
  }

  /**
   * The counter and histogram children for a route and status, looked up once: prom-client
   * hashes the label object on every inc()/observe(), a measurable cost per request on the hot
   * path. Routes and codes are few (fixed route names), so the cache stays small.
   */
  private readonly byRoute = new Map<string, { count: Counter.Internal; latency: Histogram.Internal<'route'> }>();

  /** Record one finished HTTP request. */
  requestDone(route: string, code: number, seconds: number): void {
    const key = `${route} ${code}`;
    let children = this.byRoute.get(key);
    if (children === undefined) {
      children = { count: this.requests.labels(route, String(code)), latency: this.latency.labels(route) };
      this.byRoute.set(key, children);
    }
    children.count.inc();
    children.latency.observe(seconds);
  }
}

/** What the metrics port serves: one process's Registry, or a group's merge. */
export interface MetricsSource {
  readonly contentType: string;
  metrics(): Promise<string>;
}

/**
 * In a serving process of a group: answer the primary's requests for `registry` (prom-client's
 * cluster protocol over the IPC channel).
 */
export function shareWithPrimary(registry: Registry): void {
  AggregatorRegistry.setRegistries([registry]);
  // The constructor is what installs prom-client's listener for the primary's requests.
  new AggregatorRegistry();
}

/** In a group's primary: every serving process's metrics, merged. */
export function groupMetrics(): MetricsSource {
  const aggregator = new AggregatorRegistry();
  return { contentType: aggregator.contentType, metrics: () => aggregator.clusterMetrics() };
}

/**
 * Serve `registry` at GET /metrics on its own port, apart from inference traffic (and its auth).
 * Resolves once listening.
 */
export async function serveMetrics(registry: MetricsSource, host: string, port: number): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res
        .writeHead(404, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: `no route ${path} on the metrics port; try /metrics` }));
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res
        .writeHead(405, { 'content-type': 'application/json', allow: 'GET, HEAD' })
        .end(JSON.stringify({ error: `method ${req.method} not allowed on /metrics` }));
      return;
    }
    registry.metrics().then(
      (text) =>
        res.writeHead(200, { 'content-type': registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
      (err: Error) =>
        res
          .writeHead(500, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: `collect metrics: ${err.message}` })),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
