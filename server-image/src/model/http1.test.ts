import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MAX_HEAD_BYTES, request, type Http1Response } from './http1.js';

/** Every byte of a body, read as a slow reader does (so the socket is paused and resumed). */
async function slowly(res: Http1Response): Promise<Buffer> {
  const parts: Buffer[] = [];
  await pipeline(
    res.body,
    new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _encoding, done) {
        parts.push(Buffer.from(chunk));
        setImmediate(done);
      },
    }),
  );
  return Buffer.concat(parts);
}

/** A server that writes `answer` (raw bytes, in the given pieces) to every connection, then ends it (or not). */
async function rawServer(
  pieces: (string | Buffer)[],
  end = true,
): Promise<{ url: URL; close(): Promise<void>; seen: string[] }> {
  const seen: string[] = [];
  const server = net.createServer((socket) => {
    socket.once('data', (d: Buffer) => {
      seen.push(d.toString('latin1'));
      void (async () => {
        for (const piece of pieces) {
          socket.write(piece);
          await new Promise((r) => setTimeout(r, 5));
        }
        if (end) socket.end();
      })();
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/models/m.onnx?v=2`),
    seen,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

describe('http1 request', () => {
  const big = randomBytes(20 * 1024 * 1024 + 333);
  let server: Server;
  let base: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/big') res.writeHead(200, { 'content-length': big.length }).end(big);
      // No length: node:http sends it chunked.
      else if (req.url === '/chunked') {
        res.writeHead(200, { 'x-kind': 'chunked' });
        let at = 0;
        const next = (): void => {
          if (at >= big.length) {
            res.end();
            return;
          }
          const n = 1 + ((at * 7) % 900_000);
          res.write(big.subarray(at, at + n), next);
          at += n;
        };
        next();
      } else if (req.url === '/empty') res.writeHead(204).end();
      else res.writeHead(404, { 'set-cookie': ['a=1', 'b=2'] }).end('not here');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  const get = (path: string, method: 'GET' | 'HEAD' = 'GET') =>
    request(new URL(`${base}${path}`), { method, headers: {} });
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

  test('reads a body framed by its length byte for byte, through a slow reader', async () => {
    const res = await get('/big');
    expect([res.statusCode, res.statusMessage, res.headers['content-length']]).toEqual([200, 'OK', String(big.length)]);
    expect(sha(await slowly(res))).toBe(sha(big));
  });

  test('reads a chunked body byte for byte', async () => {
    const res = await get('/chunked');
    expect(res.headers['transfer-encoding']).toBe('chunked');
    expect(sha(await slowly(res))).toBe(sha(big));
  });

  test('gives the status, its text and repeated headers joined; HEAD and 204 have no body', async () => {
    const missing = await get('/nothing');
    expect([missing.statusCode, missing.statusMessage, missing.headers['set-cookie']]).toEqual([
      404,
      'Not Found',
      'a=1, b=2',
    ]);
    expect((await slowly(missing)).toString()).toBe('not here');
    const head = await get('/big', 'HEAD');
    expect(head.headers['content-length']).toBe(String(big.length));
    expect((await slowly(head)).length).toBe(0);
    expect((await slowly(await get('/empty'))).length).toBe(0);
  });

  test('sends the method, path and query, its headers and Connection: close', async () => {
    const raw = await rawServer(['HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok']);
    const res = await request(raw.url, { method: 'GET', headers: { authorization: 'Basic eDp5' } });
    expect((await slowly(res)).toString()).toBe('ok');
    expect(raw.seen[0].split('\r\n')).toEqual([
      'GET /models/m.onnx?v=2 HTTP/1.1',
      `host: ${raw.url.host}`,
      'user-agent: modelship',
      'connection: close',
      'authorization: Basic eDp5',
      '',
      '',
    ]);
    await raw.close();
  });

  test('skips interim answers, reads a head split across reads, and a body that ends with the connection', async () => {
    const raw = await rawServer([
      'HTTP/1.1 103 Early Hints\r\nlink: </x>\r\n\r\nHTTP/1.0 2',
      '00 OK\r\nx-a: 1\r',
      '\n\r\nfirst ',
      'second',
    ]);
    const res = await request(raw.url, { method: 'GET', headers: {} });
    expect([res.statusCode, res.headers['x-a']]).toEqual([200, '1']);
    expect((await slowly(res)).toString()).toBe('first second');
    await raw.close();
  });

  test('decodes chunk extensions and trailers', async () => {
    const raw = await rawServer([
      'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n',
      '5;name=v\r\nhello\r\n',
      '1',
      '\r\n \r\n0\r\nx-checksum: 1\r\n\r\n',
    ]);
    const res = await request(raw.url, { method: 'GET', headers: {} });
    expect((await slowly(res)).toString()).toBe('hello ');
    await raw.close();
  });

  test.each([
    [
      'a connection that ends before the length',
      ['HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n12345'],
      /closed before the body ended/,
    ],
    [
      'a connection that ends inside a chunk',
      ['HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\na\r\n123'],
      /closed before the body ended/,
    ],
    ['a bad chunk size', ['HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n'], /not a chunk size/],
  ])('fails the body on %s', async (_what, pieces, message) => {
    const raw = await rawServer(pieces);
    const res = await request(raw.url, { method: 'GET', headers: {} });
    await expect(slowly(res)).rejects.toThrow(message);
    await raw.close();
  });

  test.each([
    ['a connection that ends before the head', [] as string[], /closed without an answer/],
    ['an answer that is not HTTP/1.x', ['SSH-2.0-OpenSSH_9.2\r\n\r\n'], /not an HTTP\/1.1 status line/],
    ['a head without end', [`HTTP/1.1 200 OK\r\nx: ${'a'.repeat(MAX_HEAD_BYTES)}`], /response head over/],
  ])('rejects %s', async (_what, pieces, message) => {
    const raw = await rawServer(pieces);
    await expect(request(raw.url, { method: 'GET', headers: {} })).rejects.toThrow(message);
    await raw.close();
  });

  test('rejects a refused connection with its code, and a header with a line break before sending', async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    await expect(request(new URL(`http://127.0.0.1:${port}/`), { method: 'GET', headers: {} })).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    });
    await expect(request(new URL(base), { method: 'GET', headers: { x: 'a\r\nevil: 1' } })).rejects.toThrow(
      /line break/,
    );
  });

  test('gives up when its signal aborts, mid-body', async () => {
    const raw = await rawServer(['HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nabc'], false);
    const abort = new AbortController();
    const res = await request(raw.url, { method: 'GET', headers: {}, signal: abort.signal });
    setTimeout(() => abort.abort(new Error('deadline')), 20);
    await expect(slowly(res)).rejects.toThrow('deadline');
    await raw.close();
  });
});
