/**
 * The data path: one request in, one backend request out over the backend's undici Pool, bodies
 * passed through byte for byte. Request bodies up to BUFFER_LIMIT are read whole and sent with
 * their headers in one write; larger or unsized ones are streamed. Only when a request is mirrored
 * are the served response and (if streamed) the request body also kept in memory (bounded by
 * mirrorMaxBytes) to send the copy and compare the answers; the caller's response is never held
 * back for the mirror. A live request whose backend connection could not be opened is sent again
 * while its connect-retry budget lasts (retry.ts decides); mirrored copies are not.
 */
import type http from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { Logger } from '../../../common/log.js';
import { compareResponses } from './agreement.js';
import { MIRROR_HEADER, downstreamResponseHeaders, rawHeaderValue, upstreamRequestHeaders } from './headers.js';
import type { RouterMetrics } from './metrics.js';
import { DEFAULT_CONNECT_RETRY_BUDGET_MS } from './config.js';
import { connectRetryPolicy, decideConnectRetry, type ConnectRetryPolicy } from './retry.js';
import type { Outcome } from '../../../contract/stats.js';
import type { RouterStats } from './stats.js';
import type { RouteTable, Target } from './table.js';

/**
 * Request bodies up to this size are buffered and sent in one write with their headers (cheaper
 * than streaming, and inference requests are mostly this small); larger ones are streamed so the
 * router's memory stays bounded whatever callers send.
 */
export const BUFFER_LIMIT = 1024 * 1024;

/** What the proxy needs. */
export interface ProxyOptions {
  table: RouteTable;
  stats: RouterStats;
  metrics: RouterMetrics;
  log: Logger;
  timeoutMs: number;
  mirrorTimeoutMs: number;
  mirrorMaxBytes: number;
  maxMirrorsInFlight: number;
  /**
   * How long a live request whose connection could not be opened is retried, from its first
   * dispatch (default {@link DEFAULT_CONNECT_RETRY_BUDGET_MS}; never past `timeoutMs`).
   */
  connectRetryBudgetMs?: number;
}

/** A captured response, for agreement. */
interface Captured {
  status: number;
  body: Buffer;
  inferenceHeaderLength?: number;
}

/** The proxy's request handler and its in-flight count (for draining on shutdown). */
export interface Proxy {
  handle(req: http.IncomingMessage, res: http.ServerResponse): void;
  inFlight(): number;
  /** From now on, ask callers to close their connections after each response. */
  startDraining(): void;
}

/** Sends a JSON error unless the response has started, in which case the connection is cut. */
export function sendError(res: http.ServerResponse, status: number, error: string, revision?: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ error });
  const headers: http.OutgoingHttpHeaders = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  };
  if (revision) headers['x-modelship-revision'] = revision;
  res.writeHead(status, headers).end(body);
}

function headerLength(headers: Record<string, string | string[] | undefined>): number | undefined {
  const v = headers['inference-header-content-length'];
  if (v === undefined) return undefined;
  const n = Number(Array.isArray(v) ? v[0] : v);
  return Number.isInteger(n) ? n : undefined;
}

/** Collects chunks up to a limit; `body()` is undefined if the limit was passed. */
class Capture {
  private chunks: Buffer[] = [];
  private size = 0;
  overflow = false;

  constructor(private readonly limit: number) {}

  add(chunk: Buffer): void {
    if (this.overflow) return;
    this.size += chunk.length;
    if (this.size > this.limit) {
      this.overflow = true;
      this.chunks = [];
      return;
    }
    this.chunks.push(chunk);
  }

  body(): Buffer | undefined {
    if (this.overflow) return undefined;
    return this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.size);
  }
}

/** Shared by every exchange of one proxy. */
interface ProxyContext extends ProxyOptions {
  retryPolicy: ConnectRetryPolicy;
  record(revision: string, kind: 'live' | 'mirror', outcome: Outcome, startedAt: number): void;
  released(): void;
}

/**
 * One caller's request and its backend request: an undici dispatch handler that relays the
 * backend's response to the caller as it arrives. A connect failure is dispatched again (same
 * handler, same revision) while retry.ts allows; the timeout and the latency run from the first
 * dispatch. Its outcome is recorded exactly once, however many attempts it took; the in-flight
 * count is released when the caller's response closes (sent or cut), so draining waits until the
 * caller really has the bytes.
 */
class LiveExchange implements Dispatcher.DispatchHandler {
  private controller?: Dispatcher.DispatchController;
  private timer?: NodeJS.Timeout;
  private retryTimer?: NodeJS.Timeout;
  private done = false;
  private status = 0;
  private startedAt = 0;
  private request?: Dispatcher.DispatchOptions;
  /** Whether the body can be sent again: none or buffered (a streamed one is consumed by the first attempt). */
  private replayable = false;
  private attempts = 0;
  /** Whether undici began writing the current attempt (after which it may have reached the backend). */
  private started = false;
  /** Set when the route mirrors this request: receives the served response once complete. */
  servedCapture?: { capture: Capture; resolve: (c: Captured | undefined) => void; headerLength?: number };

  constructor(
    private readonly ctx: ProxyContext,
    private readonly target: Target,
    private readonly res: http.ServerResponse,
  ) {
    res.on('close', () => {
      if (!this.done) {
        // The caller went away before the response was complete: stop the backend request too.
        this.controller?.abort(new Error('caller closed the connection'));
        this.settle(undefined);
      }
      ctx.released();
    });
  }

  /** Sends the backend request. */
  dispatch(method: string, path: string, headers: string[], body: Buffer | Readable | null): void {
    if (this.done) return;
    this.startedAt = performance.now();
    this.timer = setTimeout(this.onTimeout, this.ctx.timeoutMs);
    this.request = { method: method as Dispatcher.HttpMethod, path, headers, body };
    this.replayable = body === null || Buffer.isBuffer(body);
    this.attempt();
  }

  /** One attempt; the retry budget is below the pool's retirement delay, so its pool is still open. */
  private readonly attempt = (): void => {
    if (this.done || !this.request) return;
    this.attempts++;
    this.started = false;
    this.controller = undefined;
    this.target.pool.dispatch(this.request, this);
  };

  private readonly onTimeout = (): void => {
    if (this.done) return;
    sendError(
      this.res,
      504,
      `revision ${this.target.revision} did not answer within ${this.ctx.timeoutMs} ms`,
      this.target.revision,
    );
    this.settle('timeout');
    this.controller?.abort(new Error('timed out'));
  };

  private settle(outcome: Outcome | undefined): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.timer);
    clearTimeout(this.retryTimer);
    if (outcome !== undefined) this.ctx.record(this.target.revision, 'live', outcome, this.startedAt);
    this.servedCapture?.resolve(undefined);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    this.started = true;
    // Timed out or abandoned while waiting for a pooled connection: never send it.
    if (this.done) controller.abort(new Error('request abandoned'));
  }

  onResponseStart(
    _c: Dispatcher.DispatchController,
    status: number,
    headers: Record<string, string | string[] | undefined>,
    statusMessage?: string,
  ): void {
    clearTimeout(this.timer);
    if (this.done) return;
    this.status = status;
    if (this.servedCapture) this.servedCapture.headerLength = headerLength(headers);
    this.res.writeHead(status, statusMessage || undefined, downstreamResponseHeaders(headers, this.target.revision));
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.done) return;
    this.servedCapture?.capture.add(chunk);
    if (!this.res.write(chunk)) {
      controller.pause();
      this.res.once('drain', () => controller.resume());
    }
  }

  onResponseEnd(): void {
    if (this.done) return;
    this.res.end();
    const captured = this.servedCapture;
    if (captured) {
      const body = captured.capture.body();
      captured.resolve(body ? { status: this.status, body, inferenceHeaderLength: captured.headerLength } : undefined);
    }
    this.settle(this.status);
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    if (this.done) return;
    if (this.res.headersSent) {
      // The backend broke off mid-response: the status line is already out, so cut the caller.
      this.res.destroy();
      this.settle('unreachable');
      return;
    }
    const elapsedMs = performance.now() - this.startedAt;
    const decision = decideConnectRetry(
      {
        code: (err as { code?: unknown }).code,
        started: this.started,
        replayable: this.replayable,
        attempts: this.attempts,
        elapsedMs,
      },
      this.ctx.retryPolicy,
    );
    if (decision.retry) {
      this.ctx.metrics.connectRetries.inc({ revision: this.target.revision });
      this.retryTimer = setTimeout(this.attempt, decision.delayMs);
      return;
    }
    const tried = decision.connectFailure
      ? ` (${this.attempts} connect attempt${this.attempts === 1 ? '' : 's'} over ${Math.round(elapsedMs)} ms)`
      : '';
    sendError(
      this.res,
      502,
      `revision ${this.target.revision} (${this.target.url.host}) unreachable: ${err.message}${tried}`,
      this.target.revision,
    );
    this.settle('unreachable');
  }
}

/** A mirrored copy: collects the mirror target's response for comparison and records its outcome. */
class MirrorExchange implements Dispatcher.DispatchHandler {
  private controller?: Dispatcher.DispatchController;
  private readonly timer: NodeJS.Timeout;
  private readonly startedAt = performance.now();
  private settled = false;
  private status = 0;
  private headerLength?: number;
  private capture?: Capture;

  constructor(
    private readonly ctx: ProxyContext,
    private readonly target: Target,
    private readonly resolve: (c: Captured | undefined) => void,
    private readonly onSettled: () => void,
  ) {
    this.timer = setTimeout(() => {
      this.finish('timeout');
      this.controller?.abort(new Error('mirror timed out'));
    }, ctx.mirrorTimeoutMs);
  }

  private finish(outcome: Outcome, captured?: Captured): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.onSettled();
    this.ctx.record(this.target.revision, 'mirror', outcome, this.startedAt);
    this.resolve(captured);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.settled) controller.abort(new Error('mirror abandoned'));
  }

  onResponseStart(
    _c: Dispatcher.DispatchController,
    status: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    this.status = status;
    this.headerLength = headerLength(headers);
    this.capture = new Capture(this.ctx.mirrorMaxBytes);
  }

  onResponseData(_c: Dispatcher.DispatchController, chunk: Buffer): void {
    this.capture?.add(chunk);
  }

  onResponseEnd(): void {
    const body = this.capture?.body();
    this.finish(
      this.status,
      body ? { status: this.status, body, inferenceHeaderLength: this.headerLength } : undefined,
    );
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    if (!this.settled)
      this.ctx.log.debug('mirror request failed', { revision: this.target.revision, error: err.message });
    this.finish('unreachable');
  }
}

function parseLength(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** Builds the proxy. */
export function createProxy(opts: ProxyOptions): Proxy {
  const { table, stats, metrics } = opts;
  let inFlight = 0;
  let mirrorsInFlight = 0;
  let draining = false;

  const ctx: ProxyContext = {
    ...opts,
    retryPolicy: connectRetryPolicy(opts.connectRetryBudgetMs ?? DEFAULT_CONNECT_RETRY_BUDGET_MS, opts.timeoutMs),
    record: (revision, kind, outcome, startedAt) => {
      stats.record(revision, kind, outcome, performance.now() - startedAt);
    },
    released: () => {
      inFlight--;
    },
  };
  metrics.countInFlight(() => inFlight);

  /** Sends the copy; resolves with its response when it is comparable, else undefined. */
  const mirror = (
    target: Target,
    req: http.IncomingMessage,
    path: string,
    body: Buffer,
  ): Promise<Captured | undefined> =>
    new Promise((resolve) => {
      mirrorsInFlight++;
      const handler = new MirrorExchange(ctx, target, resolve, () => mirrorsInFlight--);
      // The caller's content-length, if any, is the copy's too (undici sets it for chunked ones).
      const headers = upstreamRequestHeaders(req.rawHeaders, target.url.host, req.socket.remoteAddress, [
        MIRROR_HEADER,
        'true',
      ]);
      target.pool.dispatch(
        { method: req.method as Dispatcher.HttpMethod, path: target.basePath + path, headers, body },
        handler,
      );
    });

  const compare = async (
    candidate: string,
    served: Promise<Captured | undefined>,
    copy: Promise<Captured | undefined>,
    tolerance: number,
  ) => {
    const [a, b] = await Promise.all([served, copy]);
    if (!a || !b || a.status < 200 || a.status >= 300 || b.status < 200 || b.status >= 300) return;
    const c = compareResponses(a, b, tolerance);
    if (!c.comparable) return;
    stats.recordAgreement(candidate, c.agree, c.maxAbsDiff);
  };

  const handle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const raw = req.rawHeaders;
    const routes = table.routes;
    const route = table.resolve(routes?.stickyHeader ? rawHeaderValue(raw, routes.stickyHeader) : undefined);
    if (draining) res.setHeader('connection', 'close');
    if (!route) {
      sendError(res, 503, 'no routes loaded yet: the router has not received a valid routes document');
      return;
    }
    inFlight++;
    const served = route.served;
    const path = req.url ?? '/';
    const declared = parseLength(rawHeaderValue(raw, 'content-length'));
    const hasBody = declared !== undefined ? declared > 0 : rawHeaderValue(raw, 'transfer-encoding') !== undefined;

    let mirrorTarget = route.mirror;
    if (mirrorTarget) {
      if ((declared ?? 0) > opts.mirrorMaxBytes) {
        metrics.mirrorSkipped.inc({ reason: 'too_large' });
        mirrorTarget = undefined;
      } else if (mirrorsInFlight >= opts.maxMirrorsInFlight) {
        metrics.mirrorSkipped.inc({ reason: 'saturated' });
        mirrorTarget = undefined;
      }
    }

    const exchange = new LiveExchange(ctx, served, res);
    const headers = upstreamRequestHeaders(raw, served.url.host, req.socket.remoteAddress);
    const upstreamPath = served.basePath + path;
    let sendMirror: ((body: Buffer | undefined) => void) | undefined;
    if (mirrorTarget) {
      const target = mirrorTarget;
      let resolveServed: (c: Captured | undefined) => void = () => undefined;
      const servedPromise = new Promise<Captured | undefined>((r) => (resolveServed = r));
      exchange.servedCapture = { capture: new Capture(opts.mirrorMaxBytes), resolve: resolveServed };
      sendMirror = (body) => {
        if (!body) {
          metrics.mirrorSkipped.inc({ reason: 'too_large' });
          resolveServed(undefined);
          return;
        }
        void compare(target.revision, servedPromise, mirror(target, req, path, body), route.tolerance);
      };
    }

    if (!hasBody) {
      exchange.dispatch(req.method ?? 'GET', upstreamPath, headers, null);
      sendMirror?.(Buffer.alloc(0));
      return;
    }
    if (declared !== undefined && declared <= BUFFER_LIMIT) {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
        exchange.dispatch(req.method ?? 'POST', upstreamPath, headers, body);
        sendMirror?.(body.length <= opts.mirrorMaxBytes ? body : undefined);
      });
      return;
    }
    if (sendMirror) {
      const capture = new Capture(opts.mirrorMaxBytes);
      const send = sendMirror;
      req.on('data', (c: Buffer) => capture.add(c));
      req.on('end', () => send(capture.body()));
    }
    exchange.dispatch(req.method ?? 'POST', upstreamPath, headers, req);
  };

  return {
    handle,
    inFlight: () => inFlight,
    startDraining: () => {
      draining = true;
    },
  };
}
