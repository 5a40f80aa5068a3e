import net from 'node:net';
import { ConnectionDispatcher, type ConnectionTarget } from './dispatch.js';

/** A target that answers each connection it takes with its name, then closes it. */
function answering(id: number, name: string): ConnectionTarget {
  return {
    id,
    send: (socket, done) => {
      socket.end(name);
      done(null);
    },
  };
}

/** Connect to `port` and read until the server closes: its answer, or the error code. */
function answerOf(port: number): Promise<string> {
  return new Promise((resolve) => {
    let text = '';
    const socket = net.connect(port, '127.0.0.1');
    socket.setEncoding('utf8').on('data', (d: string) => (text += d));
    socket.on('end', () => resolve(text));
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
  });
}

describe('ConnectionDispatcher', () => {
  let dispatcher: ConnectionDispatcher;
  let port: number;
  beforeEach(async () => {
    dispatcher = new ConnectionDispatcher();
    port = await dispatcher.listen('127.0.0.1', 0);
  });
  afterEach(() => dispatcher.close());

  it('hands connections to the targets in turn', async () => {
    dispatcher.add(answering(1, 'a'));
    dispatcher.add(answering(2, 'b'));
    const answers: string[] = [];
    for (let i = 0; i < 4; i++) answers.push(await answerOf(port));
    expect(answers).toEqual(['a', 'b', 'a', 'b']);
  });

  it('keeps a connection that arrives before any target takes connections, and hands it over once one does', async () => {
    const answer = answerOf(port);
    await new Promise((r) => setTimeout(r, 50));
    dispatcher.add(answering(1, 'late'));
    expect(await answer).toBe('late');
  });

  it('gives a connection to another target when the first cannot be sent to, and stops choosing the first', async () => {
    dispatcher.add({ id: 1, send: (_socket, done) => done(new Error('channel closed')) });
    dispatcher.add(answering(2, 'b'));
    expect([await answerOf(port), await answerOf(port)]).toEqual(['b', 'b']);
  });

  it('takes no connections for a removed target', async () => {
    dispatcher.add(answering(1, 'a'));
    dispatcher.add(answering(2, 'b'));
    dispatcher.remove(1);
    expect([await answerOf(port), await answerOf(port)]).toEqual(['b', 'b']);
  });

  it('refuses new connections once closed', async () => {
    dispatcher.add(answering(1, 'a'));
    await dispatcher.close();
    expect(await answerOf(port)).toBe('ECONNREFUSED');
  });

  it('closes connections no target could ever take when it closes', async () => {
    const answer = answerOf(port);
    await new Promise((r) => setTimeout(r, 50));
    await dispatcher.close();
    expect(await answer).toBe('');
  });
});
