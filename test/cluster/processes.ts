/**
 * Starting and stopping control-plane processes. Each runs detached in its own process group, so
 * it outlives the command that started it (`make cluster-up`) and can be stopped, with any
 * children, by signalling the group from another process (`make cluster-down`, jest teardown).
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** A started process, as recorded in the cluster state file. */
export interface RunningProcess {
  name: string;
  pid: number;
  bin: string;
  args: string[];
  log: string;
}

/** Starts bin detached with output appended to log; returns once the OS has given it a pid. */
export async function startDetached(name: string, bin: string, args: string[], log: string): Promise<RunningProcess> {
  const fd = openSync(log, 'a');
  try {
    const child = spawn(bin, args, { detached: true, stdio: ['ignore', fd, fd] });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('spawn', () => resolve(child.pid as number));
      child.once('error', (err) => reject(new Error(`start ${name} (${bin}): ${err.message}`)));
    });
    child.unref();
    return { name, pid, bin, args, log };
  } finally {
    closeSync(fd);
  }
}

/**
 * True when pid is alive and still runs bin: guards against signalling an unrelated process that
 * reused the pid of a control-plane process from an earlier, crashed run.
 */
export function isRunning(proc: Pick<RunningProcess, 'pid' | 'bin'>): boolean {
  try {
    const cmdline = readFileSync(`/proc/${proc.pid}/cmdline`, 'utf8');
    const stat = readFileSync(`/proc/${proc.pid}/stat`, 'utf8');
    // A zombie (state Z) has exited; only its parent has not reaped it yet.
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return cmdline.split('\0')[0] === proc.bin && state !== 'Z';
  } catch {
    return false;
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
}

/**
 * Stops processes one by one, in the given order (callers pass reverse start order, so the API
 * server shuts down while etcd is still there): SIGTERM to the process group, SIGKILL if it is still
 * alive after graceMs. Resolves when none of them is running.
 */
export async function stopAll(procs: RunningProcess[], graceMs = 5_000): Promise<void> {
  for (const p of procs) {
    if (!isRunning(p)) continue;
    signalGroup(p.pid, 'SIGTERM');
    if (await exited(p, graceMs)) continue;
    signalGroup(p.pid, 'SIGKILL');
    if (!(await exited(p, 5_000))) throw new Error(`stop ${p.name} (pid ${p.pid}): still running after SIGKILL`);
  }
}

async function exited(proc: RunningProcess, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isRunning(proc)) {
    if (Date.now() >= deadline) return false;
    await delay(50);
  }
  return true;
}

/** Synchronous SIGKILL of every process group: for process exit handlers, where nothing async runs. */
export function killAllNow(procs: RunningProcess[]): void {
  for (const p of procs) if (isRunning(p)) signalGroup(p.pid, 'SIGKILL');
}

/**
 * Picks count distinct free loopback ports by binding port 0 and holding all sockets open until
 * every port is known, so no two components get the same port.
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/** Resolves after ms milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
