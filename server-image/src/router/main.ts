/**
 * Router mode of the inference-server image: the process behind a ModelDeployment's apex Service
 * that splits requests between revision Services. The image's main (../main.ts) dispatches
 * MODELSHIP_MODE=router here.
 */
import http from 'node:http';
import os from 'node:os';
import { once } from 'node:events';
import { CoreV1Api } from '@kubernetes/client-node';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger, type Logger } from '../../../common/log.js';
import { parseRouterConfig, type RouterConfig } from './config.js';
import { ModelMetadataFetcher } from './metadata.js';
import { RouterMonitoring } from './monitoring.js';
import { RouterMetrics } from './metrics.js';
import { createProxy, sendError, type Proxy } from './proxy.js';
import { parseRoutes } from '../../../contract/routes.js';
import { LABELS_PATH } from '../../../contract/accuracy.js';
import { loadKubeConfig, watchRoutesConfigMap, watchRoutesFile, type RoutesSource } from './sources.js';
import { RouterStats } from './stats.js';
import { startStatsWriter, type StatsWriter } from './statsWriter.js';
import { RouteTable } from './table.js';

/** Idle keep-alive time for callers' connections (the inference server uses the same). */
const CLIENT_KEEP_ALIVE_MS = 65_000;

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}

/** Everything a running router holds, so shutdown can release it in order. */
interface Running {
  config: RouterConfig;
  log: Logger;
  table: RouteTable;
  stats: RouterStats;
  proxy: Proxy;
  server: http.Server;
  metricsServer: http.Server;
  source: RoutesSource;
  models: ModelMetadataFetcher;
  monitoring: RouterMonitoring;
  writer?: StatsWriter;
}

/**
 * Validates a candidate document and puts it in force (the split, the held requests it releases,
 * the metadata to fetch, the stats writer's period), or logs why not and keeps the last good one.
 */
function routesApplier(
  table: RouteTable,
  stats: RouterStats,
  proxy: Proxy,
  metrics: RouterMetrics,
  models: ModelMetadataFetcher,
  monitoring: RouterMonitoring,
  writer: StatsWriter | undefined,
  log: Logger,
) {
  return (text: string, origin: string): void => {
    const result = parseRoutes(text);
    if (!result.ok) {
      metrics.routesRejected();
      const kept = table.routes ? `keeping generation ${table.routes.generation}` : 'no routes in force yet';
      log.error(`routes from ${origin} rejected: ${result.error}; ${kept}`);
      return;
    }
    table.apply(result.routes);
    // Every routed revision shows its load from now on, zero included: a revision that never gets
    // a request must read as idle to the operator's autoscaler, not as a revision without figures.
    for (const revision of result.routes.revisions) stats.load(revision.name);
    proxy.routesApplied();
    metrics.routesApplied(result.routes);
    models.sync(result.routes);
    monitoring.apply(result.routes);
    writer?.applyRoutes(result.routes);
    log.info('routes applied', {
      origin,
      generation: result.routes.generation,
      weights: Object.fromEntries(result.routes.revisions.map((r) => [r.name, r.weight])),
      mirror: result.routes.mirror,
    });
  };
}

async function listen(server: http.Server, port: number, host: string): Promise<number> {
  server.listen(port, host);
  await once(server, 'listening');
  return (server.address() as { port: number }).port;
}

async function shutdown(r: Running, ready: { value: boolean }, signal: string): Promise<void> {
  const { config, log } = r;
  log.info('shutting down', { signal, inFlight: r.proxy.inFlight() });
  ready.value = false;
  if (config.shutdownDelayMs > 0) await sleep(config.shutdownDelayMs);
  r.proxy.startDraining();
  r.server.close();
  r.server.closeIdleConnections();
  const deadline = Date.now() + config.shutdownTimeoutMs;
  while (r.proxy.inFlight() > 0 && Date.now() < deadline) await sleep(20);
  // Held requests get their 503 (with Retry-After) rather than a cut connection.
  r.proxy.expireHeld();
  r.proxy.close();
  if (r.proxy.inFlight() > 0) {
    log.error(
      `shutdown: ${r.proxy.inFlight()} requests still in flight after ${config.shutdownTimeoutMs} ms; closing them`,
    );
    process.exitCode = 1;
  }
  r.server.closeAllConnections();
  r.source.close();
  r.models.close();
  await r.monitoring.close();
  r.writer?.close();
  await r.writer?.flush();
  r.table.close();
  r.metricsServer.close();
  r.metricsServer.closeAllConnections();
  log.info('router stopped');
}

/**
 * Runs the router until SIGTERM or SIGINT, then drains in-flight requests and resolves.
 * Configuration comes from MODELSHIP_* variables (see config.ts); throws on invalid configuration.
 */
export async function runRouter(): Promise<void> {
  const config = parseRouterConfig(process.env, os.hostname());
  const log = createLogger(config.logLevel).child({ component: 'router', pod: config.podName });
  const stats = new RouterStats(config.podName, new Date());
  const metrics = new RouterMetrics(stats);
  const table = new RouteTable(config.maxSocketsPerBackend, config.timeoutMs + 5_000);
  let writer: StatsWriter | undefined;
  const monitoring = new RouterMonitoring({
    stats,
    metrics,
    log,
    tokenDir: config.tokenDir,
    payloadQueue: config.payloadQueue,
    driftSampleRps: config.driftSampleRps,
  });
  const proxy = createProxy({
    table,
    stats,
    metrics,
    log,
    timeoutMs: config.timeoutMs,
    mirrorTimeoutMs: config.mirrorTimeoutMs,
    mirrorMaxBytes: config.mirrorMaxBytes,
    maxMirrorsInFlight: config.maxMirrorsInFlight,
    connectRetryBudgetMs: config.connectRetryBudgetMs,
    maxHeld: config.maxHeld,
    // The operator starts a revision at zero on the stats' first sign of a held request: publish now.
    onFirstHeld: () => void writer?.flush(),
    observers: monitoring.observers,
  });
  const ready = { value: true };
  const snapshot = () => stats.snapshot(new Date(), table.routes?.generation ?? null);

  // Idle client connections outlive a typical load balancer's 60 s, so the client side (kube-proxy
  // peers, ingress) closes first and never reuses a connection the router is closing.
  const server = http.createServer(
    { keepAliveTimeout: CLIENT_KEEP_ALIVE_MS, headersTimeout: CLIENT_KEEP_ALIVE_MS + 1000 },
    (req, res) => {
      const path = req.url?.split('?')[0];
      if (path === '/v2/health/live') return json(res, 200, { live: true });
      if (path === '/v2/health/ready') {
        if (!table.routes) return json(res, 503, { ready: false, error: 'no routes loaded yet' });
        if (!ready.value) return json(res, 503, { ready: false, error: 'shutting down' });
        return json(res, 200, { ready: true, generation: table.routes.generation });
      }
      if (path === LABELS_PATH) {
        monitoring.handleLabels(req, res).catch((err: Error) => sendError(res, 500, `labels: ${err.message}`));
        return;
      }
      try {
        proxy.handle(req, res);
      } catch (err) {
        log.error('proxy failed', { error: err as Error, url: req.url });
        sendError(res, 500, `router: ${(err as Error).message}`);
      }
    },
  );
  server.on('clientError', (err, socket) => {
    if (socket.writable)
      socket.end(
        'HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{"error":"malformed HTTP request"}',
      );
    else socket.destroy(err);
  });
  const metricsServer = http.createServer((req, res) => {
    const path = req.url?.split('?')[0];
    if (path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        (err: Error) => json(res, 500, { error: `metrics: ${err.message}` }),
      );
    } else if (path === '/router/stats') {
      json(res, 200, snapshot());
    } else {
      json(res, 404, { error: `no such path ${path}: try /metrics or /router/stats` });
    }
  });

  const models = new ModelMetadataFetcher(stats, 5_000, log, config.tokenDir);
  models.start(5_000);
  let source: RoutesSource;
  if (config.source.kind === 'file') {
    // Stats are published through the API server only: a file source has no writer.
    source = watchRoutesFile(
      config.source.path,
      routesApplier(table, stats, proxy, metrics, models, monitoring, undefined, log),
      log,
    );
  } else {
    const kc = loadKubeConfig();
    if (config.statsConfigMap) {
      writer = startStatsWriter({
        api: kc.makeApiClient(CoreV1Api),
        namespace: config.source.namespace,
        name: config.statsConfigMap,
        pod: config.podName,
        intervalMs: config.statsIntervalMs,
        snapshot,
        log,
      });
    }
    const applyText = routesApplier(table, stats, proxy, metrics, models, monitoring, writer, log);
    source = watchRoutesConfigMap(kc, config.source.namespace, config.source.name, applyText, log);
  }

  const port = await listen(server, config.port, config.host);
  const metricsPort = await listen(metricsServer, config.metricsPort, config.host);
  log.info('router listening', { port, metricsPort, source: config.source });

  // A repeated signal while draining is logged, not fatal: shutdownTimeoutMs already bounds the drain.
  let stopping = false;
  const signal = await new Promise<string>((resolve) => {
    const onSignal = (name: string) => {
      if (stopping) log.info(`${name} received while draining; still draining`);
      stopping = true;
      resolve(name);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  await shutdown(
    { config, log, table, stats, proxy, server, metricsServer, source, models, monitoring, writer },
    ready,
    signal,
  );
}
