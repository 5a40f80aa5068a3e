/**
 * Cache mode of the Modelship image (MODELSHIP_MODE=cache): the node cache agent the chart runs as
 * a DaemonSet, one per node, with the node's cache directory mounted. Model pods on the node ask it
 * for their model (contract/nodecache.ts) instead of each downloading it. The image's main
 * (../main.ts) dispatches here.
 */
import { once } from 'node:events';
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../../../common/log.js';
import { serveMetrics } from '../metrics.js';
import { NodeCacheAgent } from './agent.js';
import { parseCacheConfig } from './config.js';
import { modelFetcher } from './fetcher.js';
import { agentHandler, type AgentState } from './http.js';
import { CacheMetrics } from './metrics.js';
import { ModelStore } from './store.js';

/**
 * Runs the agent until SIGTERM or SIGINT, then lets the models being sent finish (up to the
 * shutdown timeout) and resolves. Throws on invalid configuration or an unusable cache directory.
 */
export async function runCache(): Promise<void> {
  const config = parseCacheConfig(process.env);
  const log = createLogger(config.logLevel).child({ component: 'cache' });
  const metrics = new CacheMetrics();
  const store = await ModelStore.open(config.cacheDir, config.maxBytes, log, metrics);
  const agent = new NodeCacheAgent(store, modelFetcher, metrics, log, config.maxTimeoutSeconds);
  const state: AgentState = { ready: true, inFlight: 0 };
  const server = http.createServer(agentHandler(agent, metrics, state, log));
  server.listen(config.port, config.host);
  await once(server, 'listening');
  const metricsServer = await serveMetrics(metrics.registry, config.host, config.metricsPort);
  log.info('listening', {
    port: (server.address() as { port: number }).port,
    metricsPort: (metricsServer.address() as { port: number }).port,
    dir: config.cacheDir,
    maxBytes: config.maxBytes,
  });

  const signal = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  log.info('shutting down', { signal, inFlight: state.inFlight, downloading: agent.downloading() });
  state.ready = false;
  if (config.shutdownDelayMs > 0) await sleep(config.shutdownDelayMs);
  // Pods waiting for a download get the agent's failure and fetch for themselves rather than wait
  // for a process on its way out; a download cut short leaves nothing (its staging file goes too).
  agent.abortDownloads();
  server.close();
  server.closeIdleConnections();
  const deadline = Date.now() + config.shutdownTimeoutMs;
  while (state.inFlight > 0 && Date.now() < deadline) await sleep(20);
  server.closeAllConnections();
  metricsServer.close();
  metricsServer.closeAllConnections();
  log.info('stopped');
}
