/**
 * Entry point of the Modelship image. MODELSHIP_MODE picks the role: `server` (default) serves one
 * model; `router` splits traffic between revisions (loaded only in that mode).
 *
 * Server lifecycle: HTTP is up at once (live), the model loads in the background and the server is
 * ready only when the data plane is. A load failure is logged, written to the termination log and
 * ends the process non-zero. SIGTERM/SIGINT: not ready, stop accepting, finish in-flight requests,
 * close the data plane, exit 0 — or exit 1 if that overruns the hard deadline.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { TokenFile } from './auth.js';
import { ConfigError, dataPlaneOptions, parseConfig, usableCpus, usage, type Config } from './config.js';
import { createDataPlane, type DataPlaneObserver } from './dataplane/index.js';
import { createRequestHandler } from './http/handler.js';
import { createHttpServer, listen } from './http/server.js';
import { createLogger, type Logger } from './log.js';
import { ServerMetrics, serveMetrics } from './metrics.js';

/**
 * Keep-alive connections idle this long during shutdown are closed; busy ones always finish. Long
 * enough that a client slow to send its next request on a loaded node is not cut off mid-send.
 */
const IDLE_GRACE_MS = 3000;

/** Kubernetes shows this file's content as the container's termination message (max 4 KiB). */
function writeTerminationMessage(path: string, message: string, log: Logger): void {
  try {
    writeFileSync(path, message.slice(0, 4096));
  } catch (err) {
    log.debug('termination log not writable', { path, error: (err as Error).message });
  }
}

/** The cgroup v2 CPU quota of this container, if there is one to read. */
function readCgroupCpuMax(): string | undefined {
  try {
    return readFileSync('/sys/fs/cgroup/cpu.max', 'utf8');
  } catch {
    return undefined;
  }
}

/** Log, leave a termination message, and exit non-zero. */
function die(config: Config, log: Logger, msg: string, err: unknown): never {
  const message = err instanceof Error ? err.message : String(err);
  log.error(msg, { error: message });
  writeTerminationMessage(config.terminationLogPath, `${msg}: ${message}`, log);
  process.exit(1);
}

async function runServer(config: Config): Promise<void> {
  const log = createLogger(config.logLevel);
  process.on('uncaughtException', (err) => die(config, log, 'uncaught exception', err));
  process.on('unhandledRejection', (err) => die(config, log, 'unhandled rejection', err));

  const metrics = new ServerMetrics(config);
  const observer: DataPlaneObserver = {
    modelLoaded: (seconds) => metrics.modelLoaded(seconds),
    batchRun: (size, seconds) => metrics.batchRun(size, seconds),
    queueDepth: (depth) => metrics.queueDepth(depth),
    modelFetched: (info) => log.info('model fetched', { ...info }),
    workerExited: (info) => log.warn('inference worker exited; replacing it', { ...info }),
  };
  let tokens: TokenFile | undefined;
  if (config.authTokenFile) {
    try {
      tokens = new TokenFile(config.authTokenFile, log);
    } catch (err) {
      die(config, log, 'auth setup failed', err);
    }
    tokens.watch();
  }

  let draining = false;
  const dataPlane = createDataPlane(dataPlaneOptions(config), observer);
  const handler = createRequestHandler(
    { dataPlane, ready: () => !draining && dataPlane.ready() },
    { maxBodyBytes: config.maxBodyBytes, metrics, log, authorize: tokens && ((h) => (tokens as TokenFile).check(h)) },
  );
  const { server, drainer } = createHttpServer(handler);
  let port: number;
  let metricsServer;
  try {
    port = await listen(server, config.host, config.port);
    metricsServer = await serveMetrics(metrics.registry, config.host, config.metricsPort);
  } catch (err) {
    die(config, log, 'listen failed', err);
  }
  const metricsPort = (metricsServer.address() as AddressInfo).port;
  log.info('listening', { host: config.host, port, metricsPort, model: config.name, version: config.version, auth: Boolean(tokens) });

  let stopping = false;
  dataPlane.load().then(
    () => {
      metrics.ready.set(draining ? 0 : 1);
      log.info('model ready', { model: config.name, version: config.version, sha256: config.sha256 ?? 'unverified' });
    },
    (err: unknown) => {
      if (stopping) return;
      dataPlane.close().catch(() => undefined);
      die(config, log, 'model load failed', err);
    },
  );

  const shutdown = async (signal: string): Promise<void> => {
    if (stopping) {
      log.warn('shutdown already in progress', { signal });
      return;
    }
    stopping = true;
    draining = true;
    metrics.ready.set(0);
    log.info('shutting down', { signal, inFlight: (await metrics.inFlight.get()).values[0]?.value ?? 0 });
    setTimeout(() => {
      log.error('graceful shutdown overran its deadline; exiting', { deadlineMs: config.shutdownTimeoutMs });
      process.exit(1);
    }, config.shutdownTimeoutMs).unref();
    if (config.shutdownDelayMs > 0) await delay(config.shutdownDelayMs);
    await drainer.drain(IDLE_GRACE_MS);
    await dataPlane.close();
    tokens?.close();
    metricsServer.closeAllConnections();
    await new Promise((resolve) => metricsServer.close(resolve));
    log.info('stopped', { signal });
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

async function main(): Promise<void> {
  const mode = process.env.MODELSHIP_MODE ?? 'server';
  if (mode === 'router') {
    // Imported only in this mode: a server never loads the router or the Kubernetes client.
    const { runRouter } = await import('./router/main.js');
    try {
      await runRouter();
    } catch (err) {
      process.stderr.write(`modelship router: ${(err as Error).message}\n`);
      process.exit(1);
    }
    return;
  }
  if (mode !== 'server') {
    process.stderr.write(`modelship: invalid MODELSHIP_MODE=${JSON.stringify(mode)}: expected server or router\n`);
    process.exit(2);
  }
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage() + '\n');
    return;
  }
  let config: Config;
  try {
    config = parseConfig(argv, process.env, usableCpus(availableParallelism(), readCgroupCpuMax()));
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`modelship: invalid configuration: ${err.message}\n`);
    process.exit(2);
  }
  await runServer(config);
}

await main();
