/**
 * A tiny kube-proxy for loopback: one TCP listener per Service on 127.0.0.1, forwarding each
 * connection to the next ready local process behind it (round robin). With no ready process it
 * answers an HTTP 503 with a JSON error instead of dropping the connection silently.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

import { nextBackend } from './podspec.js';

/** A ready backend: pod key and the local port of its HTTP API. */
export interface Backend {
  key: string;
  port: number;
}

interface Listener {
  server: Server;
  port: number;
  last?: string;
  sockets: Set<Socket>;
}

/** The proxy's listeners, keyed by Service `namespace/name`. */
export class ServiceProxy {
  private readonly listeners = new Map<string, Listener>();

  /** backendsOf returns the ready backends of a Service, sorted by key. */
  constructor(private readonly backendsOf: (service: string) => Backend[]) {}

  /** Opens a listener for the Service unless it has one; resolves to its local URL. */
  async open(service: string): Promise<string> {
    const existing = this.listeners.get(service);
    if (existing) return `http://127.0.0.1:${existing.port}`;
    const sockets = new Set<Socket>();
    const server = createServer((client) => this.forward(service, client));
    server.on('connection', (s) => (sockets.add(s), s.on('close', () => sockets.delete(s))));
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', (err) => reject(new Error(`listen for Service ${service}: ${err.message}`)));
      server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port));
    });
    this.listeners.set(service, { server, port, sockets });
    return `http://127.0.0.1:${port}`;
  }

  /** Closes the Service's listener and its open connections. */
  async close(service: string): Promise<void> {
    const l = this.listeners.get(service);
    if (!l) return;
    this.listeners.delete(service);
    for (const s of l.sockets) s.destroy();
    await new Promise((resolve) => l.server.close(resolve));
  }

  /** Services with a listener. */
  services(): string[] {
    return [...this.listeners.keys()];
  }

  /** Closes every listener. */
  async closeAll(): Promise<void> {
    await Promise.all(this.services().map((s) => this.close(s)));
  }

  private forward(service: string, client: Socket): void {
    const listener = this.listeners.get(service);
    const backends = this.backendsOf(service);
    const pick = nextBackend(
      backends.map((b) => b.key),
      listener?.last,
    );
    const backend = backends.find((b) => b.key === pick);
    if (!listener || !backend) {
      const body = JSON.stringify({ error: `no ready pod behind Service ${service}` });
      client.end(`HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
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
