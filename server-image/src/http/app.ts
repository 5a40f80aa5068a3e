/**
 * The inference server's express app: request accounting (metrics, debug logs), optional bearer
 * auth, one raw body reader for both protocols, the V2 and V1 routes, and JSON errors for
 * everything else, so express's HTML error pages never appear.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import type { AuthResult } from '../auth.js';
import type { Logger } from '../log.js';
import type { ServerMetrics } from '../metrics.js';
import type { HttpContext } from './context.js';
import { HttpError, errorResponse, sendError } from './errors.js';
import { v1Routes } from './v1.js';
import { v2Routes } from './v2.js';

/** What the app needs besides the routes' context. */
export interface AppOptions {
  maxBodyBytes: number;
  metrics: ServerMetrics;
  log: Logger;
  /** Checks an Authorization header; absent when auth is off. */
  authorize?: (header: string | undefined) => AuthResult;
}

/**
 * Requests that never need a token: liveness and readiness probes come from the kubelet, which
 * has none. They reveal nothing beyond the model's name.
 */
const OPEN_PATH = /^\/v2\/health\/(?:live|ready)$|^\/v2\/models\/[^/]+(?:\/versions\/[^/]+)?\/ready$|^\/v1\/models\/[^/:]+$/;

/** Whether a request may skip auth. */
export function isOpenRequest(method: string, path: string): boolean {
  return (method === 'GET' || method === 'HEAD') && OPEN_PATH.test(path);
}

/** Build the app; `ctx` gives the routes the data plane and readiness. */
export function createApp(ctx: HttpContext, options: AppOptions): express.Express {
  const { metrics, log } = options;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  app.use((req: Request, res: Response, next: NextFunction) => {
    const start = process.hrtime.bigint();
    metrics.inFlight.inc();
    res.once('close', () => {
      metrics.inFlight.dec();
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      // 499 (nginx's "client closed request") when the client went away before the response ended.
      const code = res.writableFinished ? res.statusCode : 499;
      const route = (res.locals.route as string | undefined) ?? 'unmatched';
      metrics.requestDone(route, code, seconds);
      if (log.enabled('debug')) log.debug('request', { method: req.method, path: req.path, route, status: code, ms: Math.round(seconds * 1e6) / 1e3 });
    });
    next();
  });

  if (options.authorize) {
    const authorize = options.authorize;
    app.use((req: Request, res: Response, next: NextFunction) => {
      if (isOpenRequest(req.method, req.path)) return next();
      const result = authorize(req.get('authorization'));
      if (result === 'ok') return next();
      res.locals.route = 'unauthorized';
      res.setHeader('WWW-Authenticate', result === 'missing' ? 'Bearer realm="modelship"' : 'Bearer realm="modelship", error="invalid_token"');
      sendError(res, 401, result === 'missing' ? 'missing bearer token: send "Authorization: Bearer <token>"' : 'invalid bearer token');
    });
  }

  app.use(express.raw({ type: () => true, limit: options.maxBodyBytes }));
  app.use(v2Routes(ctx));
  app.use(v1Routes(ctx));

  app.use((req: Request, _res: Response, next: NextFunction) => {
    next(new HttpError(404, `no route for ${req.method} ${req.path}`));
  });
  // Express recognises error handlers by their four parameters; `_next` must stay.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const { status, message } = errorResponse(err);
    if (status >= 500) log.error('request failed', { method: req.method, path: req.path, status, error: err as Error });
    else if (log.enabled('debug')) log.debug('request rejected', { method: req.method, path: req.path, status, error: message });
    sendError(res, status, message);
  });
  return app;
}
