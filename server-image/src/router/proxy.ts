/**
 * The data path: one request in, one backend request out, bodies streamed through untouched. Only
 * when a request is mirrored are the request body and the served response also kept in memory
 * (bounded by mirrorMaxBytes) to send the copy and compare the answers; the caller's response is
 * never held back for the mirror.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../log.js';
import { compareResponses } from './agreement.js';
import { MIRROR_HEADER, downstreamResponseHeaders, headerValue, upstreamRequestHeaders } from './headers.js';
import type { RouterMetrics } from './metrics.js';
import type { Outcome, RouterStats } from './stats.js';
import type { RouteTable, Target } from './table.js';

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
  const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
  if (revision) headers['x-modelship-revision'] = revision;
  res.writeHead(status, headers).end(body);
}

function targetPath(target: Target, reqUrl: string | undefined): string {
  const base = target.url.pathname === '/' ? '' : target.url.pathname;
  return base + (reqUrl ?? '/');
}

function headerLength(headers: http.IncomingHttpHeaders): number | undefined {
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
    return this.overflow ? undefined : Buffer.concat(this.chunks, this.size);
  }
}

/** Builds the proxy. */
export function createProxy(opts: ProxyOptions): Proxy {
  const { table, stats, metrics, log } = opts;
  let inFlight = 0;
  let mirrorsInFlight = 0;
  let draining = false;

  const record = (revision: string, kind: 'live' | 'mirror', outcome: Outcome, startedAt: number): void => {
    const ms = performance.now() - startedAt;
    stats.record(revision, kind, outcome, ms);
    metrics.record(revision, kind, outcome, ms);
  };

  /** Sends the copy; resolves with its response when it is comparable, else undefined. */
  const mirror = (target: Target, req: http.IncomingMessage, body: Buffer): Promise<Captured | undefined> =>
    new Promise((resolve) => {
      mirrorsInFlight++;
      const startedAt = performance.now();
      const headers = upstreamRequestHeaders(req.headers, target.url.host, req.socket.remoteAddress);
      headers['content-length'] = body.length;
      headers[MIRROR_HEADER] = 'true';
      let settled = false;
      const finish = (outcome: Outcome, captured?: Captured): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        mirrorsInFlight--;
        record(target.revision, 'mirror', outcome, startedAt);
        resolve(captured);
      };
      const upstream = http.request({
        host: target.url.hostname,
        port: target.url.port || 80,
        method: req.method,
        path: targetPath(target, req.url),
        headers,
        agent: target.agent,
      });
      const timer = setTimeout(() => {
        finish('timeout');
        upstream.destroy();
      }, opts.mirrorTimeoutMs);
      upstream.on('error', (err) => {
        if (!settled) log.debug('mirror request failed', { revision: target.revision, error: err.message });
        finish('unreachable');
      });
      upstream.on('response', (ures) => {
        const capture = new Capture(opts.mirrorMaxBytes);
        ures.on('data', (c: Buffer) => capture.add(c));
        ures.on('end', () => {
          const status = ures.statusCode ?? 502;
          const b = capture.body();
          finish(status, b ? { status, body: b, inferenceHeaderLength: headerLength(ures.headers) } : undefined);
        });
        ures.on('error', () => finish('unreachable'));
      });
      upstream.end(body);
    });

  const compare = async (candidate: string, served: Promise<Captured | undefined>, copy: Promise<Captured | undefined>, tolerance: number) => {
    const [a, b] = await Promise.all([served, copy]);
    if (!a || !b || a.status < 200 || a.status >= 300 || b.status < 200 || b.status >= 300) return;
    const c = compareResponses(a, b, tolerance);
    if (!c.comparable) return;
    stats.recordAgreement(candidate, c.agree, c.maxAbsDiff);
    metrics.recordAgreement(candidate, c.agree, c.maxAbsDiff);
  };

  const handle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const routes = table.routes;
    const route = table.resolve(routes?.stickyHeader ? headerValue(req.headers, routes.stickyHeader) : undefined);
    if (draining) res.setHeader('connection', 'close');
    if (!route) {
      sendError(res, 503, 'no routes loaded yet: the router has not received a valid routes document');
      return;
    }
    inFlight++;
    metrics.inFlight.inc();
    const startedAt = performance.now();
    const served = route.served;

    let mirrorTarget = route.mirror;
    if (mirrorTarget) {
      const declared = Number(req.headers['content-length'] ?? 0);
      if (declared > opts.mirrorMaxBytes) {
        metrics.mirrorSkipped.inc({ reason: 'too_large' });
        mirrorTarget = undefined;
      } else if (mirrorsInFlight >= opts.maxMirrorsInFlight) {
        metrics.mirrorSkipped.inc({ reason: 'saturated' });
        mirrorTarget = undefined;
      }
    }
    const requestCapture = mirrorTarget ? new Capture(opts.mirrorMaxBytes) : undefined;
    let resolveServed: ((c: Captured | undefined) => void) | undefined;
    const servedCapture = mirrorTarget ? new Promise<Captured | undefined>((r) => (resolveServed = r)) : undefined;

    let done = false;
    let timedOut = false;
    let upstreamRes: http.IncomingMessage | undefined;
    const finish = (outcome: Outcome | undefined): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      inFlight--;
      metrics.inFlight.dec();
      if (outcome !== undefined) record(served.revision, 'live', outcome, startedAt);
      resolveServed?.(undefined);
    };

    const upstream = http.request({
      host: served.url.hostname,
      port: served.url.port || 80,
      method: req.method,
      path: targetPath(served, req.url),
      headers: upstreamRequestHeaders(req.headers, served.url.host, req.socket.remoteAddress),
      agent: served.agent,
    });
    const timer = setTimeout(() => {
      timedOut = true;
      upstream.destroy();
    }, opts.timeoutMs);

    upstream.on('error', (err) => {
      if (done) return;
      if (upstreamRes) {
        // The backend broke off mid-response: the status line is already out, so cut the caller.
        res.destroy();
        finish('unreachable');
        return;
      }
      if (timedOut) {
        sendError(res, 504, `revision ${served.revision} did not answer within ${opts.timeoutMs} ms`, served.revision);
        finish('timeout');
      } else {
        sendError(res, 502, `revision ${served.revision} (${served.url.host}) unreachable: ${err.message}`, served.revision);
        finish('unreachable');
      }
    });

    upstream.on('response', (ures) => {
      upstreamRes = ures;
      clearTimeout(timer);
      const status = ures.statusCode ?? 502;
      res.writeHead(status, ures.statusMessage, downstreamResponseHeaders(ures.headers, served.revision));
      if (resolveServed) {
        const capture = new Capture(opts.mirrorMaxBytes);
        const resolveCaptured = resolveServed;
        ures.on('data', (c: Buffer) => capture.add(c));
        ures.on('end', () => {
          const b = capture.body();
          resolveCaptured(b ? { status, body: b, inferenceHeaderLength: headerLength(ures.headers) } : undefined);
        });
      }
      ures.on('error', () => {
        res.destroy();
        finish('unreachable');
      });
      ures.pipe(res);
      res.on('finish', () => finish(status));
    });

    res.on('close', () => {
      if (done) return;
      // The caller went away before the response was complete: stop the backend request too.
      upstream.destroy();
      upstreamRes?.destroy();
      finish(undefined);
    });
    req.on('error', () => upstream.destroy());

    if (requestCapture && mirrorTarget) {
      const target = mirrorTarget;
      req.on('data', (c: Buffer) => requestCapture.add(c));
      req.on('end', () => {
        const body = requestCapture.body();
        if (!body) {
          metrics.mirrorSkipped.inc({ reason: 'too_large' });
          resolveServed?.(undefined);
          return;
        }
        void compare(target.revision, servedCapture as Promise<Captured | undefined>, mirror(target, req, body), route.tolerance);
      });
    }
    req.pipe(upstream);
  };

  return {
    handle,
    inFlight: () => inFlight,
    startDraining: () => {
      draining = true;
    },
  };
}
