/**
 * Test harness for the router: real backend HTTP servers on 127.0.0.1, the router as a real child
 * process started from compiled dist/ (run `npx tsc -p tsconfig.json` or `make build` first), and
 * a keep-alive HTTP client. No sleeps: everything waits by polling a condition with a deadline.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { sha256Of } from '../helpers/server.js';

/** The image's compiled entry point; MODELSHIP_MODE selects the router or a model server. */
export const ENTRY = path.resolve('dist/server-image/src/main.js');

/** A backend's request handler; `name` is the backend's own name. */
export type BackendHandler = (req: http.IncomingMessage, body: Buffer, res: http.ServerResponse) => void;

/** A running backend. */
export interface Backend {
  name: string;
  url: string;
  port: number;
  /** Requests received, in order (method, url, headers, body). */
  received: { method?: string; url?: string; headers: http.IncomingHttpHeaders; body: Buffer }[];
  close(): Promise<void>;
}

/** Answers with JSON naming the backend (the default handler). */
export function nameHandler(name: string): BackendHandler {
  return (_req, body, res) => {
    const text = JSON.stringify({ backend: name, bytes: body.length });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
  };
}

/** Starts a backend on 127.0.0.1: on an ephemeral port, or on `port` (one a route already names). */
export async function startBackend(
  name: string,
  handler: BackendHandler = nameHandler(name),
  port = 0,
): Promise<Backend> {
  const received: Backend['received'] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      received.push({ method: req.method, url: req.url, headers: req.headers, body });
      handler(req, body, res);
    });
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  const bound = (server.address() as { port: number }).port;
  return {
    name,
    port: bound,
    url: `http://127.0.0.1:${bound}`,
    received,
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** A port nothing listens on (bound then released). */
export async function closedPort(): Promise<number> {
  const s = http.createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Polls `check` until it returns a truthy value or the deadline passes. */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  timeoutMs = 20_000,
  everyMs = 25,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A routes document for backends, with optional extra fields. */
export function routesFor(
  generation: number,
  weights: [Backend, number][],
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    version: 1,
    generation,
    revisions: weights.map(([b, weight]) => ({ name: b.name, url: b.url, weight })),
    ...extra,
  };
}

/** Writes a file atomically (temp file + rename), as an operator or kubelet would. */
export function writeAtomically(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

/** A fresh temp directory. */
export function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'modelship-router-'));
}

/** A running router process. */
export interface RouterProcess {
  url: string;
  metricsUrl: string;
  child: ChildProcess;
  /** Everything it has logged so far (stdout + stderr). */
  output(): string;
  /** SIGTERM and wait for the exit code. */
  stop(): Promise<number | null>;
}

/** A running image process (router or model server) and the JSON log line that said it listens. */
export interface Spawned<T> {
  child: ChildProcess;
  listening: T;
  output(): string;
  stop(): Promise<number | null>;
}

/**
 * Runs the image's entry point (or node with `args`) with `env` on loopback and ephemeral ports;
 * resolves with the first log line containing `marker` (its JSON), or fails with everything logged
 * if the process exits first.
 */
export async function spawnImage<T>(
  what: string,
  env: Record<string, string>,
  marker: string,
  args: readonly string[] = [ENTRY],
): Promise<Spawned<T>> {
  if (!fs.existsSync(ENTRY)) throw new Error(`${ENTRY} missing: run make build first`);
  const child = spawn(process.execPath, args, {
    env: {
      PATH: process.env.PATH,
      MODELSHIP_HOST: '127.0.0.1',
      MODELSHIP_PORT: '0',
      MODELSHIP_METRICS_PORT: '0',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exited = once(child, 'exit');
  const listening = await waitFor(
    `${what} to listen`,
    () => {
      if (child.exitCode !== null) throw new Error(`${what} exited ${child.exitCode}: ${out}`);
      const line = out.split('\n').find((l) => l.includes(marker));
      return line ? (JSON.parse(line) as T) : undefined;
    },
    60_000,
  );
  return {
    child,
    listening,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      const [code] = await exited;
      return code as number | null;
    },
  };
}

/** Starts the router on ephemeral ports with `env` (routes source, timeouts...). */
export async function startRouter(env: Record<string, string>): Promise<RouterProcess> {
  const router = await spawnImage<{ port: number; metricsPort: number }>(
    'the router',
    { MODELSHIP_MODE: 'router', MODELSHIP_POD_NAME: 'router-test', ...env },
    '"router listening"',
  );
  return {
    url: `http://127.0.0.1:${router.listening.port}`,
    metricsUrl: `http://127.0.0.1:${router.listening.metricsPort}`,
    child: router.child,
    output: router.output,
    stop: router.stop,
  };
}

/** startRouter, then waits until it answers ready (routes in force); stops it if it never does. */
export async function startReadyRouter(env: Record<string, string>): Promise<RouterProcess> {
  const router = await startRouter(env);
  try {
    await waitFor('router ready', async () => (await request(`${router.url}/v2/health/ready`)).status === 200);
  } catch (err) {
    await router.stop();
    throw err;
  }
  return router;
}

/** Writes `doc` (a routes document, or raw text) to a fresh routes.json, as the router's file source reads it. */
export function routesFileWith(doc: Record<string, unknown> | string): string {
  const file = path.join(tempDir(), 'routes.json');
  writeAtomically(file, typeof doc === 'string' ? doc : JSON.stringify(doc));
  return file;
}

/** A response as the tests see it. */
export interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  json<T = Record<string, unknown>>(): T;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

/** One HTTP request over a shared keep-alive pool. */
export function request(
  url: string,
  opts: { method?: string; headers?: http.OutgoingHttpHeaders; body?: Buffer | string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: opts.method ?? (opts.body !== undefined ? 'POST' : 'GET'), headers: opts.headers, agent },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body.toString()) });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** Sends `count` requests with at most `concurrency` in flight; returns them in completion order. */
export async function load(count: number, concurrency: number, send: (i: number) => Promise<Reply>): Promise<Reply[]> {
  const replies: Reply[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) replies.push(await send(next++));
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return replies;
}

/** Counts replies by the x-modelship-revision header. */
export function byRevision(replies: Reply[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of replies) {
    const rev = String(r.headers['x-modelship-revision']);
    counts[rev] = (counts[rev] ?? 0) + 1;
  }
  return counts;
}

/** The sum of the samples of metric `name` matching `labels` in a router's /metrics (0 when absent). */
export async function routerMetric(
  router: RouterProcess,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const text = (await request(`${router.metricsUrl}/metrics`)).body.toString();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) total += Number(line.split(' ').pop());
  }
  return total;
}

/** Closes the shared client pool (afterAll). */
export function closeClient(): void {
  agent.destroy();
}

/** A running model server (the image in server mode) on a fixture model. */
export interface ModelServer {
  url: string;
  stop(): Promise<number | null>;
}

/**
 * Starts a real model server on `file` (a path under test/fixtures/models, or absolute), verified by
 * its sha256; `env` adds settings (auth...).
 */
export async function startModelServer(file: string, env: Record<string, string> = {}): Promise<ModelServer> {
  const model = path.resolve('test/fixtures/models', file);
  const server = await spawnImage<{ port: number }>(
    `model server for ${file}`,
    {
      MODELSHIP_MODEL_URI: model,
      MODELSHIP_SHA256: sha256Of(model),
      MODELSHIP_WORKERS: '1',
      MODELSHIP_TERMINATION_LOG: path.join(tempDir(), 'termination-log'),
      ...env,
    },
    '"msg":"listening"',
  );
  const url = `http://127.0.0.1:${server.listening.port}`;
  await waitFor(
    `model server for ${file} to be ready`,
    async () => (await request(`${url}/v2/health/ready`)).status === 200,
    60_000,
    100,
  );
  return { url, stop: server.stop };
}
