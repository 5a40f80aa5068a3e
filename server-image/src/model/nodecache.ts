/**
 * The node cache client: a RemoteSource that asks the node's cache agent (contract/nodecache.ts)
 * for the model, so that N pods on a node download it once. The fetch pipeline hashes what the
 * agent sends like any store's bytes: the agent is never trusted with the digest.
 *
 * When the agent cannot help (no agent on this node: the Service's internalTrafficPolicy Local then
 * refuses the connection; the agent restarting; the agent's own failure) the pod fetches directly.
 * The agent's answers for the store (not found, access denied...) are final: a pod the store
 * refuses through the agent would be refused directly too.
 */
import http from 'node:http';
import https from 'node:https';
import {
  NODE_CACHE_HEADERS,
  NODE_CACHE_ROUTES,
  parseNodeCacheError,
  type NodeCacheRequest,
} from '../../../contract/nodecache.js';
import type { Logger } from '../../../common/log.js';
import { ModelLoadError } from '../dataplane/types.js';
import type { RemoteObject, RemoteRequest, RemoteSource } from './remote.js';
import { redactUri } from './source.js';

/** How to reach the agent. */
export interface NodeCacheOptions {
  /** The agent's base URL (MODELSHIP_NODE_CACHE_URL), e.g. http://modelship-node-cache.modelship-system:8090. */
  agentUrl: string;
  /** The model's pinned sha256: the agent keeps and serves nothing else. */
  sha256: string;
  /** The fetch's deadline, so the agent gives a download it starts no longer. */
  timeoutSeconds?: number;
  /** How long connecting to the agent may take before the pod fetches directly (default 3 s). */
  connectTimeoutMs?: number;
  log: Pick<Logger, 'info' | 'warn'>;
}

/**
 * Errors that mean the agent was not reached (or dropped the request before answering): the pod
 * then fetches directly. Anything the agent answers is not among them.
 */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'EPIPE',
]);

/** The largest error document read from the agent. */
const MAX_ERROR_BYTES = 64 * 1024;

/** Why the agent could not help; the pod fetches directly. */
class Unavailable extends Error {}

/** The agent's response, or Unavailable when it was not reached in time. */
function post(url: URL, body: string, signal: AbortSignal, connectTimeoutMs: number): Promise<http.IncomingMessage> {
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(url, {
      method: 'POST',
      signal,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    });
    req.once('socket', (socket) => {
      if (!socket.connecting) return;
      const timer = setTimeout(
        () =>
          req.destroy(Object.assign(new Error(`connect timeout after ${connectTimeoutMs} ms`), { code: 'ETIMEDOUT' })),
        connectTimeoutMs,
      );
      socket.once('connect', () => clearTimeout(timer));
      socket.once('close', () => clearTimeout(timer));
    });
    req.once('response', resolve);
    req.once('error', (err: NodeJS.ErrnoException) => {
      if (signal.aborted) reject(err);
      else if (err.code !== undefined && UNREACHABLE.has(err.code))
        reject(new Unavailable(`${err.code}: ${err.message}`));
      else reject(err);
    });
    req.end(body);
  });
}

async function readText(res: http.IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of res as AsyncIterable<Buffer>) {
    text += chunk.toString('utf8');
    if (text.length > MAX_ERROR_BYTES) break;
  }
  res.destroy();
  return text;
}

/**
 * A RemoteSource that fetches through the node's cache agent at `options.agentUrl` and falls back
 * to `direct` when the agent cannot be reached or fails itself (never when it answers for the
 * store). It logs once which path the model took. probe() is `direct`'s: a pod proves nothing to
 * itself through the agent.
 */
export function viaNodeCache(options: NodeCacheOptions, direct: RemoteSource): RemoteSource {
  const endpoint = new URL(NODE_CACHE_ROUTES.models, options.agentUrl);
  const connectTimeoutMs = options.connectTimeoutMs ?? 3_000;
  let logged = false;
  const once = (level: 'info' | 'warn', msg: string, fields: Record<string, unknown>): void => {
    if (logged) return;
    logged = true;
    options.log[level](msg, { agent: endpoint.origin, ...fields });
  };

  async function open(request: RemoteRequest): Promise<RemoteObject> {
    const uri = redactUri(request.uri);
    const { credentials, ...settings } = request.settings;
    const document: NodeCacheRequest = {
      uri: request.uri,
      sha256: options.sha256,
      settings,
      credentials,
      ...(options.timeoutSeconds === undefined ? {} : { timeoutSeconds: options.timeoutSeconds }),
    };
    let res: http.IncomingMessage;
    try {
      res = await post(endpoint, JSON.stringify(document), request.signal, connectTimeoutMs);
    } catch (err) {
      if (!(err instanceof Unavailable)) throw err;
      once('warn', 'node cache agent unreachable; fetching the model directly', { uri, error: err.message });
      return direct.open(request);
    }
    if (res.statusCode === 200) {
      const length = Number(res.headers['content-length']);
      once('info', 'fetching the model through the node cache', {
        uri,
        cache: res.headers[NODE_CACHE_HEADERS.cache],
      });
      return { body: res, ...(Number.isSafeInteger(length) ? { bytes: length } : {}) };
    }
    const answer = parseNodeCacheError(await readText(res));
    if (answer?.reason !== undefined) {
      throw new ModelLoadError(`${answer.error} (through the node cache)`, answer.reason);
    }
    once('warn', 'node cache agent failed; fetching the model directly', {
      uri,
      status: res.statusCode,
      error: answer?.error ?? 'not an agent answer',
    });
    return direct.open(request);
  }

  return { open, probe: (request) => direct.probe(request) };
}
