/**
 * One pod's local inference server: `node dist/server-image/src/main.js` with the pod's environment,
 * restarted with backoff when it exits (restartPolicy Always), probed on /v2/health/ready, stopped
 * with SIGTERM and then SIGKILL after the pod's grace period.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import { dirname } from 'node:path';

/** How to start one pod's process. */
export interface PodProcessOptions {
  /** `namespace/name` of the pod. */
  key: string;
  env: Record<string, string>;
  httpPort: number;
  metricsPort: number;
  /** Script to run with this node binary (dist/server-image/src/main.js). */
  script: string;
  /** Log file of this pod (stdout and stderr, appended across restarts). */
  logFile: string;
  /** SIGKILL this long after SIGTERM. */
  graceMs: number;
  /** Called on state changes worth printing. */
  log: (message: string) => void;
  /** Called when readiness flips, so the proxy can update its backends. */
  onReadyChange: () => void;
  /** Called with the pid when a process starts (undefined when it ends), for the orphan record. */
  onPid: (pid: number | undefined) => void;
}

const PROBE_INTERVAL_MS = 1_000;
/**
 * Failed probes in a row before a ready process counts as not ready: the kubelet's default, and the
 * model pods' readinessProbe. One probe that times out on a loaded machine must not empty a Service
 * (its proxy then answers 503 to every request until the next probe).
 */
const FAILURE_THRESHOLD = 3;
const MAX_BACKOFF_MS = 30_000;

/** A supervised local server process for one pod. */
export class PodProcess {
  private child?: ChildProcess;
  private exited?: Promise<void>;
  private logStream?: WriteStream;
  private stopping = false;
  private restarts = 0;
  private restartTimer?: NodeJS.Timeout;
  private probeTimer?: NodeJS.Timeout;
  /** Whether the process is ready: its last probe answered 200, or too few failed since one did. */
  ready = false;
  /** Whether the process has answered ready since it was last spawned. */
  private readySinceSpawn = false;
  private failedProbes = 0;

  constructor(private readonly opts: PodProcessOptions) {}

  /**
   * Whether the process is on its way to ready: running, never ready since it was (re)started, not
   * stopping. A process waiting out its restart backoff, or one that was ready and no longer is, is
   * not: a real Service would list neither, and callers get their answer at once.
   */
  get starting(): boolean {
    return this.child !== undefined && !this.readySinceSpawn && !this.stopping;
  }

  /** The URL of the process's HTTP API. */
  get url(): string {
    return `http://127.0.0.1:${this.opts.httpPort}`;
  }

  /** The pid of the running process, if any. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Starts the process and its readiness probe. */
  start(): void {
    mkdirSync(dirname(this.opts.logFile), { recursive: true });
    this.logStream = createWriteStream(this.opts.logFile, { flags: 'a' });
    this.spawnChild();
    this.probeTimer = setInterval(() => void this.probe(), PROBE_INTERVAL_MS);
  }

  private spawnChild(): void {
    const { key, env, script } = this.opts;
    // Own process group: the terminal's Ctrl-C reaches only the runner, which stops children in order.
    const child = spawn(process.execPath, [script], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    this.child = child;
    this.readySinceSpawn = false;
    child.stdout!.pipe(this.logStream!, { end: false });
    child.stderr!.pipe(this.logStream!, { end: false });
    this.opts.onPid(child.pid);
    this.opts.log(`pod ${key}: started pid ${child.pid} on ${this.url} (metrics :${this.opts.metricsPort})`);
    this.exited = new Promise((resolve) => {
      child.on('error', (err) => this.opts.log(`pod ${key}: start ${script}: ${err.message}`));
      child.on('close', (code, signal) => {
        this.opts.onPid(undefined);
        this.setReady(false);
        this.child = undefined;
        resolve();
        if (this.stopping) return;
        const backoff = Math.min(MAX_BACKOFF_MS, 1_000 * 2 ** this.restarts++);
        this.opts.log(
          `pod ${key}: process exited (${signal ?? `code ${code}`}), restarting in ${backoff / 1000}s; see ${this.opts.logFile}`,
        );
        this.restartTimer = setTimeout(() => this.spawnChild(), backoff);
      });
    });
  }

  private async probe(): Promise<void> {
    if (!this.child) return;
    const ok = await fetch(`${this.url}/v2/health/ready`, { signal: AbortSignal.timeout(2_000) }).then(
      async (res) => (await res.arrayBuffer(), res.status === 200),
      () => false,
    );
    if (this.stopping) return;
    this.failedProbes = ok ? 0 : this.failedProbes + 1;
    if (ok || this.failedProbes >= FAILURE_THRESHOLD) this.setReady(ok);
  }

  private setReady(ready: boolean): void {
    if (ready === this.ready) return;
    this.ready = ready;
    if (ready) {
      this.restarts = 0;
      this.readySinceSpawn = true;
    }
    this.opts.log(`pod ${this.opts.key}: ${ready ? 'ready' : 'not ready'}`);
    this.opts.onReadyChange();
  }

  /** SIGTERM, then SIGKILL after the grace period; resolves once the process is gone. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.probeTimer);
    clearTimeout(this.restartTimer);
    this.setReady(false);
    const child = this.child;
    if (child?.pid !== undefined) {
      signalGroup(child.pid, 'SIGTERM');
      const kill = setTimeout(() => signalGroup(child.pid!, 'SIGKILL'), this.opts.graceMs);
      await this.exited;
      clearTimeout(kill);
    }
    this.logStream?.end();
  }
}

/** Signals a process group; a group already gone is fine. */
export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}
