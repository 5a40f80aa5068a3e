/**
 * Graceful HTTP shutdown without failed requests. `server.close()` alone destroys idle keep-alive
 * connections at once, and a client that is just reusing one (its next request already on the wire)
 * gets a reset. Instead, in this order: stop accepting (while clients still reuse their keep-alive
 * connections, so no new connection sits in the kernel's accept queue, which closing the listener
 * would reset); then answer every further request with `Connection: close` so busy connections end
 * after their response and their clients reconnect elsewhere (here: refused, cleanly); destroy only
 * connections that have stayed idle for a grace period. In a group of processes the primary holds
 * the port and closes it (process/dispatch.ts) before any process drains.
 */
import type http from 'node:http';
import net from 'node:net';

interface ConnectionState {
  busy: number;
  lastActive: number;
  /** socket.bytesRead when it last went idle: more since means a request has started arriving. */
  bytesAtIdle: number;
}

/** Drains one HTTP server. */
export interface Drainer {
  /**
   * Stop accepting, answer every further request with `Connection: close`, destroy connections
   * idle for `idleGraceMs`, and resolve once every connection has closed. In-flight requests
   * always finish.
   */
  drain(idleGraceMs: number): Promise<void>;
}

/** Start tracking `server`'s connections; call before it accepts any. */
export function trackConnections(server: http.Server): Drainer {
  const connections = new Map<net.Socket, ConnectionState>();
  let closing = false;
  let allClosed: (() => void) | undefined;
  server.on('connection', (socket: net.Socket) => {
    connections.set(socket, { busy: 0, lastActive: Date.now(), bytesAtIdle: 0 });
    socket.once('close', () => {
      connections.delete(socket);
      if (connections.size === 0) allClosed?.();
    });
  });
  // Before the app's listener, which may answer at once: headers cannot be set after that.
  server.prependListener('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const state = connections.get(req.socket);
    if (!state) return;
    state.busy++;
    if (closing) res.setHeader('Connection', 'close');
    res.once('close', () => {
      state.busy--;
      state.lastActive = Date.now();
      state.bytesAtIdle = req.socket.bytesRead;
    });
  });

  return {
    drain(idleGraceMs) {
      // net.Server's close stops listening without http.Server's immediate closeIdleConnections
      // (the reset race described above). A server in a group never listens itself (its primary
      // hands it connections), so the end is when the tracked connections are gone.
      if (server.listening) net.Server.prototype.close.call(server);
      closing = true;
      return new Promise<void>((resolve) => {
        const idle = (socket: net.Socket, state: ConnectionState, now: number): boolean =>
          state.busy === 0 && socket.bytesRead === state.bytesAtIdle && now - state.lastActive >= idleGraceMs;
        const timer = setInterval(
          () => {
            const candidates = [...connections].filter(([socket, state]) => idle(socket, state, Date.now()));
            // Timers run before the event loop polls for I/O: look again after the poll phase, so a
            // request whose bytes have already arrived is seen as started and its socket is spared.
            setImmediate(() => {
              for (const [socket, state] of candidates) if (idle(socket, state, Date.now())) socket.destroy();
            });
          },
          Math.max(10, Math.min(100, idleGraceMs)),
        );
        allClosed = () => {
          clearInterval(timer);
          resolve();
        };
        if (connections.size === 0) allClosed();
      });
    },
  };
}
