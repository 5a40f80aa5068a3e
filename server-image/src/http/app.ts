/**
 * The express app for everything but the inference hot path: health, metadata, readiness, V1
 * status, inference requests the hot path passes on, and JSON errors for everything else, so
 * express's HTML error pages never appear.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from '../../../common/log.js';
import type { HttpContext } from './context.js';
import { HttpError, errorResponse, sendError } from './errors.js';
import { servedProfile } from '../model/profile.js';
import { profileRoutes } from './profile.js';
import { v1Routes } from './v1.js';
import { v2Routes } from './v2.js';

/** Build the app; `ctx` gives the routes the data plane and readiness. */
export function createApp(ctx: HttpContext, options: { maxBodyBytes: number; log: Logger }): express.Express {
  const { log } = options;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);

  // One raw body reader for both protocols: the adapters parse JSON themselves, so malformed JSON
  // gets their error message, and binary-extension bodies arrive intact.
  app.use(express.raw({ type: () => true, limit: options.maxBodyBytes }));
  app.use(v2Routes(ctx));
  app.use(v1Routes(ctx));
  app.use(profileRoutes(ctx, servedProfile));

  app.use((req: Request, _res: Response, next: NextFunction) => {
    next(new HttpError(404, `no route for ${req.method} ${req.path}`));
  });
  // Express recognises error handlers by their four parameters; `_next` must stay.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const { status, message } = errorResponse(err);
    if (status >= 500) log.error('request failed', { method: req.method, path: req.path, status, error: err as Error });
    else if (log.enabled('debug'))
      log.debug('request rejected', { method: req.method, path: req.path, status, error: message });
    sendError(res, status, message);
  });
  return app;
}
