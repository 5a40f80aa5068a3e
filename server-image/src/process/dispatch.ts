/**
 * A group's port, held by its primary: each connection is accepted without reading from it and
 * handed to one serving process in turn, over IPC, where that process's HTTP server takes it.
 *
 * node:cluster shares a port the same way, but its port stays open until the last process has
 * stopped listening, and a connection it accepts meanwhile, when every process is closing, is reset
 * with its request queued (the loss seen under SIGTERM with two processes). Held here, the port
 * closes in one step, first; every connection accepted before that still reaches a process that
 * serves it. It also lets a replacement process take connections only once it can serve.
 */
import net from 'node:net';

/** Event-loop rounds close() waits at most for a poll that accepts no connection. */
const QUIET_ROUNDS = 20;

/** A serving process that takes connections. */
export interface ConnectionTarget {
  readonly id: number;
  /** Hand `socket` over; `done` gets an error if it could not be sent (the socket is still ours). */
  send(socket: net.Socket, done: (err: Error | null) => void): void;
}

/** The primary's listening socket and its hand-off of connections. */
export class ConnectionDispatcher {
  private readonly server = net.createServer({ pauseOnConnect: true }, (socket) => {
    this.accepted++;
    this.dispatch(socket);
  });
  /** Connections accepted so far (close() watches it). */
  private accepted = 0;
  private readonly targets: ConnectionTarget[] = [];
  /** Connections accepted while no process took any (starting up): handed over once one does. */
  private readonly waiting: net.Socket[] = [];
  private turn = 0;

  /** Listen on host:port; resolves with the bound port (useful with port 0). */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host, port }, () => {
        this.server.off('error', reject);
        resolve((this.server.address() as net.AddressInfo).port);
      });
    });
  }

  /** `target` takes connections from now on; any waiting are handed out. */
  add(target: ConnectionTarget): void {
    if (this.targets.some((t) => t.id === target.id)) return;
    this.targets.push(target);
    for (const socket of this.waiting.splice(0)) this.dispatch(socket);
  }

  /** `id` takes no more connections (it is stopping, or gone). */
  remove(id: number): void {
    const at = this.targets.findIndex((t) => t.id === id);
    if (at >= 0) this.targets.splice(at, 1);
  }

  /**
   * Stop accepting: new connections are refused by the kernel from then on. Connections already
   * accepted are handed over as before; those no process could ever take are closed. Resolves once
   * the port is closed.
   */
  async close(): Promise<void> {
    // Closing resets the connections the kernel has queued that nobody has accepted yet (their
    // clients see ECONNRESET, perhaps with their request sent). Just after the event loop's poll
    // phase, which accepts every one pending, that queue is as short as it gets: close there
    // (setImmediate). And when that poll did accept some, the process may have been stalled (GC, a
    // busy node) while connections piled up, and more may be arriving: go round again, and close
    // after a poll that found none (at most QUIET_ROUNDS rounds, clients may never stop connecting).
    for (let round = 0; round < QUIET_ROUNDS; round++) {
      const before = this.accepted;
      await new Promise((resolve) => setImmediate(resolve));
      if (this.accepted === before) break;
    }
    if (this.server.listening) this.server.close();
    if (this.targets.length === 0) for (const socket of this.waiting.splice(0)) socket.destroy();
  }

  private dispatch(socket: net.Socket): void {
    // A client that gives up while its connection waits here must not become an uncaught error.
    if (socket.listenerCount('error') === 0) socket.on('error', () => socket.destroy());
    if (this.targets.length === 0) {
      if (this.server.listening) this.waiting.push(socket);
      else socket.destroy();
      return;
    }
    // Round robin over the processes that take connections now, a set that changes.
    const target = this.targets[this.turn++ % this.targets.length];
    target.send(socket, (err) => {
      if (err === null) return;
      // Its channel is gone (the process is exiting): another process takes the connection.
      this.remove(target.id);
      this.dispatch(socket);
    });
  }
}
