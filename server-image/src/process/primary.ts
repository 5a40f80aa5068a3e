/**
 * The primary of a group of serving processes (`processes` > 1). It holds the port and hands each
 * connection to one serving process in turn (process/dispatch.ts); each runs its own HTTP server,
 * batcher and inference threads on its own copy of the model. One process's main thread caps what
 * one HTTP server can parse and encode; several use every core.
 *
 * The primary fetches and verifies the model once, serves the group's merged metrics, holds
 * readiness until every process has loaded, replaces a process that dies after it was ready (within
 * a budget), leads the group's shutdown on SIGTERM/SIGINT (process/group.ts), and exits non-zero if
 * the group could not start or any process failed to stop cleanly. A group that fails before it is
 * ready is serving nothing: its processes are killed at once, and the primary's last log line is
 * the cause.
 */
import cluster, { type Worker } from 'node:cluster';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { dataPlaneOptions, type Config } from '../config.js';
import { ModelLoadError, type FetchedModel } from '../dataplane/types.js';
import { createLogger } from '../../../common/log.js';
import { groupMetrics, serveMetrics } from '../metrics.js';
import { fetchVerifiedModel } from '../model/index.js';
import { clearTerminationMessage, die, terminationMessage, writeTerminationMessage } from './fatal.js';
import { ConnectionDispatcher } from './dispatch.js';
import { REPLACEMENT_ENV, isToPrimary, type ToMember } from './group.js';

/** Replacements allowed in REPLACEMENT_WINDOW_MS; past that the cause is not transient: exit. */
const MAX_REPLACEMENTS = 3;
const REPLACEMENT_WINDOW_MS = 60_000;
/** How much longer than a process's own shutdown deadline the primary waits before killing it. */
const STOP_GRACE_MS = 5000;

interface Member {
  worker: Worker;
  ready: boolean;
  replacement: boolean;
  /** Why it could not go on, as it said before exiting. */
  failure?: { msg: string; error: string };
}

/** Why the group is ending in failure: logged last, as the process's final word. */
interface Cause {
  msg: string;
  fields: Record<string, unknown>;
}

/** Run the primary of a group of `config.processes` serving processes. */
export async function runPrimary(config: Config): Promise<void> {
  const log = createLogger(config.logLevel);
  const fatal: (msg: string, err: unknown) => never = (msg, err) => die(config.terminationLogPath, log, msg, err);
  process.on('uncaughtException', (err) => fatal('uncaught exception', err));
  process.on('unhandledRejection', (err) => fatal('unhandled rejection', err));
  clearTerminationMessage(config.terminationLogPath);

  let metricsServer: http.Server;
  try {
    metricsServer = await serveMetrics(groupMetrics(), config.host, config.metricsPort);
  } catch (err) {
    fatal('listen failed', err);
  }
  const metricsPort = (metricsServer.address() as AddressInfo).port;

  const dispatcher = new ConnectionDispatcher();
  let port: number;
  try {
    port = await dispatcher.listen(config.host, config.port);
  } catch (err) {
    fatal('listen failed', err);
  }
  log.info('listening', {
    host: config.host,
    port,
    metricsPort,
    processes: config.processes,
    model: config.name,
    version: config.version,
    auth: Boolean(config.authTokenFile),
  });

  const members = new Map<number, Member>();
  const replacedAt: number[] = [];
  let model: FetchedModel | undefined;
  let groupReady = false;
  let stopping: string | undefined;
  let exitCode = 0;
  let cause: Cause | undefined;

  const send = (worker: Worker, message: ToMember): void => {
    if (worker.isConnected()) worker.send(message);
  };
  const modelMessage = (m: FetchedModel): ToMember => ({ type: 'modelship:model', path: m.path, sha256: m.sha256 });

  const stop = (why: string, code: number): void => {
    exitCode = Math.max(exitCode, code);
    if (stopping) return;
    stopping = why;
    log.info('shutting down', { signal: why, processes: members.size });
    setTimeout(() => {
      log.error('serving processes did not stop in time; killing them', {
        deadlineMs: config.shutdownTimeoutMs + STOP_GRACE_MS,
      });
      for (const { worker } of members.values()) worker.process.kill('SIGKILL');
      process.exit(1);
    }, config.shutdownTimeoutMs + STOP_GRACE_MS).unref();
    for (const { worker } of members.values()) send(worker, { type: 'modelship:stop' });
    // Not ready, still serving, for the delay (endpoints and load balancers catch up); then the port
    // closes, and only then are clients asked to reconnect: to another pod, never to this port.
    setTimeout(() => {
      void dispatcher.close().then(() => {
        for (const { worker } of members.values()) send(worker, { type: 'modelship:drain' });
      });
    }, config.shutdownDelayMs);
    if (members.size === 0) finish();
  };
  const finish = (): void => {
    void dispatcher.close();
    metricsServer.closeAllConnections();
    metricsServer.close(() => {
      if (cause) log.error(cause.msg, { ...cause.fields, exitCode });
      else log.info('stopped', { signal: stopping, exitCode });
      process.exit(exitCode);
    });
  };
  const failed = (msg: string, fields: Record<string, unknown>, message: string): void => {
    cause ??= { msg, fields };
    writeTerminationMessage(config.terminationLogPath, message, log);
    if (groupReady) {
      stop('failure', 1);
      return;
    }
    // Nothing is served yet (every request was answered 503): no reason to wait for anyone.
    exitCode = 1;
    stopping ??= 'failure';
    for (const { worker } of members.values()) worker.process.kill('SIGKILL');
    if (members.size === 0) finish();
  };

  const onMessage = (member: Member, message: unknown): void => {
    if (!isToPrimary(message)) return;
    switch (message.type) {
      case 'modelship:hello':
        if (model) send(member.worker, modelMessage(model));
        if (groupReady) send(member.worker, { type: 'modelship:group-ready' });
        break;
      case 'modelship:accepting':
        if (stopping) break;
        dispatcher.add({
          id: member.worker.id,
          send: (socket, done) => {
            if (!member.worker.isConnected()) done(new Error('serving process disconnected'));
            else member.worker.send({ type: 'modelship:connection' } satisfies ToMember, socket, done);
          },
        });
        break;
      case 'modelship:failed':
        member.failure = { msg: message.msg, error: message.error };
        break;
      case 'modelship:ready':
        member.ready = true;
        if (member.replacement) log.info('replacement serving process ready', { pid: member.worker.process.pid });
        if (groupReady || [...members.values()].some((m) => !m.ready)) break;
        groupReady = true;
        for (const m of members.values()) send(m.worker, { type: 'modelship:group-ready' });
        log.info('model ready', {
          model: config.name,
          version: config.version,
          sha256: config.sha256 ?? 'unverified',
          processes: members.size,
        });
        break;
    }
  };

  const onExit = (member: Member, code: number | null, signal: string | null): void => {
    members.delete(member.worker.id);
    dispatcher.remove(member.worker.id);
    const fields = { pid: member.worker.process.pid, exitCode: code, signal };
    if (stopping) {
      if (code !== 0) exitCode = 1;
      if (members.size === 0) finish();
      return;
    }
    if (!member.ready) {
      // A process that failed on purpose said why (and wrote the termination message, the first
      // one being kept); otherwise it was killed by a signal.
      if (member.failure)
        failed(
          member.failure.msg,
          { ...fields, error: member.failure.error },
          `${member.failure.msg}: ${member.failure.error}`,
        );
      else
        failed(
          'serving process exited before it was ready',
          fields,
          `serving process ${String(fields.pid)} exited before it was ready (exit code ${String(code)}, signal ${String(signal)})`,
        );
      return;
    }
    const now = Date.now();
    while (replacedAt.length > 0 && now - replacedAt[0] > REPLACEMENT_WINDOW_MS) replacedAt.shift();
    if (replacedAt.length >= MAX_REPLACEMENTS) {
      failed(
        'serving processes keep exiting; giving up',
        { ...fields, replacements: replacedAt.length, windowMs: REPLACEMENT_WINDOW_MS },
        `serving processes exited ${replacedAt.length + 1} times within ${REPLACEMENT_WINDOW_MS / 1000} s; the last: exit code ${String(code)}, signal ${String(signal)}`,
      );
      return;
    }
    replacedAt.push(now);
    log.warn('serving process exited; replacing it', fields);
    fork(true);
  };

  const fork = (replacement: boolean): void => {
    const worker = cluster.fork(replacement ? { [REPLACEMENT_ENV]: '1' } : {});
    const member: Member = { worker, ready: false, replacement };
    members.set(worker.id, member);
    worker.on('message', (message: unknown) => onMessage(member, message));
    worker.on('exit', (code, signal) => onExit(member, code, signal));
  };

  for (let i = 0; i < config.processes; i++) fork(false);
  process.on('SIGTERM', () => stop('SIGTERM', 0));
  process.on('SIGINT', () => stop('SIGINT', 0));

  try {
    const verified = await fetchVerifiedModel(dataPlaneOptions(config), (info) =>
      log.info('model fetched', { ...info }),
    );
    model = { path: verified.path, sha256: verified.sha256 };
  } catch (err) {
    if (stopping) return;
    const message = err instanceof Error ? err.message : String(err);
    const reason = err instanceof ModelLoadError ? err.reason : undefined;
    failed(
      'model load failed',
      { error: message, ...(reason === undefined ? {} : { reason }) },
      terminationMessage('model load failed', err),
    );
    return;
  }
  for (const member of members.values()) send(member.worker, modelMessage(model));
}
