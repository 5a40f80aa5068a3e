/**
 * The server's request entry point: every request is counted (metrics, debug log), checked for a
 * bearer token when auth is on, then served by the inference hot path or the express app.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { AuthResult } from '../auth.js';
import type { Logger } from '../../../common/log.js';
import type { ServerMetrics } from '../metrics.js';
import { createApp } from './app.js';
import { routeOf, setRoute, type HttpContext } from './context.js';
import { sendError } from './errors.js';
import { serveInference } from './hotpath.js';

/** What the handler needs besides the routes' context. */
export interface HandlerOptions {
  maxBodyBytes: number;
  metrics: ServerMetrics;
  log: Logger;
  /** Checks an Authorization header; absent when auth is off. */
  authorize?: (header: string | undefined) => AuthResult;
}

/**
 * Requests that never need a token: liveness and readiness probes come from the kubelet, which
 * has none, and `GET /` is KServe's liveness. They reveal nothing beyond the model's name; the
 * model list (`GET /v1/models`) and metadata do need one.
 */
const OPEN_PATH =
  /^\/$|^\/v2\/health\/(?:live|ready)$|^\/v2\/models\/[^/]+(?:\/versions\/[^/]+)?\/ready$|^\/v1\/models\/[^/:]+$/;

/** Whether a request may skip auth. */
export function isOpenRequest(method: string | undefined, path: string): boolean {
  return (method === 'GET' || method === 'HEAD') && OPEN_PATH.test(path);
}

/** Count a request in flight now and record its route, status and latency when it ends. */
function account(req: IncomingMessage, res: ServerResponse, path: string, metrics: ServerMetrics, log: Logger): void {
  const start = process.hrtime.bigint();
  metrics.inFlight.inc();
  res.once('close', () => {
    metrics.inFlight.dec();
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    // 499 (nginx's "client closed request") when the client went away before the response ended.
    const code = res.writableFinished ? res.statusCode : 499;
    const route = routeOf(res);
    metrics.requestDone(route, code, seconds);
    if (log.enabled('debug'))
      log.debug('request', { method: req.method, path, route, status: code, ms: Math.round(seconds * 1e6) / 1e3 });
  });
}

/** Build the listener for node's http server. */
export function createRequestHandler(ctx: HttpContext, options: HandlerOptions): RequestListener {
  const { metrics, log, authorize, maxBodyBytes } = options;
  const app = createApp(ctx, { maxBodyBytes, log });
  return (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    account(req, res, path, metrics, log);
    if (authorize && !isOpenRequest(req.method, path)) {
      const result = authorize(req.headers.authorization);
      if (result !== 'ok') {
        setRoute(res, 'unauthorized');
        res.setHeader(
          'WWW-Authenticate',
          result === 'missing' ? 'Bearer realm="modelship"' : 'Bearer realm="modelship", error="invalid_token"',
        );
        sendError(
          res,
          401,
          result === 'missing' ? 'missing bearer token: send "Authorization: Bearer <token>"' : 'invalid bearer token',
        );
        return;
      }
    }
    if (serveInference(ctx, maxBodyBytes, log, req, res, path)) return;
    void app(req, res);
  };
}
