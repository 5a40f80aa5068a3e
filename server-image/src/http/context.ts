/**
 * What the protocol adapters share: the data plane, the server's readiness, and small response
 * helpers (bodies written straight to node's ServerResponse, route names for metrics, 405 answers).
 */
import type { ServerResponse } from 'node:http';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { InferError, type DataPlane } from '../dataplane/types.js';
import { HttpError } from './errors.js';

/** The server state the routes read. */
export interface HttpContext {
  dataPlane: DataPlane;
  /** True while the server takes inference traffic: model ready and not shutting down. */
  ready(): boolean;
  /** Output data one answer may carry (see ./limits.ts). */
  maxResponseBytes: number;
}

/**
 * Send a complete body. Written with node's own API (not express's res.send, which costs more per
 * request than the tiny model's inference); node omits the body itself for HEAD requests.
 */
export function sendBody(res: ServerResponse, status: number, contentType: string, body: string | Buffer): void {
  res.statusCode = status;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', typeof body === 'string' ? Buffer.byteLength(body) : body.length);
  res.end(body);
}

/** Send `value` as JSON with `status`. */
export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  sendBody(res, status, 'application/json', JSON.stringify(value));
}

const routes = new WeakMap<ServerResponse, string>();

/**
 * Label a request with a fixed route name for metrics and logs (never the raw path, whose model
 * names would make label cardinality unbounded).
 */
export function setRoute(res: ServerResponse, name: string): void {
  routes.set(res, name);
}

/** The route name a request was labelled with; `unmatched` when no route took it. */
export function routeOf(res: ServerResponse): string {
  return routes.get(res) ?? 'unmatched';
}

/** Express middleware that labels the request with `name` (see setRoute). */
export function routeName(name: string): RequestHandler {
  return (_req: Request, res: Response, next: NextFunction) => {
    setRoute(res, name);
    next();
  };
}

/** Answer a known path with an unsupported method: 405 naming the allowed methods. */
export function methodNotAllowed(allowed: string): RequestHandler {
  const allow = allowed === 'GET' ? 'GET, HEAD' : allowed;
  return (req: Request, res: Response, next: NextFunction) => {
    setRoute(res, 'method_not_allowed');
    res.setHeader('Allow', allow);
    next(new HttpError(405, `method ${req.method} not allowed on ${req.path}; use ${allow}`));
  };
}

/**
 * Whether a model is ready; throws InferError('not_found') for an unknown model or version, so
 * the answer is 404 rather than a misleading "not ready yet".
 */
export function modelReadiness(ctx: HttpContext, name: string, version: string | undefined): boolean {
  if (ctx.dataPlane.modelReady(name, version)) return ctx.ready();
  try {
    ctx.dataPlane.metadata(name, version);
  } catch (err) {
    if (err instanceof InferError && err.kind === 'not_found') throw err;
  }
  return false;
}
