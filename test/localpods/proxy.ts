/**
 * A tiny kube-proxy for loopback: per Service a TCP listener on 127.0.0.1 (an ephemeral port, the
 * URL users get) and one on the Service's own loopback address and real port (what cluster DNS
 * names resolve to in local pods), each forwarding a connection to the next ready local process
 * behind the Service (round robin). With no ready process it answers an HTTP 503 with a JSON error
 * instead of dropping the connection silently.
 *
 * kwok marks a pod Ready as soon as it is scheduled, while its local process may still be loading its
 * model; a real cluster would list no such pod in the Service's endpoints, and the Deployment would
 * not count it available. So a connection that finds no ready process while some process behind the
 * Service is starting waits for one (up to {@link STARTING_WAIT_MS}) rather than meeting a 503 that
 * no real cluster would give.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

import { nextBackend } from './podspec.js';

/** A ready backend: pod key and the local port of its HTTP API. */
export interface Backend {
  key: string;
  port: number;
}

/** What serves a Service now: its ready backends, and whether a process behind it is still starting. */
export interface ServiceBackends {
  ready: Backend[];
  starting: boolean;
}

/** How long a connection waits for a starting process behind its Service before its 503. */
export const STARTING_WAIT_MS = 60_000;
/** How often a waiting connection looks for a ready process again. */
const STARTING_RECHECK_MS = 100;

interface Listener {
  server: Server;
  port: number;
  /** The listener on the Service's cluster address, once bound. */
  cluster?: { server: Server; address: string };
  last?: string;
  sockets: Set<Socket>;
}

/** The proxy's listeners, keyed by Service `namespace/name`. */
export class ServiceProxy {
  private readonly listeners = new Map<string, Listener>();

  /** backendsOf returns the ready backends of a Service, sorted by key, and whether one is starting. */
  constructor(private readonly backendsOf: (service: string) => ServiceBackends) {}

  /** Opens a listener for the Service unless it has one; resolves to its local URL. */
  async open(service: string): Promise<string> {
    const existing = this.listeners.get(service);
    if (existing) return `http://127.0.0.1:${existing.port}`;
    const sockets = new Set<Socket>();
    const server = this.serverFor(service, sockets);
    const port = await listen(server, 0, '127.0.0.1').catch((err: Error) => {
      throw new Error(`listen for Service ${service} on 127.0.0.1: ${err.message}`);
    });
    this.listeners.set(service, { server, port, sockets });
    return `http://127.0.0.1:${port}`;
  }

  /**
   * Also serves an open Service on its cluster address: the first of `candidates` where `port` is
   * free. Resolves to the address, or rejects naming the Service, port and every failure (EACCES
   * below port 1024 without root, EADDRINUSE when each candidate is taken).
   */
  async bindClusterAddress(service: string, port: number, candidates: readonly string[]): Promise<string> {
    const l = this.listeners.get(service);
    if (!l) throw new Error(`bind cluster address of Service ${service}: no listener open`);
    if (l.cluster) return l.cluster.address;
    const failures: string[] = [];
    for (const address of candidates) {
      const server = this.serverFor(service, l.sockets);
      try {
        await listen(server, port, address);
      } catch (err) {
        failures.push(`${address}:${port} ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') break;
        continue;
      }
      // Closed while binding: do not leave this listener behind.
      if (this.listeners.get(service) !== l) {
        server.close();
        break;
      }
      l.cluster = { server, address };
      return address;
    }
    throw new Error(`bind cluster address of Service ${service}: ${failures.join(', ') || 'closed'}`);
  }

  private serverFor(service: string, sockets: Set<Socket>): Server {
    const server = createServer((client) => this.forward(service, client, Date.now() + STARTING_WAIT_MS));
    server.on('connection', (s) => (sockets.add(s), s.on('close', () => sockets.delete(s))));
    return server;
  }

  /** Closes the Service's listener and its open connections. */
  async close(service: string): Promise<void> {
    const l = this.listeners.get(service);
    if (!l) return;
    this.listeners.delete(service);
    for (const s of l.sockets) s.destroy();
    await Promise.all(
      [l.server, l.cluster?.server].map((server) => server && new Promise((resolve) => server.close(resolve))),
    );
  }

  /** Services with a listener. */
  services(): string[] {
    return [...this.listeners.keys()];
  }

  /** Closes every listener. */
  async closeAll(): Promise<void> {
    await Promise.all(this.services().map((s) => this.close(s)));
  }

  private forward(service: string, client: Socket, deadline: number): void {
    const listener = this.listeners.get(service);
    const { ready, starting } = this.backendsOf(service);
    const pick = nextBackend(
      ready.map((b) => b.key),
      listener?.last,
    );
    const backend = ready.find((b) => b.key === pick);
    if (listener && !backend && starting && Date.now() < deadline && !client.destroyed) {
      setTimeout(() => this.forward(service, client, deadline), STARTING_RECHECK_MS);
      return;
    }
    if (client.destroyed) return;
    if (!listener || !backend) {
      const body = JSON.stringify({ error: `no ready pod behind Service ${service}` });
      client.end(
        `HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
      return;
    }
    listener.last = backend.key;
    const upstream = createConnection({ host: '127.0.0.1', port: backend.port });
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  }
}

/** Listens on address:port (0: any free port); resolves to the port, rejects with the listen error. */
function listen(server: Server, port: number, address: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => {
      server.off('error', reject);
      resolve((server.address() as { port: number }).port);
    });
  });
}
