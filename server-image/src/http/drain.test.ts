import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { trackConnections } from './drain.js';

/** GET / over `agent`; resolves with the Connection header and the body. */
function get(port: number, agent: http.Agent): Promise<{ connection?: string; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ connection: res.headers.connection, body }));
      })
      .on('error', reject);
  });
}

describe('trackConnections', () => {
  it('tells a keep-alive client to close after a request that arrives while draining, even one answered at once', async () => {
    // The handler answers synchronously, before any later 'request' listener could set a header.
    const server = http.createServer((_req, res) => res.end('ok'));
    const drainer = trackConnections(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      expect(await get(port, agent)).toEqual({ connection: 'keep-alive', body: 'ok' });
      const drained = drainer.drain(60_000);
      expect(await get(port, agent)).toEqual({ connection: 'close', body: 'ok' });
      await drained;
      expect(server.listening).toBe(false);
    } finally {
      agent.destroy();
      server.close();
    }
  });
});
