/**
 * One serving process: HTTP on the inference port, the data plane behind it, and the process's
 * lifecycle. Alone (`processes` = 1) it is the whole server and also serves the metrics port; in a
 * group it takes the verified model from its primary, reports to it, and leaves the metrics port
 * and the announcements ("listening", "model ready", "stopped") to it.
 *
 * Lifecycle: HTTP is up at once (live), the model loads in the background and the process is ready
 * only when the data plane is (and, in a group, when every process is). A load failure is logged,
 * written to the termination log and ends the process non-zero. SIGTERM/SIGINT (alone) or the
 * primary's two stop steps (in a group): not ready, stop accepting, finish in-flight requests,
 * close the data plane, exit 0, or exit 1 if that overruns the hard deadline.
 */
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { TokenFile } from '../auth.js';
import { dataPlaneOptions, type Config } from '../config.js';
import { createDataPlane, type DataPlaneObserver } from '../dataplane/index.js';
import { createRequestHandler } from '../http/handler.js';
import { createHttpServer, listen } from '../http/server.js';
import { createLogger, type LogFields } from '../../../common/log.js';
import { ServerMetrics, serveMetrics, shareWithPrimary } from '../metrics.js';
import { clearTerminationMessage, die } from './fatal.js';
import type { GroupMember, StopStep } from './group.js';

/**
 * Keep-alive connections idle this long during shutdown are closed; busy ones always finish. Long
 * enough that a client slow to send its next request on a loaded node is not cut off mid-send.
 */
const IDLE_GRACE_MS = 3000;

/** Seconds to the millisecond, for log fields. */
const ms3 = (seconds: number): number => Math.round(seconds * 1000) / 1000;

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
    modelLoaded: (seconds, steps) => {
      metrics.modelLoaded(seconds, steps);
      // The load's steps, for cold-start analysis (bench/coldstart splits the model's part by them):
      // one line per serving process, a group's too, since each loads the model itself.
      log.info('model loaded', {
        seconds: ms3(seconds),
        readSeconds: ms3(steps.readSeconds),
        sessionSeconds: ms3(steps.sessionSeconds),
        warmupSeconds: ms3(steps.warmupSeconds),
      });
    },
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
    {
      dataPlane,
      ready: () => !draining && dataPlane.ready() && (group?.groupReady() ?? true),
      maxResponseBytes: config.maxResponseBytes,
    },
    { maxBodyBytes: config.maxBodyBytes, metrics, log, authorize: tokens && ((h) => (tokens as TokenFile).check(h)) },
  );
  const { server, drainer } = createHttpServer(handler);
  let metricsServer: http.Server | undefined;

  const startListening = async (): Promise<void> => {
    if (group) {
      // The primary holds the port and hands connections over; http.Server starts its checks of
      // slow or stalled requests (headersTimeout, requestTimeout) on 'listening', which a server
      // that never listens itself must be given.
      group.onConnection((socket) => server.emit('connection', socket));
      server.emit('listening');
      group.accepting();
      log.debug('process taking connections');
      return;
    }
    let port: number;
    try {
      port = await listen(server, config.host, config.port);
      metricsServer = await serveMetrics(metrics.registry, config.host, config.metricsPort);
    } catch (err) {
      fail('listen failed', err);
    }
    const metricsPort = (metricsServer.address() as AddressInfo).port;
    log.info('listening', {
      host: config.host,
      port,
      metricsPort,
      model: config.name,
      version: config.version,
      auth: Boolean(tokens),
    });
  };
  // A replacement in a group takes connections only once it can serve: until then the primary
  // hands every new connection to the processes that already do.
  if (!group?.replacement) await startListening();

  let stopping = false;
  dataPlane.load().then(
    async () => {
      if (group?.replacement && !stopping) await startListening();
      metrics.ready.set(draining ? 0 : 1);
      group?.ready();
      announce('model ready', { model: config.name, version: config.version, sha256: config.sha256 ?? 'unverified' });
    },
    async (err: unknown) => {
      if (stopping) return;
      dataPlane.close().catch(() => undefined);
      // The primary's last word is the cause only if it hears it before this process exits.
      await group?.failed('model load failed', err instanceof Error ? err.message : String(err));
      fail('model load failed', err);
    },
  );

  /** Not ready from now on, with a hard deadline for the rest of the shutdown. */
  const stopServing = async (why: string): Promise<void> => {
    stopping = true;
    draining = true;
    metrics.ready.set(0);
    announce('shutting down', { signal: why, inFlight: (await metrics.inFlight.get()).values[0]?.value ?? 0 });
    setTimeout(() => {
      log.error('graceful shutdown overran its deadline; exiting', { deadlineMs: config.shutdownTimeoutMs });
      process.exit(1);
    }, config.shutdownTimeoutMs).unref();
  };
  /** Finish every connection's work, release the model, exit 0. */
  const drainAndExit = async (why: string): Promise<void> => {
    await drainer.drain(IDLE_GRACE_MS);
    // A model still loading has nothing in flight (requests were answered 503): waiting for the
    // load, which in a group may be waiting for a model that will never come, would only delay.
    if (dataPlane.ready()) await dataPlane.close();
    tokens?.close();
    if (metricsServer) {
      metricsServer.closeAllConnections();
      await new Promise((resolve) => metricsServer?.close(resolve));
    }
    announce('stopped', { signal: why });
    process.exit(0);
  };

  if (group) {
    // The primary leads a group's shutdown (process/group.ts); a signal sent to the whole process
    // group (Ctrl-C in a terminal) reaches the primary too.
    const ignore = (signal: string): void => log.debug('signal left to the primary', { signal });
    process.on('SIGTERM', () => ignore('SIGTERM'));
    process.on('SIGINT', () => ignore('SIGINT'));
    let stopped: Promise<void> | undefined;
    let exiting: Promise<void> | undefined;
    const step = (which: StopStep, why: string): void => {
      stopped ??= stopServing(why);
      if (which === 'drain') exiting ??= stopped.then(() => drainAndExit(why));
    };
    group.onStop((which) => step(which, 'stopped by the primary'));
    group.onPrimaryGone(() => step('drain', 'primary exited'));
    return;
  }
  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) {
      log.warn('shutdown already in progress', { signal });
      return;
    }
    await stopServing(signal);
    if (config.shutdownDelayMs > 0) await delay(config.shutdownDelayMs);
    await drainAndExit(signal);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}
