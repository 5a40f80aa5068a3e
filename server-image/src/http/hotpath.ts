/**
 * The inference hot path: V2 infer and V1 predict served straight from node:http, around express.
 * Measured on the tiny model at concurrency 32, express's per-request machinery (request/response
 * prototypes, router walk, body-parser) cost 3-4x the main-thread CPU of decoding, queueing and
 * encoding the request itself, and the main thread is what bounds throughput. The work is the same
 * functions the express routes call (inferV2, predictV1); only the plumbing differs. Requests this
 * path does not take (other methods, compressed bodies) fall through to express unchanged.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import getRawBody from 'raw-body';
import type { Logger } from '../../../common/log.js';
import { HEADER_LENGTH } from './binary.js';
import { setRoute, sendBody, type HttpContext } from './context.js';
import { errorResponse, sendError } from './errors.js';
import { predictV1 } from './v1.js';
import { inferV2, sendEncoded } from './v2.js';

const V2_INFER = /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?\/infer$/;
const V1_PREDICT = /^\/v1\/models\/([^/]+):predict$/;

/** What a hot-path request runs once its body is read. */
type Run = (body: Buffer) => Promise<void>;

function decode(segment: string | undefined): string | undefined {
  return segment === undefined ? undefined : decodeURIComponent(segment);
}

/** The work for an inference request, or undefined when express should take it. */
function match(ctx: HttpContext, req: IncomingMessage, res: ServerResponse, path: string): Run | undefined {
  if (req.method !== 'POST') return undefined;
  const encoding = req.headers['content-encoding'];
  // Compressed bodies go to express, whose body parser inflates them.
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return undefined;
  try {
    const v2 = V2_INFER.exec(path);
    if (v2) {
      const name = decode(v2[1]) as string;
      const version = decode(v2[2]);
      setRoute(res, 'v2_infer');
      const headerLength = req.headers[HEADER_LENGTH];
      return async (body) =>
        sendEncoded(
          res,
          await inferV2(ctx, name, version, body, Array.isArray(headerLength) ? headerLength[0] : headerLength),
        );
    }
    const v1 = V1_PREDICT.exec(path);
    if (v1) {
      const name = decode(v1[1]) as string;
      setRoute(res, 'v1_predict');
      return async (body) => sendBody(res, 200, 'application/json', await predictV1(ctx, name, body));
    }
  } catch {
    // A malformed percent-escape: express answers it with its own 400.
  }
  return undefined;
}

/**
 * Serve `req` if it is an inference request; returns false, having touched nothing, otherwise.
 * Errors become JSON like everywhere else; 5xx ones are logged.
 */
export function serveInference(
  ctx: HttpContext,
  maxBodyBytes: number,
  log: Logger,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
): boolean {
  const run = match(ctx, req, res, path);
  if (run === undefined) return false;
  getRawBody(req, { limit: maxBodyBytes, length: req.headers['content-length'] })
    .then(run)
    .catch((err: unknown) => {
      const { status, message } = errorResponse(err);
      if (status >= 500) log.error('request failed', { method: req.method, path, status, error: err as Error });
      else if (log.enabled('debug'))
        log.debug('request rejected', { method: req.method, path, status, error: message });
      sendError(res, status, message);
    });
  return true;
}
