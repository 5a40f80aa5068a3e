/**
 * How failures become HTTP responses: always JSON `{"error": "..."}`, 4xx for anything the client
 * got wrong, 5xx only for the server's own faults.
 */
import type { ServerResponse } from 'node:http';
import { InferError } from '../dataplane/types.js';

/** A failure with the status code it should be answered with. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

const KIND_STATUS = { invalid: 400, not_found: 404, unavailable: 503, model: 500, internal: 500 } as const;

/**
 * The status code and client-facing message for any thrown value. body-parser errors carry their
 * own 4xx status (413 too large, 400 aborted, 415 encoding); anything unknown is a 500 whose
 * message is generic, so internals never leak to clients.
 */
export function errorResponse(err: unknown): { status: number; message: string } {
  if (err instanceof HttpError) return { status: err.status, message: err.message };
  if (err instanceof InferError) return { status: KIND_STATUS[err.kind] ?? 500, message: err.message };
  const e = err as {
    status?: unknown;
    statusCode?: unknown;
    type?: unknown;
    message?: unknown;
    limit?: unknown;
    length?: unknown;
  };
  const status =
    typeof e?.status === 'number' ? e.status : typeof e?.statusCode === 'number' ? e.statusCode : undefined;
  if (status !== undefined && status >= 400 && status < 500) {
    if (e.type === 'entity.too.large') {
      return {
        status: 413,
        message: `request body of ${String(e.length)} bytes exceeds the limit of ${String(e.limit)} bytes`,
      };
    }
    return { status, message: typeof e.message === 'string' ? e.message : 'bad request' };
  }
  return { status: 500, message: 'internal error; see the server log' };
}

/** Send a JSON error body; if a response had already begun, the connection is cut instead. */
export function sendError(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ error: message });
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}
