/**
 * Start the real inference server (compiled, from dist/) as a child process on free loopback
 * ports, against the real fixture models, and wait for it with generous deadlines (the machine is
 * small and shared: poll, never sleep a fixed time).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const MAIN = path.join(ROOT, 'dist/server-image/src/main.js');
export const FIXTURES = path.join(ROOT, 'test/fixtures/models');
export const EXAMPLES = path.join(ROOT, 'examples/models');

/** sha256 of a model file as its folder's SHA256SUMS records it. */
export function sha256Of(modelPath: string): string {
  const sums = readFileSync(path.join(path.dirname(modelPath), 'SHA256SUMS'), 'utf8');
  const line = sums
    .split('\n')
    .find(
      (l) => l.trim().endsWith(' ' + path.basename(modelPath)) || l.trim().endsWith('*' + path.basename(modelPath)),
    );
  if (!line) throw new Error(`no SHA256SUMS entry for ${modelPath}`);
  return line.split(/\s+/)[0];
}

/** A decoded JSON response body; tests assert its structure. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

/** A running server process and what it said. */
export interface ServerProcess {
  proc: ChildProcess;
  url: string;
  metricsUrl: string;
  /** Parsed JSON log lines so far. */
  logs: Record<string, unknown>[];
  stderr: () => string;
  terminationLog: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM and wait for exit. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface StartOptions {
  /** Model file; its digest comes from SHA256SUMS unless env sets MODELSHIP_SHA256. */
  model: string;
  env?: Record<string, string>;
  args?: string[];
  /** Wait for /v2/health/ready (default true). */
  ready?: boolean;
}

/** Thrown by a check to stop polling at once (other errors count as "not yet"). */
export class GiveUp extends Error {}

/** Poll `check` until it returns a value, or fail after `timeoutMs` with `what`. */
export async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch((err: unknown) => {
      if (err instanceof GiveUp) throw err;
      return undefined;
    });
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Spawn the server with MODELSHIP_* env and flags; resolves once it listens (and is ready). */
export async function startServer(options: StartOptions): Promise<ServerProcess> {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build first (make build)`);
  const scratch = mkdtempSync(path.join(tmpdir(), 'modelship-server-'));
  const terminationLog = path.join(scratch, 'termination-log');
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    MODELSHIP_MODEL_URI: options.model,
    MODELSHIP_SHA256: sha256Of(options.model),
    MODELSHIP_HOST: '127.0.0.1',
    MODELSHIP_PORT: '0',
    MODELSHIP_METRICS_PORT: '0',
    // A group of two, as on a 2-CPU pod, whatever the CPU count of the machine running the tests.
    MODELSHIP_PROCESSES: '2',
    MODELSHIP_WORKERS: '1',
    MODELSHIP_CACHE_DIR: path.join(scratch, 'cache'),
    MODELSHIP_TERMINATION_LOG: terminationLog,
    MODELSHIP_LOG_LEVEL: 'info',
    ...options.env,
  };
  const proc = spawn(process.execPath, [MAIN, ...(options.args ?? [])], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  let partial = '';
  proc.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    const lines = (partial + chunk).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ unparsed: line });
      }
    }
  });
  proc.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    // 'close', not 'exit': by then stdout is fully read, so no log line is missed.
    proc.once('close', (code, signal) => resolve({ code, signal })),
  );
  let gone = false;
  void exited.then(() => (gone = true));

  const listening = await until('the server to listen', async () => {
    const line = logs.find((l) => l.msg === 'listening');
    if (line === undefined && gone) throw new GiveUp('server exited before listening');
    return line;
  }).catch((err: Error) => {
    proc.kill('SIGKILL');
    throw new Error(`${err.message}; stderr: ${stderr}; logs: ${JSON.stringify(logs)}`);
  });
  const server: ServerProcess = {
    proc,
    url: `http://127.0.0.1:${String(listening.port)}`,
    metricsUrl: `http://127.0.0.1:${String(listening.metricsPort)}`,
    logs,
    stderr: () => stderr,
    terminationLog,
    exited,
    stop: async () => {
      if (!gone) proc.kill('SIGTERM');
      return exited;
    },
  };
  if (options.ready ?? true) {
    await until('the server to become ready', async () => {
      if (gone) throw new GiveUp('server exited before it was ready');
      const res = await fetch(`${server.url}/v2/health/ready`);
      return res.status === 200 ? true : undefined;
    }).catch(async (err: Error) => {
      proc.kill('SIGKILL');
      throw new Error(`${err.message}; stderr: ${stderr}; logs: ${JSON.stringify(logs)}`);
    });
  }
  return server;
}

/** Process ids whose parent is `pid` (Linux /proc), e.g. a group's serving processes. */
export function childPids(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Fields after the command name (which may hold spaces), in parentheses: state, then ppid.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return children.sort((a, b) => a - b);
}

/** POST JSON and return status and parsed body. */
export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Json; headers: Headers }> {
  return readJson(
    await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    }),
  );
}

/** GET and return status and parsed JSON body. */
export async function getJson(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Json; headers: Headers }> {
  return readJson(await fetch(url, { headers }));
}

async function readJson(res: Response): Promise<{ status: number; body: Json; headers: Headers }> {
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // left as text: a test asserting JSON will fail on it, which is the point
  }
  return { status: res.status, body: parsed, headers: res.headers };
}
