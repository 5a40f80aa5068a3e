/**
 * One HTTP/1.1 request on a connection of its own, its response body read into large buffers.
 *
 * Why not node:http or undici: both read the socket 64 KiB at a time and run every read through
 * their parser and stream machinery, which costs ~1.3 ms of CPU per MB (node:http; undici ~0.8):
 * more than hashing and writing the bytes, and on a busy node more than the store takes to send
 * them (curl copies 100 MB in 0.1 s). Here the socket reads straight into 4 MiB shared slabs (net's
 * `onread`), the body is handed on as views of them (which writer.ts takes without a copy), and only
 * the response head is parsed: ~0.25 ms per MB. It speaks just what a download needs: GET and HEAD,
 * `Connection: close`, bodies framed by Content-Length, chunked or the connection's end, interim 1xx
 * answers skipped.
 */
import net from 'node:net';
import { Readable } from 'node:stream';
import tls, { rootCertificates } from 'node:tls';

/** An answer: status, headers (names lower-case, repeated ones joined with ", ") and the body. */
export interface Http1Response {
  statusCode: number;
  statusMessage: string;
  headers: Record<string, string>;
  /** The body (empty for HEAD, 204 and 304); errors if the connection ends before its framing does. */
  body: Readable;
}

/** How to send one request. */
export interface Http1Options {
  method: 'GET' | 'HEAD';
  /** Request headers besides Host, User-Agent and Connection. */
  headers: Record<string, string>;
  /** For https: PEM CA certificates trusted beside Node's roots (the storage CA bundle); blank: none. */
  caPem?: string;
  signal?: AbortSignal;
}

/** A slab the socket reads into; a new one is started when less than MIN_READ is left. */
const SLAB_BYTES = 4 * 1024 * 1024;
const MIN_READ = 256 * 1024;
/** A response head (status line and headers) longer than this is refused. */
export const MAX_HEAD_BYTES = 64 * 1024;

/** A response that is not HTTP/1.x as this client reads it. */
export class Http1ProtocolError extends Error {
  readonly code = 'HPE_INVALID';
}

/** Sends `method url` and resolves with the answer once its head is read; rejects on a connection error. */
export function request(url: URL, options: Http1Options): Promise<Http1Response> {
  const secure = url.protocol === 'https:';
  if (!secure && url.protocol !== 'http:') return Promise.reject(new Error(`not an http(s) URL: ${url.protocol}`));
  for (const [name, value] of Object.entries(options.headers)) {
    if (/[\r\n]/.test(name) || /[\r\n]/.test(value)) {
      return Promise.reject(new Error(`header ${JSON.stringify(name)} holds a line break`));
    }
  }
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const port = Number(url.port || (secure ? 443 : 80));
  const reader = new ResponseReader(options.method === 'HEAD');
  // Shared, so that a worker can read the body where it is (writer.ts hashes it so); a slab is
  // never read into twice, so every view of the body handed on stays as it was.
  const newSlab = (): Buffer => Buffer.from(new SharedArrayBuffer(SLAB_BYTES));
  let slab = newSlab();
  let used = 0;
  const onread = {
    buffer: (): Buffer => {
      if (slab.length - used < MIN_READ) {
        slab = newSlab();
        used = 0;
      }
      return slab.subarray(used);
    },
    callback: (n: number, into: Uint8Array): boolean => {
      const data = (into as Buffer).subarray(0, n);
      used += n;
      return reader.take(data);
    },
  };
  const socket = secure
    ? tls.connect({
        host,
        port,
        ...(net.isIP(host) === 0 ? { servername: host } : {}),
        // `ca` alone would replace the roots: a public store still verifies beside the private CA.
        ...(options.caPem === undefined || options.caPem.trim() === ''
          ? {}
          : { ca: [...rootCertificates, options.caPem] }),
        ALPNProtocols: ['http/1.1'],
        // tls.connect takes net's onread (Node's documentation says so; @types/node leaves it out).
        onread,
      } as tls.ConnectionOptions)
    : net.connect({ host, port, onread });
  reader.attach(socket);
  const lines = [
    `${options.method} ${url.pathname}${url.search} HTTP/1.1`,
    `host: ${url.host}`,
    'user-agent: modelship',
    'connection: close',
    ...Object.entries(options.headers).map(([name, value]) => `${name}: ${value}`),
  ];
  socket.once(secure ? 'secureConnect' : 'connect', () => socket.write(`${lines.join('\r\n')}\r\n\r\n`));
  const signal = options.signal;
  if (signal !== undefined) {
    const abort = (): void => void socket.destroy(signal.reason as Error);
    if (signal.aborted) abort();
    else {
      signal.addEventListener('abort', abort, { once: true });
      socket.once('close', () => signal.removeEventListener('abort', abort));
    }
  }
  return reader.response;
}

/** Where the body's framing stands. */
type BodyState =
  | { kind: 'length'; left: number }
  | { kind: 'close' }
  | { kind: 'chunk-size'; line: string }
  | { kind: 'chunk-data'; left: number }
  | { kind: 'chunk-end'; seen: number }
  | { kind: 'trailers'; line: string }
  | { kind: 'done' };

/** Parses one response from the socket's reads: its head, then its body into a Readable. */
class ResponseReader {
  readonly response: Promise<Http1Response>;
  private resolve!: (response: Http1Response) => void;
  private reject!: (err: Error) => void;
  private socket?: net.Socket;
  private head: Buffer = Buffer.alloc(0);
  private body?: Readable;
  private state?: BodyState;

  constructor(private readonly noBody: boolean) {
    this.response = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  attach(socket: net.Socket): void {
    this.socket = socket;
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => {
      if (this.state?.kind === 'close') this.finish();
      else if (this.state === undefined) this.fail(new Error('the connection closed without an answer'));
      else if (this.state.kind !== 'done') this.fail(new Error('the connection closed before the body ended'));
    });
  }

  /** One read from the socket: false pauses reading until the body is read from. */
  take(data: Buffer): boolean {
    try {
      if (this.state === undefined) {
        const rest = this.readHead(data);
        if (rest === undefined || this.state === undefined) return true;
        data = rest;
      }
      return this.readBody(data);
    } catch (err) {
      this.fail(err as Error);
      return false;
    }
  }

  /** Adds to the head; once it is whole, answers and returns the bytes after it (undefined: not whole yet). */
  private readHead(data: Buffer): Buffer | undefined {
    for (;;) {
      const searchFrom = Math.max(0, this.head.length - 3);
      this.head = this.head.length === 0 ? data : Buffer.concat([this.head, data]);
      const end = this.head.indexOf('\r\n\r\n', searchFrom);
      if (end < 0) {
        if (this.head.length > MAX_HEAD_BYTES)
          throw new Http1ProtocolError(`response head over ${MAX_HEAD_BYTES} bytes`);
        return undefined;
      }
      const text = this.head.subarray(0, end).toString('latin1');
      const rest = this.head.subarray(end + 4);
      this.head = Buffer.alloc(0);
      const [statusLine, ...fields] = text.split('\r\n');
      const status = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(statusLine);
      if (!status)
        throw new Http1ProtocolError(`not an HTTP/1.1 status line: ${JSON.stringify(statusLine.slice(0, 80))}`);
      const statusCode = Number(status[1]);
      // An interim answer (100 Continue, 103 Early Hints): the real one follows.
      if (statusCode >= 100 && statusCode < 200) {
        data = rest;
        if (data.length === 0) return undefined;
        continue;
      }
      const headers: Record<string, string> = {};
      for (const field of fields) {
        const colon = field.indexOf(':');
        if (colon <= 0) throw new Http1ProtocolError(`not a header field: ${JSON.stringify(field.slice(0, 80))}`);
        const name = field.slice(0, colon).trim().toLowerCase();
        const value = field.slice(colon + 1).trim();
        headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
      }
      this.state = this.framing(statusCode, headers);
      const body = new Readable({
        read: () => void this.socket?.resume(),
        // A body its reader gives up on closes the connection.
        destroy: (err, done) => {
          this.state = { kind: 'done' };
          this.socket?.destroy();
          done(err);
        },
      });
      // Its reader learns of an error from the stream (errored, or its own listener); one that comes
      // in the same read as the head, before anyone could listen, must not crash the process.
      body.on('error', () => undefined);
      this.body = body;
      this.resolve({ statusCode, statusMessage: status[2] ?? '', headers, body: this.body });
      if (this.state.kind === 'done') this.finish();
      return rest;
    }
  }

  private framing(statusCode: number, headers: Record<string, string>): BodyState {
    if (this.noBody || statusCode === 204 || statusCode === 304) return { kind: 'done' };
    const coding = headers['transfer-encoding'];
    if (coding !== undefined) {
      if (/(?:^|,)\s*chunked\s*$/i.test(coding)) return { kind: 'chunk-size', line: '' };
      return { kind: 'close' };
    }
    const length = headers['content-length'];
    if (length === undefined) return { kind: 'close' };
    if (!/^\d+$/.test(length)) throw new Http1ProtocolError(`content-length ${JSON.stringify(length)} is not a length`);
    const left = Number(length);
    return left === 0 ? { kind: 'done' } : { kind: 'length', left };
  }

  /** Hands on the body's bytes in `data`; false when the body wants no more for now. */
  private readBody(data: Buffer): boolean {
    const body = this.body as Readable;
    let more = true;
    let at = 0;
    while (at < data.length) {
      const state = this.state as BodyState;
      switch (state.kind) {
        case 'done':
          return false;
        case 'close':
          return body.push(at === 0 ? data : data.subarray(at));
        case 'length':
        case 'chunk-data': {
          const n = Math.min(state.left, data.length - at);
          more = body.push(data.subarray(at, at + n));
          at += n;
          state.left -= n;
          if (state.left === 0) {
            if (state.kind === 'length') this.finish();
            else this.state = { kind: 'chunk-end', seen: 0 };
          }
          break;
        }
        case 'chunk-end': {
          const byte = data[at++];
          if (byte !== (state.seen === 0 ? 0x0d : 0x0a)) throw new Http1ProtocolError('a chunk does not end with CRLF');
          state.seen++;
          if (state.seen === 2) this.state = { kind: 'chunk-size', line: '' };
          break;
        }
        case 'chunk-size':
        case 'trailers': {
          const nl = data.indexOf(0x0a, at);
          const end = nl < 0 ? data.length : nl;
          state.line += data.subarray(at, end).toString('latin1');
          at = nl < 0 ? data.length : nl + 1;
          if (state.line.length > MAX_HEAD_BYTES) throw new Http1ProtocolError('a chunk line or trailer is too long');
          if (nl < 0) break;
          const line = state.line.replace(/\r$/, '');
          if (state.kind === 'trailers') {
            if (line === '') this.finish();
            else state.line = '';
            break;
          }
          const size = /^([0-9a-fA-F]{1,15})\s*(?:;.*)?$/.exec(line);
          if (!size) throw new Http1ProtocolError(`not a chunk size: ${JSON.stringify(line.slice(0, 40))}`);
          const left = parseInt(size[1], 16);
          this.state = left === 0 ? { kind: 'trailers', line: '' } : { kind: 'chunk-data', left };
          break;
        }
      }
    }
    return more;
  }

  /** The body is complete: end it and the connection. */
  private finish(): void {
    if (this.state?.kind === 'done' && this.body?.readableEnded) return;
    this.state = { kind: 'done' };
    this.body?.push(null);
    this.socket?.destroy();
  }

  private fail(err: Error): void {
    if (this.state?.kind === 'done') return;
    this.state = { kind: 'done' };
    this.socket?.destroy();
    if (this.body === undefined) this.reject(err);
    else this.body.destroy(err);
  }
}
