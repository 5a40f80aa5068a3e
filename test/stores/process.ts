/**
 * Running one test store (MinIO, fake-gcs-server, the registry) as a process: a temp dir for its data
 * and log, a free port on the host it serves on, a readiness poll of a real endpoint, and a stop that
 * kills its process group and removes the temp dir. A store never outlives the process that started
 * it: it runs under a guard shell that stops it once that process is gone, however it ended.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { binDir } from '../cluster/cluster.js';
import { isRunning, stopAll, type RunningProcess } from '../cluster/processes.js';
import { waitFor } from '../cluster/wait.js';

/** Where stores serve by default: loopback (server tests). Real-pod e2e passes the node's address. */
export const DEFAULT_STORE_HOST = '127.0.0.1';

/** How long a store may take to answer its readiness endpoint (a cold MinIO on a busy 2-core machine). */
const READY_TIMEOUT_MS = 60_000;

/** How much of a failed store's log goes into the error: its end, where the reason is. */
const LOG_TAIL_CHARS = 4_000;

/** Options every store's start takes. */
export interface StoreHostOptions {
  /** Address to bind to (default 127.0.0.1; 10.200.0.1 is the real node's, for real-pod e2e). */
  host?: string;
  /**
   * Directory the store's temp dir is made in (default the OS temp dir). Real-pod e2e may pass the
   * cluster state dir, so that `make cluster-leftovers` also sees a store left running.
   */
  parentDir?: string;
}

/** What a store's start describes to startStoreProcess. */
export interface StoreProcessSpec {
  /** The binary's name in binDir() (build-binaries.sh's name), also the log's and temp dir's. */
  name: string;
  host: string;
  parentDir?: string;
  /** The command line, given the port and the temp dir (data, config files go under it). */
  args(port: number, dir: string): string[];
  /** Extra environment (credentials go here, never in args: a command line is visible to every user). */
  env?: Record<string, string>;
  /** Writes config files into the temp dir before the process starts. */
  prepare?(dir: string, port: number): Promise<void> | void;
  /** True once the store answers a real request on `host:port`. Errors count as "not yet". */
  ready(address: string): Promise<boolean>;
}

/** A started store process. */
export interface StoreProcess {
  /** `host:port` (IPv6 hosts in brackets). */
  address: string;
  port: number;
  /** The temp dir: data, config, `<name>.log`. Removed by stop(). */
  dir: string;
  /** Kills the process group (SIGTERM, then SIGKILL) and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

/** `host:port`, with an IPv6 host in brackets (as URLs and `--address` flags want it). */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A port free on host now: bind port 0 there and release it (the store binds it right after). */
export async function freePort(host: string): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new Error(`find a free port on ${host}: ${err.message}`)));
    server.listen(0, host, resolve);
  });
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The path of a store binary built by build-binaries.sh, or an error saying how to build it. */
export function storeBinary(name: string): string {
  const bin = join(binDir(), name);
  if (!existsSync(bin))
    throw new Error(
      `find ${name}: ${bin} is missing; run \`make stores-build\` (test/cluster/build-binaries.sh ${name})`,
    );
  return bin;
}

function logTail(log: string): string {
  try {
    const text = readFileSync(log, 'utf8');
    return text.length > LOG_TAIL_CHARS ? `...${text.slice(-LOG_TAIL_CHARS)}` : text;
  } catch {
    return '(no log)';
  }
}

/**
 * Starts a store in its own process group with its output in `<temp dir>/<name>.log`, and waits
 * until spec.ready answers. A store that exits because its port was taken meanwhile (the port is
 * free when picked, and other tests run on this machine) is started again on another port. If it
 * exits or does not get ready in time, it is stopped, its temp dir removed, and the error carries
 * the end of its log.
 */
export async function startStoreProcess(spec: StoreProcessSpec): Promise<StoreProcess> {
  const bin = storeBinary(spec.name);
  const dir = mkdtempSync(join(spec.parentDir ?? tmpdir(), `modelship-${spec.name}-`));
  const log = join(dir, `${spec.name}.log`);
  let proc: RunningProcess | undefined;
  const stop = async (): Promise<void> => {
    if (proc) await stopAll([proc]);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let attempt = 1; ; attempt++) {
      const port = await freePort(spec.host);
      const address = hostPort(spec.host, port);
      await spec.prepare?.(dir, port);
      const logStart = logSize(log);
      proc = await spawnGuarded(spec.name, dir, bin, spec.args(port, dir), log, spec.env);
      const started = proc;
      const state = await waitFor(
        `${spec.name} to answer on ${address}`,
        async () => (!isRunning(started) ? 'exited' : (await spec.ready(address)) && 'ready'),
        READY_TIMEOUT_MS,
        100,
      );
      if (state === 'ready') return { address, port, dir, stop };
      if (attempt >= PORT_ATTEMPTS || !PORT_TAKEN.test(readFileSync(log, 'utf8').slice(logStart)))
        throw new Error(`${spec.name} exited before it answered on ${address}`);
    }
  } catch (err) {
    const tail = logTail(log);
    await stop();
    throw new Error(`start ${spec.name}: ${(err as Error).message}\n--- ${spec.name}.log ---\n${tail}`, { cause: err });
  }
}

/** How a store says its port is taken (Go's net error; MinIO's own words). */
const PORT_TAKEN = /address already in use|port is already in use/i;

/** Starts on another port after that many times. */
const PORT_ATTEMPTS = 3;

function logSize(log: string): number {
  try {
    return readFileSync(log, 'utf8').length;
  } catch {
    return 0;
  }
}

/**
 * The guard: `sh -c GUARD <name>-guard <temp dir> <bin> <args...>`, with stdin a pipe from the test
 * process. It starts the store; when that pipe reaches EOF (the test process exited, crashed or was
 * killed, even by SIGKILL: exit handlers cannot see that, and jest gives tests a `process` whose
 * events never fire) it stops the store (SIGTERM) and, once the store has exited, removes the temp dir
 * nobody else will remove. It exits when the store does, with its status. It ignores SIGTERM itself,
 * so stopping the group (stopAll) waits for the store's own shutdown, not just the shell's.
 */
const GUARD = `dir=$1; shift
"$@" &
store=$!
exec 3<&0
(read -r _ <&3; : > "$dir/.orphaned"; kill -TERM "$store" 2>/dev/null) &
reader=$!
exec 3<&-
trap '' TERM
wait "$store"; status=$?
kill "$reader" 2>/dev/null
if [ -e "$dir/.orphaned" ]; then rm -rf "$dir"; fi
exit "$status"`;

/**
 * Starts bin under the guard, detached (its own process group, which stopAll signals), with its
 * output appended to log and env added to ours.
 */
async function spawnGuarded(
  name: string,
  dir: string,
  bin: string,
  args: string[],
  log: string,
  env: Record<string, string> = {},
): Promise<RunningProcess> {
  const fd = openSync(log, 'a');
  try {
    const shArgs = ['-c', GUARD, `${name}-guard`, dir, bin, ...args];
    const child = spawn('/bin/sh', shArgs, {
      detached: true,
      stdio: ['pipe', fd, fd],
      env: { ...process.env, ...env },
    });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('spawn', () => resolve(child.pid as number));
      child.once('error', (err) => reject(new Error(`run ${bin}: ${err.message}`)));
    });
    // Neither the store nor its guard's pipe keeps the test process alive: stop() or our exit ends them.
    child.unref();
    (child.stdin as unknown as Socket).unref();
    return { name, pid, bin: '/bin/sh', args: shArgs, log };
  } finally {
    closeSync(fd);
  }
}

/** True when a GET of url answers one of the statuses (any other answer or error: false). */
export async function answers(url: string, statuses: readonly number[]): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    await res.body?.cancel();
    return statuses.includes(res.status);
  } catch {
    return false;
  }
}
