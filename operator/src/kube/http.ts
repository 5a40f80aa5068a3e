/**
 * REST requests and watches against the API server over node:http(s) with a keep-alive agent:
 * the transport of the operator's KubeClient (client.ts, which adds KubeConfig credentials and
 * request metrics) and of the CLI (which must start without loading client-node's API; see
 * kubeconfig.ts). Loads nothing but Node's own modules.
 */
import http from 'node:http';
import https from 'node:https';
import { KubeApiError, type WatchEvent } from '../../../common/kubeapi.js';

/** True when err is an API error with the given HTTP status. */
export function isStatus(err: unknown, code: number): boolean {
  return err instanceof KubeApiError && err.code === code;
}

/** One REST request. */
export interface KubeRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /** Content type of the body; JSON unless a patch type is given. */
  contentType?: string;
}

/** The fields of any Kubernetes object the shell relies on. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }[];
    deletionTimestamp?: string;
    creationTimestamp?: string;
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

/** A list response. */
export interface KubeList<T = KubeObject> {
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

/** What the informer, apply and leader code need from a client; tests substitute fakes. */
export interface KubeApi {
  request<T = unknown>(req: KubeRequest): Promise<T>;
  /**
   * Streams a watch; resolves when the server closes the stream, rejects on transport errors
   * or a non-200 answer. Aborting the signal ends it quietly.
   */
  watch(
    path: string,
    query: KubeRequest['query'],
    onEvent: (e: WatchEvent<KubeObject>) => void,
    signal: AbortSignal,
  ): Promise<void>;
}

/** Where the API server is and how to authenticate to it. */
export interface Credentials {
  server: string;
  tls: https.AgentOptions;
  /** The headers of the next request (credentials that rotate are re-read here). */
  headers(): Promise<Record<string, string>>;
}

/** What a transport reports about each answer (status 0: no answer), for request metrics. */
export type OnResponse = (req: KubeRequest, status: number) => void;

function urlFor(server: string, path: string, query?: KubeRequest['query']): URL {
  const url = new URL(server.replace(/\/$/, '') + path);
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v !== undefined) url.searchParams.set(k, String(v));
  }
  return url;
}

function errorFrom(status: number, text: string, what: string): KubeApiError {
  let message = text.trim() || http.STATUS_CODES[status] || 'error';
  let reason = http.STATUS_CODES[status] ?? '';
  try {
    const parsed = JSON.parse(text) as { message?: string; reason?: string };
    if (parsed.message) message = parsed.message;
    if (parsed.reason) reason = parsed.reason;
  } catch {
    // Not a Status object; keep the raw text.
  }
  return new KubeApiError(`${what}: ${status} ${message}`, status, reason);
}

/** A KubeApi over node:http(s). */
export class HttpKubeApi implements KubeApi {
  private readonly agent: http.Agent;
  private readonly isHttps: boolean;

  constructor(
    private readonly credentials: Credentials,
    /** Identifies the caller in API server logs and audit events. */
    private readonly userAgent: string,
    private readonly onResponse: OnResponse = () => {},
  ) {
    this.isHttps = credentials.server.startsWith('https:');
    this.agent = this.isHttps
      ? new https.Agent({ ...credentials.tls, keepAlive: true, maxSockets: 32 })
      : new http.Agent({ keepAlive: true, maxSockets: 32 });
  }

  private async open(req: KubeRequest, signal?: AbortSignal): Promise<http.IncomingMessage> {
    const url = urlFor(this.credentials.server, req.path, req.query);
    const body = req.body === undefined ? undefined : JSON.stringify(req.body);
    const headers: Record<string, string> = {
      Accept: 'application/json',
      'User-Agent': this.userAgent,
      ...(await this.credentials.headers()),
    };
    if (body !== undefined) {
      headers['Content-Type'] = req.contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(body));
    }
    const mod = this.isHttps ? https : http;
    return new Promise((resolve, reject) => {
      const r = mod.request(url, { method: req.method, headers, agent: this.agent, signal }, resolve);
      r.on('error', reject);
      if (body !== undefined) r.write(body);
      r.end();
    });
  }

  async request<T = unknown>(req: KubeRequest): Promise<T> {
    const what = `${req.method} ${req.path}`;
    let res: http.IncomingMessage;
    try {
      res = await this.open(req);
    } catch (err) {
      this.onResponse(req, 0);
      throw new KubeApiError(`${what}: ${(err as Error).message}`, 0, 'Unreachable');
    }
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of res) chunks.push(chunk as Buffer);
    } catch (err) {
      this.onResponse(req, 0);
      throw new KubeApiError(`${what}: ${(err as Error).message}`, 0, 'Unreachable');
    }
    const status = res.statusCode ?? 0;
    this.onResponse(req, status);
    const text = Buffer.concat(chunks).toString('utf8');
    if (status < 200 || status >= 300) throw errorFrom(status, text, what);
    return (text ? JSON.parse(text) : undefined) as T;
  }

  async watch(
    path: string,
    query: KubeRequest['query'],
    onEvent: (e: WatchEvent<KubeObject>) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const req: KubeRequest = { method: 'GET', path, query: { ...query, watch: true } };
    let res: http.IncomingMessage;
    try {
      res = await this.open(req, signal);
    } catch (err) {
      if (signal.aborted) return;
      this.onResponse(req, 0);
      throw new KubeApiError(`watch ${path}: ${(err as Error).message}`, 0, 'Unreachable');
    }
    const status = res.statusCode ?? 0;
    this.onResponse(req, status);
    if (status !== 200) {
      const chunks: Buffer[] = [];
      for await (const chunk of res) chunks.push(chunk as Buffer);
      throw errorFrom(status, Buffer.concat(chunks).toString('utf8'), `watch ${path}`);
    }
    // The stream is newline-delimited JSON; a line may span chunks.
    let pending = '';
    try {
      for await (const chunk of res) {
        pending += (chunk as Buffer).toString('utf8');
        let nl: number;
        while ((nl = pending.indexOf('\n')) >= 0) {
          const line = pending.slice(0, nl).trim();
          pending = pending.slice(nl + 1);
          if (line) onEvent(JSON.parse(line) as WatchEvent<KubeObject>);
        }
      }
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof KubeApiError) throw err;
      throw new KubeApiError(`watch ${path}: ${(err as Error).message}`, 0, 'Unreachable');
    }
  }

  /** Closes idle keep-alive sockets so the process can exit. */
  close(): void {
    this.agent.destroy();
  }
}

/** What credentialsOf needs of client-node's KubeConfig (structurally, so this module does not load it). */
export interface HttpsOptionsSource {
  getCurrentCluster(): { server: string } | null;
  applyToHTTPSOptions(opts: https.RequestOptions): Promise<void>;
}

/** Credentials are re-read this often so rotated tokens (service accounts, exec plugins) are picked up. */
const AUTH_REFRESH_MS = 60_000;

/**
 * Credentials from a KubeConfig: TLS material read once, headers (tokens, exec plugins, auth
 * providers) re-read every minute.
 */
export async function credentialsOf(kc: HttpsOptionsSource): Promise<Credentials> {
  const server = kc.getCurrentCluster()?.server;
  if (server === undefined) throw new Error('kubeconfig: no current cluster');
  const first: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(first);
  let headers = headersOf(first);
  let headersAt = Date.now();
  return {
    server,
    tls: {
      ca: first.ca,
      cert: first.cert,
      key: first.key,
      servername: first.servername,
      rejectUnauthorized: first.rejectUnauthorized,
    },
    headers: async () => {
      if (Date.now() - headersAt > AUTH_REFRESH_MS) {
        const opts: https.RequestOptions = {};
        await kc.applyToHTTPSOptions(opts);
        headers = headersOf(opts);
        headersAt = Date.now();
      }
      return headers;
    },
  };
}

function headersOf(opts: https.RequestOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.headers ?? {})) {
    if (typeof v === 'string' || typeof v === 'number') headers[k] = String(v);
  }
  if (opts.auth) headers.Authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
  return headers;
}
