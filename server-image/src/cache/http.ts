/**
 * The node cache agent's HTTP adapter: the models route (contract/nodecache.ts) and the probes. The
 * request body carries credentials, so it is bounded, parsed and handed on; it is never logged, and
 * neither is a URI before redactUri.
 */
import http from 'node:http';
import { pipeline } from 'node:stream/promises';
import {
  NODE_CACHE_HEADERS,
  NODE_CACHE_MAX_REQUEST_BYTES,
  NODE_CACHE_ROUTES,
  NODE_CACHE_STATUS,
  parseNodeCacheRequest,
  type NodeCacheError,
} from '../../../contract/nodecache.js';
import type { Logger } from '../../../common/log.js';
import { ModelLoadError } from '../dataplane/types.js';
import { redactUri } from '../model/source.js';
import type { NodeCacheAgent } from './agent.js';
import type { CacheMetrics } from './metrics.js';

/** How the adapter sees the process: whether it may take requests, and how many it is serving. */
export interface AgentState {
  ready: boolean;
  inFlight: number;
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}

/** The request body as text, or the status and error to answer instead. */
async function readBody(req: http.IncomingMessage): Promise<string | { status: number; error: string }> {
  const tooLarge = { status: 413, error: `request body over ${NODE_CACHE_MAX_REQUEST_BYTES} bytes` };
  if (Number(req.headers['content-length'] ?? 0) > NODE_CACHE_MAX_REQUEST_BYTES) return tooLarge;
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > NODE_CACHE_MAX_REQUEST_BYTES) return tooLarge;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The handler of the agent's port. */
export function agentHandler(agent: NodeCacheAgent, metrics: CacheMetrics, state: AgentState, log: Logger) {
  const refuse = (res: http.ServerResponse, status: number, body: NodeCacheError, outcome: string): void => {
    metrics.answered(outcome, 0);
    json(res, status, body);
  };

  async function models(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      return refuse(res, 405, { error: `method ${req.method} not allowed on ${NODE_CACHE_ROUTES.models}` }, 'agent');
    }
    const body = await readBody(req);
    if (typeof body !== 'string') return refuse(res, body.status, { error: body.error }, 'agent');
    let decoded: unknown;
    try {
      decoded = JSON.parse(body);
    } catch {
      return refuse(res, 400, { error: 'request body is not JSON' }, 'agent');
    }
    const parsed = parseNodeCacheRequest(decoded);
    if (!parsed.ok) {
      log.warn('request refused', { error: parsed.error });
      return refuse(res, 400, { error: parsed.error }, 'agent');
    }
    const request = parsed.request;
    const fields = { uri: redactUri(request.uri), sha256: request.sha256 };
    const gone = new AbortController();
    res.once('close', () => gone.abort(new Error('the requester went away')));
    const started = performance.now();
    let served;
    try {
      served = await agent.serve(request, gone.signal);
    } catch (err) {
      if (err instanceof ModelLoadError && err.reason !== undefined) {
        log.warn('model refused', { ...fields, reason: err.reason, error: err.message });
        return refuse(res, NODE_CACHE_STATUS[err.reason], { error: err.message, reason: err.reason }, err.reason);
      }
      log.error('node cache failed; the pod fetches directly', { ...fields, error: err as Error });
      return refuse(res, 500, { error: (err as Error).message }, 'agent');
    }
    const { model, hit } = served;
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': model.bytes,
      [NODE_CACHE_HEADERS.sha256]: request.sha256,
      [NODE_CACHE_HEADERS.cache]: hit ? 'hit' : 'miss',
    });
    try {
      await pipeline(model.stream, res);
      metrics.answered(hit ? 'hit' : 'miss', model.bytes);
      log.info('model served', {
        ...fields,
        cache: hit ? 'hit' : 'miss',
        bytes: model.bytes,
        seconds: Number(((performance.now() - started) / 1000).toFixed(3)),
      });
    } catch (err) {
      log.warn('model stream cut short', { ...fields, error: err as Error });
    }
  }

  return (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === NODE_CACHE_ROUTES.live) return json(res, 200, { live: true });
    if (path === NODE_CACHE_ROUTES.ready) {
      return state.ready ? json(res, 200, { ready: true }) : json(res, 503, { ready: false, error: 'shutting down' });
    }
    if (path !== NODE_CACHE_ROUTES.models) return json(res, 404, { error: `no route ${path}` });
    state.inFlight++;
    models(req, res)
      .catch((err: unknown) => {
        log.error('request failed', { error: err as Error });
        if (!res.headersSent) json(res, 500, { error: `node cache: ${(err as Error).message}` });
        else res.destroy();
      })
      .finally(() => state.inFlight--);
  };
}
