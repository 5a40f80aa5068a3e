/**
 * Test harness of the node cache: a real model origin (node:http on 127.0.0.1 that requires Basic
 * auth and counts the requests it answers), and the agent as a real process of the compiled image
 * (MODELSHIP_MODE=cache) on free loopback ports.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { FIXTURES, startServer, type ServerProcess } from '../helpers/server.js';

/** A model origin and what reached it. */
export interface Origin {
  url: string;
  /** The URI of `name` with these credentials in it (as a ModelDeployment names an http model). */
  uri(name: string, user?: string, password?: string): string;
  /** Requests answered, by method and path: `GET /mlp.onnx`. */
  count(method: 'GET' | 'HEAD', name: string): number;
  /** Hold every GET's body until release() (to make requests overlap). */
  hold(): void;
  release(): void;
  close(): Promise<void>;
}

/**
 * Serves `files` (name -> path) to `user`:`password` only (401 without them, 403 with others);
 * HEAD answers the headers alone, as a store's metadata request does.
 */
export async function startOrigin(files: Record<string, string>, user: string, password: string): Promise<Origin> {
  const counts = new Map<string, number>();
  const expected = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  let held: (() => void)[] | undefined;
  const server = http.createServer((req, res) => {
    const name = (req.url ?? '/').slice(1);
    const key = `${req.method} /${name}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    if (req.headers.authorization === undefined) return void res.writeHead(401).end();
    if (req.headers.authorization !== expected) return void res.writeHead(403).end();
    const file = files[name];
    if (file === undefined) return void res.writeHead(404).end();
    const body = readFileSync(file);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
    if (req.method === 'HEAD') return void res.end();
    if (held !== undefined) held.push(() => res.end(body));
    else res.end(body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url,
    uri: (name, u = user, p = password) => `http://${u}:${p}@${url.slice('http://'.length)}/${name}`,
    count: (method, name) => counts.get(`${method} /${name}`) ?? 0,
    hold: () => (held = []),
    release: () => {
      const waiting = held ?? [];
      held = undefined;
      for (const send of waiting) send();
    },
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

/** Starts the node cache agent on `dir` (plus `env`); resolves once it listens. */
export function startAgent(dir: string, env: Record<string, string> = {}): Promise<ServerProcess> {
  // startServer spawns the image's main with loopback ports and waits for its `listening` line; the
  // model variables it sets mean nothing to the agent.
  return startServer({
    model: path.join(FIXTURES, 'tiny.onnx'),
    env: { MODELSHIP_MODE: 'cache', MODELSHIP_CACHE_DIR: dir, ...env },
    ready: false,
  });
}

/** The value of an unlabelled metric (or the sum of one label's series) in a Prometheus text page. */
export async function metric(metricsUrl: string, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`${metricsUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `) || l.startsWith(`${name}${labels}{`));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}
