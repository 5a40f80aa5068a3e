/**
 * The one HTTP client the operator uses to talk to the API server. KubeConfig (from
 * @kubernetes/client-node) supplies the cluster address and credentials, in cluster or from a
 * kubeconfig; requests go over node:https with a keep-alive agent so every call — including
 * watches and server-side apply — passes through one place that counts it by verb, resource and
 * status code. The generated client-node APIs hide the HTTP layer, which would leave watches and
 * applies uncounted.
 */
import http from 'node:http';
import https from 'node:https';
import { KubeConfig } from '@kubernetes/client-node';
import { Counter, type Registry } from 'prom-client';
import { KubeApiError, type WatchEvent } from '../../../common/kubeapi.js';
import { resourceOfPath } from './resources.js';

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

/** Loads a KubeConfig from a file, or the default chain (KUBECONFIG, ~/.kube/config, in-cluster). */
export function loadKubeConfig(file?: string): KubeConfig {
  const kc = new KubeConfig();
  if (file) kc.loadFromFile(file);
  else kc.loadFromDefault();
  if (!kc.getCurrentCluster()) throw new Error(`load kubeconfig ${file ?? '(default)'}: no current cluster`);
  return kc;
}

/** Request counter labels; exported so the bench and tests read the same names. */
export const KUBE_REQUESTS_METRIC = 'modelship_kube_requests_total';

/** Identifies the operator in API server logs and audit events. */
const USER_AGENT = 'modelship-operator/0.1.0';

/** Credentials are re-read this often so rotated service-account tokens are picked up. */
const AUTH_REFRESH_MS = 60_000;

/** Verb in Kubernetes terms for a request: list/watch/get/create/update/patch/apply/delete. */
export function verbOf(req: KubeRequest): string {
  const { named } = resourceOfPath(req.path);
  switch (req.method) {
    case 'GET':
      if (req.query?.watch) return 'watch';
      return named ? 'get' : 'list';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return req.contentType === 'application/apply-patch+yaml' ? 'apply' : 'patch';
    case 'DELETE':
      return named ? 'delete' : 'deletecollection';
  }
}

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

/** The real client: node:https with credentials from a KubeConfig, every call counted. */
export class KubeClient implements KubeApi {
  private readonly server: string;
  private readonly agent: http.Agent;
  private readonly isHttps: boolean;
  private headers: Record<string, string> = {};
  private headersAt = 0;
  private readonly requests: Counter<'verb' | 'resource' | 'code'>;

  private constructor(
    private readonly kc: KubeConfig,
    tls: https.AgentOptions,
    registry: Registry,
  ) {
    const cluster = kc.getCurrentCluster()!;
    this.server = cluster.server;
    this.isHttps = cluster.server.startsWith('https:');
    this.agent = this.isHttps
      ? new https.Agent({ ...tls, keepAlive: true, maxSockets: 32 })
      : new http.Agent({ keepAlive: true, maxSockets: 32 });
    const existing = registry.getSingleMetric(KUBE_REQUESTS_METRIC) as
      Counter<'verb' | 'resource' | 'code'> | undefined;
    this.requests =
      existing ??
      new Counter({
        name: KUBE_REQUESTS_METRIC,
        help: 'Requests the operator sent to the Kubernetes API server, by verb, resource and HTTP status (0 = no answer).',
        labelNames: ['verb', 'resource', 'code'],
        registers: [registry],
      });
  }

  /** Builds a client; reads TLS material and credentials once up front. */
  static async create(kc: KubeConfig, registry: Registry): Promise<KubeClient> {
    const opts: https.RequestOptions = {};
    await kc.applyToHTTPSOptions(opts);
    const tls: https.AgentOptions = {
      ca: opts.ca,
      cert: opts.cert,
      key: opts.key,
      servername: opts.servername,
      rejectUnauthorized: opts.rejectUnauthorized,
    };
    const client = new KubeClient(kc, tls, registry);
    client.setHeaders(opts);
    return client;
  }

  private setHeaders(opts: https.RequestOptions): void {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(opts.headers ?? {})) {
      if (typeof v === 'string' || typeof v === 'number') headers[k] = String(v);
    }
    if (opts.auth) headers.Authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
    this.headers = headers;
    this.headersAt = Date.now();
  }

  private async authHeaders(): Promise<Record<string, string>> {
    if (Date.now() - this.headersAt > AUTH_REFRESH_MS) {
      const opts: https.RequestOptions = {};
      await this.kc.applyToHTTPSOptions(opts);
      this.setHeaders(opts);
    }
    return this.headers;
  }

  private count(req: KubeRequest, code: number): void {
    this.requests.inc({ verb: verbOf(req), resource: resourceOfPath(req.path).resource, code: String(code) });
  }

  private async open(req: KubeRequest, signal?: AbortSignal): Promise<http.IncomingMessage> {
    const url = urlFor(this.server, req.path, req.query);
    const body = req.body === undefined ? undefined : JSON.stringify(req.body);
    const headers: Record<string, string> = {
      Accept: 'application/json',
      'User-Agent': USER_AGENT,
      ...(await this.authHeaders()),
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
      this.count(req, 0);
      throw new KubeApiError(`${what}: ${(err as Error).message}`, 0, 'Unreachable');
    }
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of res) chunks.push(chunk as Buffer);
    } catch (err) {
      this.count(req, 0);
      throw new KubeApiError(`${what}: ${(err as Error).message}`, 0, 'Unreachable');
    }
    const status = res.statusCode ?? 0;
    this.count(req, status);
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
      this.count(req, 0);
      throw new KubeApiError(`watch ${path}: ${(err as Error).message}`, 0, 'Unreachable');
    }
    const status = res.statusCode ?? 0;
    this.count(req, status);
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
