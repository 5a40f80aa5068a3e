/**
 * Starting, readying and stopping the servers under test, and running wrk. The thin shell around
 * the pure plan: everything here spawns a process or touches the network (loopback only).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** A port nothing listens on right now (the kernel picks it; we release it for the server). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** `command args` prefixed by taskset when a CPU list is given, so every process is pinned alike. */
export function pinned(cpus: string, command: string, args: string[]): [string, string[]] {
  return cpus ? ['taskset', ['--cpu-list', cpus, command, ...args]] : [command, args];
}

/** A running server process whose output goes to a log file. */
export interface RunningServer {
  id: string;
  child: ChildProcess;
  logPath: string;
  exited: Promise<number | null>;
}

/** Spawn a server in its own process group (so gunicorn's workers stop with it), output to logPath. */
export function startProcess(
  id: string,
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  logPath: string,
): RunningServer {
  const log = createWriteStream(logPath);
  const child = spawn(command, args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(null));
  });
  return { id, child, logPath, exited };
}

/**
 * Poll `url` until it answers 200, the process exits, or the deadline passes (generous: the
 * machine is shared and model load plus warm-up may be slow). Throws naming the server.
 */
export async function waitReady(server: RunningServer, url: string, deadlineMs: number): Promise<void> {
  let exitCode: number | null | undefined;
  void server.exited.then((code) => {
    exitCode = code;
  });
  const until = Date.now() + deadlineMs;
  let last = 'no answer';
  while (Date.now() < until) {
    if (exitCode !== undefined)
      throw new Error(`start ${server.id}: exited with code ${exitCode} before ready (log: ${server.logPath})`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      if (res.status === 200) return;
      last = `status ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(200);
  }
  throw new Error(`start ${server.id}: not ready at ${url} after ${deadlineMs} ms (${last}; log: ${server.logPath})`);
}

/** SIGTERM the server's process group, then SIGKILL it if it has not exited within graceMs. */
export async function stopProcess(server: RunningServer, graceMs: number): Promise<void> {
  const pid = server.child.pid;
  if (pid === undefined || server.child.exitCode !== null) return;
  const signalGroup = (signal: NodeJS.Signals): void => {
    try {
      process.kill(-pid, signal);
    } catch {
      // The group is already gone.
    }
  };
  signalGroup('SIGTERM');
  const done = await Promise.race([server.exited.then(() => true), sleep(graceMs).then(() => false)]);
  if (!done) {
    signalGroup('SIGKILL');
    await server.exited;
  }
}

/** Run a command to completion and collect its stdout; rejects naming the command on failure. */
export function runCommand(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('error', (e) => reject(new Error(`run ${command}: ${e.message}`)));
    child.once('exit', (code) => {
      if (code === 0) resolve(out);
      else reject(new Error(`run ${command} ${args.join(' ')}: exit ${code}: ${err.trim().slice(-500)}`));
    });
  });
}
