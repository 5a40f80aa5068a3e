/**
 * One serving process: HTTP on the inference port, the data plane behind it, and the process's
 * lifecycle. Alone (`processes` = 1) it is the whole server and also serves the metrics port; in a
 * group it takes the verified model from its primary, reports to it, and leaves the metrics port
 * and the announcements ("listening", "model ready", "stopped") to it.
 *
 * Lifecycle: HTTP is up at once (live), the model loads in the background and the process is ready
 * only when the data plane is (and, in a group, when every process is). A load failure is logged,
 * written to the termination log and ends the process non-zero. SIGTERM/SIGINT: not ready, stop
 * accepting, finish in-flight requests, close the data plane, exit 0, or exit 1 if that overruns
 * the hard deadline.
 */
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { TokenFile } from '../auth.js';
import { dataPlaneOptions, type Config } from '../config.js';
import { createDataPlane, type DataPlaneObserver } from '../dataplane/index.js';
import { createRequestHandler } from '../http/handler.js';
import { createHttpServer, listen } from '../http/server.js';
import { createLogger, type LogFields } from '../log.js';
import { ServerMetrics, serveMetrics, shareWithPrimary } from '../metrics.js';
import { clearTerminationMessage, die } from './fatal.js';
import type { GroupMember } from './group.js';

/**
 * Keep-alive connections idle this long during shutdown are closed; busy ones always finish. Long
 * enough that a client slow to send its next request on a loaded node is not cut off mid-send.
 */
const IDLE_GRACE_MS = 3000;

/** Run one serving process; `group` is its link to the primary when it is one of several. */
export async function runServer(config: Config, group?: GroupMember): Promise<void> {
  const log = createLogger(config.logLevel, undefined, group ? { pid: process.pid } : {});
  // Events the primary announces once for the whole group are details in each of its processes.
  const announce = (msg: string, fields: LogFields): void => (group ? log.debug(msg, fields) : log.info(msg, fields));
  const fail: (msg: string, err: unknown) => never = (msg, err) => die(config.terminationLogPath, log, msg, err);
  process.on('uncaughtException', (err) => fail('uncaught exception', err));
  process.on('unhandledRejection', (err) => fail('unhandled rejection', err));
  if (!group) clearTerminationMessage(config.terminationLogPath);

  const metrics = new ServerMetrics(config);
  if (group) shareWithPrimary(metrics.registry);
  const observer: DataPlaneObserver = {
    modelLoaded: (seconds) => metrics.modelLoaded(seconds),
    batchRun: (size, seconds) => metrics.batchRun(size, seconds),
    queueDepth: (depth) => metrics.queueDepth(depth),
    modelFetched: (info) => announce('model fetched', { ...info }),
    workerExited: (info) => log.warn('inference worker exited; replacing it', { ...info }),
  };
  let tokens: TokenFile | undefined;
  if (config.authTokenFile) {
    try {
      tokens = new TokenFile(config.authTokenFile, log);
    } catch (err) {
      fail('auth setup failed', err);
    }
    tokens.watch();
  }

  let draining = false;
  const dataPlane = createDataPlane({ ...dataPlaneOptions(config), fetched: group?.model }, observer);
  const handler = createRequestHandler(
    { dataPlane, ready: () => !draining && dataPlane.ready() && (group?.groupReady() ?? true), maxResponseBytes: config.maxResponseBytes },
    { maxBodyBytes: config.maxBodyBytes, metrics, log, authorize: tokens && ((h) => (tokens as TokenFile).check(h)) },
  );
  const { server, drainer } = createHttpServer(handler);
  let metricsServer: http.Server | undefined;

  const startListening = async (): Promise<void> => {
    let port: number;
    try {
      port = await listen(server, config.host, config.port);
      if (!group) metricsServer = await serveMetrics(metrics.registry, config.host, config.metricsPort);
    } catch (err) {
      fail('listen failed', err);
    }
    if (group) {
      group.listening(port);
      log.debug('process listening', { port });
      return;
    }
    const metricsPort = (metricsServer?.address() as AddressInfo).port;
    log.info('listening', { host: config.host, port, metricsPort, model: config.name, version: config.version, auth: Boolean(tokens) });
  };
  // A replacement in a group listens only once it can serve: until then the primary hands every
  // new connection to the processes that already do.
  if (!group?.replacement) await startListening();

  let stopping = false;
  dataPlane.load().then(
    async () => {
      if (group?.replacement && !stopping) await startListening();
      metrics.ready.set(draining ? 0 : 1);
      group?.ready();
      announce('model ready', { model: config.name, version: config.version, sha256: config.sha256 ?? 'unverified' });
    },
    (err: unknown) => {
      if (stopping) return;
      dataPlane.close().catch(() => undefined);
      fail('model load failed', err);
    },
  );

  const shutdown = async (why: string): Promise<void> => {
    if (stopping) {
      // A group's processes see a signal sent to the process group and the primary's copy of it.
      if (group) log.debug('shutdown already in progress', { why });
      else log.warn('shutdown already in progress', { signal: why });
      return;
    }
    stopping = true;
    draining = true;
    metrics.ready.set(0);
    announce('shutting down', { signal: why, inFlight: (await metrics.inFlight.get()).values[0]?.value ?? 0 });
    setTimeout(() => {
      log.error('graceful shutdown overran its deadline; exiting', { deadlineMs: config.shutdownTimeoutMs });
      process.exit(1);
    }, config.shutdownTimeoutMs).unref();
    if (config.shutdownDelayMs > 0) await delay(config.shutdownDelayMs);
    if (server.listening) await drainer.drain(IDLE_GRACE_MS);
    await dataPlane.close();
    tokens?.close();
    if (metricsServer) {
      metricsServer.closeAllConnections();
      await new Promise((resolve) => metricsServer?.close(resolve));
    }
    announce('stopped', { signal: why });
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  group?.onPrimaryGone(() => void shutdown('primary exited'));
}
