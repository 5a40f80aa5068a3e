/**
 * Graceful HTTP shutdown without failed requests. `server.close()` alone destroys idle keep-alive
 * connections at once, and a client that is just reusing one (its next request already on the wire)
 * gets a reset. Instead, in this order: stop accepting (while clients still reuse their keep-alive
 * connections, so no new connection sits in the kernel's accept queue, which closing the listener
 * would reset); then answer every further request with `Connection: close` so busy connections end
 * after their response and their clients reconnect elsewhere (here: refused, cleanly); destroy only
 * connections that have stayed idle for a grace period.
 */
import type http from 'node:http';
import net from 'node:net';

interface ConnectionState {
  busy: number;
  lastActive: number;
}

/** Drains one HTTP server. */
export interface Drainer {
  /**
   * Stop accepting connections and resolve once every connection has closed. Connections idle
   * for `idleGraceMs` are destroyed; in-flight requests always finish.
   */
  drain(idleGraceMs: number): Promise<void>;
}

/** Start tracking `server`'s connections; call before it accepts any. */
export function trackConnections(server: http.Server): Drainer {
  const connections = new Map<net.Socket, ConnectionState>();
  let closing = false;
  server.on('connection', (socket: net.Socket) => {
    connections.set(socket, { busy: 0, lastActive: Date.now() });
    socket.once('close', () => connections.delete(socket));
  });
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const state = connections.get(req.socket);
    if (!state) return;
    state.busy++;
    if (closing) res.setHeader('Connection', 'close');
    res.once('close', () => {
      state.busy--;
      state.lastActive = Date.now();
    });
  });

  return {
    drain(idleGraceMs) {
      return new Promise<void>((resolve) => {
        const timer = setInterval(() => {
          const now = Date.now();
          for (const [socket, state] of connections) {
            if (state.busy === 0 && now - state.lastActive >= idleGraceMs) socket.destroy();
          }
        }, Math.max(10, Math.min(100, idleGraceMs)));
        // net.Server's close stops listening and waits for connections, without http.Server's
        // immediate closeIdleConnections (the reset race described above).
        net.Server.prototype.close.call(server, () => {
          clearInterval(timer);
          resolve();
        });
        closing = true;
      });
    },
  };
}
