/**
 * The node:http server around the app: keep-alive and header timeouts suited to sitting behind a
 * proxy, JSON answers to malformed HTTP, and connection tracking for a graceful drain.
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import { trackConnections, type Drainer } from './drain.js';

/**
 * Longer than the idle timeout of any proxy in front of us (the router, ingress controllers use
 * 60 s), so the proxy, never this server, closes an idle connection and no reused socket races a
 * close from our side.
 */
const KEEP_ALIVE_MS = 65_000;

/** A JSON error written straight to the socket, for requests node could not even parse. */
function rawError(socket: Socket, status: number, reason: string, message: string): void {
  const body = JSON.stringify({ error: message });
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** Create (not start) the HTTP server for `handler`, with a drainer for shutdown. */
export function createHttpServer(handler: http.RequestListener): { server: http.Server; drainer: Drainer } {
  const server = http.createServer({ keepAliveTimeout: KEEP_ALIVE_MS, headersTimeout: KEEP_ALIVE_MS + 1000 }, handler);
  server.keepAliveTimeout = KEEP_ALIVE_MS;
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    if (err.code === 'HPE_HEADER_OVERFLOW')
      rawError(socket, 431, 'Request Header Fields Too Large', 'request headers too large');
    else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT')
      rawError(socket, 408, 'Request Timeout', 'request took too long to arrive');
    else rawError(socket, 400, 'Bad Request', `malformed HTTP request: ${err.code ?? err.message}`);
  });
  return { server, drainer: trackConnections(server) };
}

/** Listen on host:port; resolves with the bound port (useful with port 0). */
export function listen(server: http.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : port);
    });
  });
}
