import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { httpSource } from './http.js';

describe('httpSource.probe', () => {
  let server: Server;
  let base: string;
  let seen: string[];
  beforeAll(async () => {
    server = createServer((req, res) => {
      seen.push(`${req.method ?? ''} ${req.url ?? ''} ${req.headers.range ?? ''}`.trim());
      if (req.url === '/no-head' && req.method === 'HEAD') res.writeHead(405).end();
      else if (req.url === '/no-head') res.writeHead(206, { 'content-range': 'bytes 0-0/10' }).end('x');
      else if (req.url === '/gone') res.writeHead(404).end();
      else if (req.url === '/moved') res.writeHead(301, { location: '/model.onnx' }).end();
      else res.writeHead(200, { 'content-length': '10' }).end(req.method === 'HEAD' ? undefined : '0123456789');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));
  beforeEach(() => {
    seen = [];
  });
  const request = (route: string) => ({
    uri: `${base}${route}`,
    settings: { credentials: {} },
    signal: new AbortController().signal,
  });

  test('reads only the headers', async () => {
    await httpSource.probe(request('/model.onnx'));
    expect(seen).toEqual(['HEAD /model.onnx']);
  });

  test('follows redirects', async () => {
    await httpSource.probe(request('/moved'));
    expect(seen).toEqual(['HEAD /moved', 'HEAD /model.onnx']);
  });

  test('asks for the first byte where HEAD is refused', async () => {
    await httpSource.probe(request('/no-head'));
    expect(seen).toEqual(['HEAD /no-head', 'GET /no-head bytes=0-0']);
  });

  test('reports a missing object as ModelNotFound', async () => {
    await expect(httpSource.probe(request('/gone'))).rejects.toMatchObject({
      reason: 'ModelNotFound',
      message: expect.stringMatching(/^probe model http:\/\/127\.0\.0\.1:\d+\/gone: HTTP 404 Not Found$/),
    });
  });
});
