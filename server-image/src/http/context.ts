/**
 * What the protocol adapters share: the data plane, the server's readiness, and small response
 * helpers (JSON bodies, route names for metrics, 405 answers).
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { InferError, type DataPlane } from '../dataplane/types.js';
import { HttpError } from './errors.js';

/** The server state the routes read. */
export interface HttpContext {
  dataPlane: DataPlane;
  /** True while the server takes inference traffic: model ready and not shutting down. */
  ready(): boolean;
}

/** Send `value` as JSON with `status`. */
export function sendJson(res: Response, status: number, value: unknown): void {
  res.status(status).type('application/json').send(JSON.stringify(value));
}

/**
 * Label the request with a fixed route name for metrics and logs (never the raw path, whose model
 * names would make label cardinality unbounded).
 */
export function routeName(name: string): RequestHandler {
  return (_req: Request, res: Response, next: NextFunction) => {
    res.locals.route = name;
    next();
  };
}

/** Answer a known path with an unsupported method: 405 naming the allowed methods. */
export function methodNotAllowed(allowed: string): RequestHandler {
  const allow = allowed === 'GET' ? 'GET, HEAD' : allowed;
  return (req: Request, res: Response, next: NextFunction) => {
    res.locals.route = 'method_not_allowed';
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
