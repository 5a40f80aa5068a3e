/**
 * The operator process: flags → kube client → caches → work queue → workers (only while leader),
 * plus /metrics, /healthz and /readyz. SIGTERM/SIGINT stop the workers, let in-flight reconciles
 * finish, release the Lease and exit 0. Losing the Lease exits 1 so Kubernetes restarts the pod
 * as a fresh follower (simpler and safer than un-wiring a running controller).
 */
import http from 'node:http';
import os from 'node:os';
import { validateModelDeployment } from './api/validate.js';
import { parseConfig, type OperatorConfig } from './config.js';
import { LABEL, MANAGED_SELECTOR } from './desired/names.js';
import { Applier, StatusWriter } from './kube/apply.js';
import { Caches } from './kube/caches.js';
import { isStatus, KubeClient, loadKubeConfig } from './kube/client.js';
import { EventRecorder } from './kube/events.js';
import { LeaderElector } from './kube/leader.js';
import { runWorkers, WorkQueue } from './kube/workqueue.js';
import { createLogger, type Logger } from '../../common/log.js';
import { createMetrics, type OperatorMetrics } from './metrics.js';
import { registerStateMetrics } from './metrics-state.js';
import { callWebhook } from './checks/call.js';
import { queryMetric } from './checks/prometheus.js';
import { reconcile, type ReconcileDeps } from './reconcile.js';

/** Serves /metrics, /healthz (process alive) and /readyz (caches synced). */
function startHttp(
  cfg: OperatorConfig,
  metrics: OperatorMetrics,
  ready: () => boolean,
  log: Logger,
): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res
        .writeHead(405, { 'Content-Type': 'application/json' })
        .end(JSON.stringify({ error: `method ${req.method} not allowed` }));
    } else if (path === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const ok = ready();
      res.writeHead(ok ? 200 : 503, { 'Content-Type': 'text/plain' }).end(ok ? 'ok\n' : 'caches not synced\n');
    } else if (path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'Content-Type': metrics.registry.contentType }).end(text),
        (err: Error) =>
          res.writeHead(500, { 'Content-Type': 'application/json' }).end(JSON.stringify({ error: err.message })),
      );
    } else {
      res.writeHead(404, { 'Content-Type': 'application/json' }).end(JSON.stringify({ error: `no route ${path}` }));
    }
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err) =>
      reject(new Error(`listen ${cfg.metricsHost}:${cfg.metricsPort}: ${err.message}`, { cause: err })),
    );
    server.listen(cfg.metricsPort, cfg.metricsHost, () => {
      const addr = server.address();
      log.info('serving metrics and probes', {
        address: typeof addr === 'object' && addr ? `${addr.address}:${addr.port}` : String(addr),
      });
      resolve(server);
    });
  });
}

/**
 * Whether the API server serves HTTPRoutes (the Gateway API CRDs are installed): only then can the
 * operator cache them, and a cache of a kind the server does not know would never sync.
 */
async function servesHttpRoutes(api: KubeClient): Promise<boolean> {
  try {
    const list = await api.request<{ resources?: { name: string }[] }>({
      method: 'GET',
      path: '/apis/gateway.networking.k8s.io/v1',
    });
    return (list.resources ?? []).some((r) => r.name === 'httproutes');
  } catch (err) {
    if (isStatus(err, 404)) return false;
    throw new Error(`discover the Gateway API: ${(err as Error).message}`, { cause: err });
  }
}

async function main(): Promise<void> {
  const cfg = parseConfig(process.argv.slice(2), process.env, { hostname: os.hostname(), pid: process.pid });
  const log = createLogger(cfg.logLevel);
  const queue = new WorkQueue();
  const metrics = createMetrics(() => queue.len());
  const kc = loadKubeConfig(cfg.kubeconfig);
  const api = await KubeClient.create(kc, metrics.registry);
  log.info('starting', {
    server: kc.getCurrentCluster()?.server,
    namespace: cfg.namespace ?? '(all)',
    workers: cfg.workers,
    leaderElect: cfg.leaderElect,
    identity: cfg.identity,
  });

  const gatewayApi = await servesHttpRoutes(api);
  log.info('Gateway API', {
    httpRoutes: gatewayApi ? 'served: cached and pruned' : 'not served: restart the operator after installing its CRDs',
  });
  const caches = new Caches(
    api,
    {
      namespace: cfg.namespace,
      gatewayApi,
      ownedSelector: MANAGED_SELECTOR,
      ownerLabel: LABEL.deployment,
      resyncMs: cfg.resyncSeconds * 1000,
      onError: (kind, err) => log.warn('watch failed; retrying', { kind, error: err }),
    },
    (key) => queue.add(key),
  );
  registerStateMetrics(metrics.registry, () => caches.modelDeployments.list());
  const httpServer = await startHttp(cfg, metrics, () => caches.hasSynced(), log);
  caches.start();

  const deps: ReconcileDeps = {
    api,
    caches,
    applier: new Applier(api),
    statusWriter: new StatusWriter(api),
    events: new EventRecorder(api, cfg.identity),
    options: { serverImage: cfg.serverImage, routerImage: cfg.routerImage, nodeCacheUrl: cfg.nodeCacheUrl },
    validate: (obj) => validateModelDeployment(obj).errors,
    now: () => new Date(),
    warn: (msg, fields) => log.warn(msg, fields),
    baselines: new Map(),
    readings: new Map(),
    callWebhook,
    queryMetric,
  };

  let workers: Promise<void> | undefined;
  let stopRequested!: () => void;
  const stopSignal = new Promise<void>((resolve) => (stopRequested = resolve));
  const startWorkers = (): void => {
    metrics.leader.set(1);
    log.info('leading; starting workers');
    workers = (async () => {
      // Shutdown may come before the caches ever sync (API server unreachable).
      await Promise.race([caches.waitForSync(), stopSignal]);
      if (stopping) return;
      log.info('caches synced', { modelDeployments: caches.modelDeployments.list().length });
      await runWorkers(
        queue,
        cfg.workers,
        async (key) => {
          const end = metrics.reconcileDuration.startTimer();
          try {
            const outcome = await reconcile(key, deps);
            metrics.reconciles.inc({ result: 'success' });
            metrics.applies.inc({ outcome: 'applied' }, outcome.applied);
            metrics.applies.inc({ outcome: 'skipped' }, outcome.skipped);
            if (outcome.applied || outcome.pruned || outcome.statusWritten) {
              log.info('reconciled', {
                key,
                applied: outcome.applied,
                pruned: outcome.pruned,
                statusWritten: outcome.statusWritten,
              });
            }
            return outcome;
          } finally {
            end();
          }
        },
        (key, err, retryInMs) => {
          metrics.reconciles.inc({ result: 'error' });
          log.error('reconcile failed', { key, error: err, retryInMs });
        },
      );
    })();
  };

  const elector = cfg.leaderElect
    ? new LeaderElector(api, { namespace: cfg.leaseNamespace, name: cfg.leaseName, identity: cfg.identity })
    : undefined;

  let stopping = false;
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down', { signal, inFlight: queue.inFlight() });
    stopRequested();
    await queue.shutDown();
    await workers;
    try {
      await elector?.stop();
    } catch (err) {
      log.warn('release lease failed', { error: err });
    }
    await caches.stop();
    httpServer.close();
    api.close();
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  if (!elector) {
    startWorkers();
    return;
  }
  metrics.leader.set(0);
  log.info('waiting for leadership', { lease: `${cfg.leaseNamespace}/${cfg.leaseName}` });
  await elector.run(
    startWorkers,
    () => {
      metrics.leader.set(0);
      log.error('lost the leader lease; exiting so a fresh process can compete again');
      process.exit(1);
    },
    (err) => log.warn('leader election attempt failed', { error: err }),
  );
}

main().catch((err: Error) => {
  process.stderr.write(
    JSON.stringify({ time: new Date().toISOString(), level: 'error', msg: 'fatal', error: err.message }) + '\n',
  );
  process.exit(1);
});
