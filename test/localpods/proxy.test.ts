import { createServer, get, type Server } from 'node:http';

import { ServiceProxy, type ServiceBackends } from './proxy.js';

/** An HTTP backend on loopback answering its own name; resolves to its port. */
async function backend(name: string): Promise<{ server: Server; port: number }> {
  const server = createServer((_req, res) => res.end(name));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port };
}

/** GET on a connection of its own (the proxy picks a backend per connection): status and body. */
function getOnce(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

describe('ServiceProxy', () => {
  let proxy: ServiceProxy;
  let state: ServiceBackends;
  const servers: Server[] = [];

  beforeEach(() => {
    state = { ready: [], starting: false };
    proxy = new ServiceProxy(() => state);
  });
  afterEach(async () => {
    await proxy.closeAll();
    await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
  });

  it('answers 503 with a JSON error at once when no process runs behind the Service', async () => {
    const url = await proxy.open('ns/svc');
    const { status, body } = await getOnce(url);
    expect(status).toBe(503);
    expect(JSON.parse(body)).toEqual({ error: 'no ready pod behind Service ns/svc' });
  });

  it('holds a connection while a process behind the Service starts, then sends it there', async () => {
    const url = await proxy.open('ns/svc');
    const b = await backend('pod-a');
    servers.push(b.server);
    state = { ready: [], starting: true };
    const answer = getOnce(url);
    await new Promise((resolve) => setTimeout(resolve, 300));
    state = { ready: [{ key: 'ns/pod-a', port: b.port }], starting: false };
    expect(await answer).toEqual({ status: 200, body: 'pod-a' });
  });

  it('alternates between ready processes connection by connection', async () => {
    const url = await proxy.open('ns/svc');
    const [a, b] = await Promise.all([backend('pod-a'), backend('pod-b')]);
    servers.push(a.server, b.server);
    state = {
      ready: [
        { key: 'ns/pod-a', port: a.port },
        { key: 'ns/pod-b', port: b.port },
      ],
      starting: false,
    };
    const bodies: string[] = [];
    for (let i = 0; i < 3; i++) bodies.push((await getOnce(url)).body);
    expect(bodies).toEqual(['pod-a', 'pod-b', 'pod-a']);
  });
});
