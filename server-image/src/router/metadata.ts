/**
 * Fetches each routed revision's V2 model metadata (`GET /v2/models/{model}`) so the stats document
 * can carry it to the operator, whose contract gate compares candidate and stable without network
 * access to pods. Fetched once per (revision, URL, model); retried until it succeeds.
 *
 * A revision whose servers require a bearer token (spec.auth) names a `tokenFile` in its route: the
 * first token in that file (same format as the server's token file) goes out as
 * `Authorization: Bearer` on these fetches, and only on these. The file is read afresh for every
 * attempt, so a rotated Secret is used once the kubelet has updated the mount, and a Secret
 * created after the router started is picked up on the next retry. The token is never logged.
 */
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseTokens } from '../auth.js';
import type { Logger } from '../../../common/log.js';
import { DEFAULT_ROUTER_TOKEN_DIR } from '../../../contract/env.js';
import type { Routes } from '../../../contract/routes.js';
import type { RouterStats } from './stats.js';

interface Wanted {
  key: string;
  url: string;
  /** Absolute path of the bearer token file, when the revision requires a token. */
  tokenFile?: string;
}

/** HTTP statuses that retrying will not fix by itself: logged as warnings (once per distinct failure). */
const REFUSED = /^HTTP 40[134]\b|token file/;

/** Keeps the stats' `models` in step with the routes in force. */
export class ModelMetadataFetcher {
  private wanted = new Map<string, Wanted>();
  private readonly fetched = new Map<string, string>();
  private readonly inFlight = new Set<string>();
  /** The last failure per revision, so a failure that repeats every retry is logged once. */
  private readonly failures = new Map<string, string>();
  private timer?: NodeJS.Timeout;

  /**
   * @param stats where the metadata is published
   * @param timeoutMs per fetch
   * @param log for failures (once per distinct failure)
   * @param tokenDir the directory routes' `tokenFile`s are relative to
   */
  constructor(
    private readonly stats: RouterStats,
    private readonly timeoutMs: number,
    private readonly log: Logger,
    private readonly tokenDir: string = DEFAULT_ROUTER_TOKEN_DIR,
  ) {}

  /** Takes the revisions (and models) of newly applied routes and fetches what is missing. */
  sync(routes: Routes): void {
    const wanted = new Map<string, Wanted>();
    for (const r of routes.revisions) {
      if (!r.model) continue;
      const w: Wanted = { key: `${r.url}\n${r.model}`, url: `${r.url}/v2/models/${encodeURIComponent(r.model)}` };
      // validateRoutes keeps tokenFile relative and free of '..' segments: it stays under tokenDir.
      if (r.tokenFile) w.tokenFile = path.join(this.tokenDir, r.tokenFile);
      wanted.set(r.name, w);
    }
    this.wanted = wanted;
    for (const [name, key] of this.fetched) if (wanted.get(name)?.key !== key) this.fetched.delete(name);
    for (const name of this.failures.keys()) if (!wanted.has(name)) this.failures.delete(name);
    this.stats.retainModels(new Set(this.fetched.keys()));
    this.fetchMissing();
  }

  /** Retries missing metadata every `intervalMs` (backends may come up after the routes). */
  start(intervalMs: number): void {
    this.timer = setInterval(() => this.fetchMissing(), intervalMs);
    this.timer.unref();
  }

  /** Stops retrying. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private fetchMissing(): void {
    for (const [name, w] of this.wanted) {
      if (this.fetched.get(name) === w.key || this.inFlight.has(name)) continue;
      this.inFlight.add(name);
      void this.fetch(w).then(
        (metadata) => {
          this.inFlight.delete(name);
          if (this.wanted.get(name)?.key !== w.key) return;
          this.fetched.set(name, w.key);
          this.failures.delete(name);
          this.stats.setModelMetadata(name, metadata);
          this.log.info('model metadata fetched', { revision: name, url: w.url, auth: w.tokenFile !== undefined });
        },
        (err: Error) => {
          this.inFlight.delete(name);
          const message = `fetch model metadata of revision ${name} from ${w.url}: ${err.message}`;
          if (this.failures.get(name) === message) return;
          this.failures.set(name, message);
          if (REFUSED.test(err.message)) this.log.warn(message);
          else this.log.debug(message);
        },
      );
    }
  }

  /** The request headers: JSON, and the revision's bearer token when its route names a token file. */
  private async headersFor(w: Wanted): Promise<http.OutgoingHttpHeaders> {
    const headers: http.OutgoingHttpHeaders = { accept: 'application/json' };
    if (w.tokenFile === undefined) return headers;
    let text: string;
    try {
      text = await readFile(w.tokenFile, 'utf8');
    } catch (err) {
      throw new Error(
        `read token file ${w.tokenFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        { cause: err },
      );
    }
    const [token] = parseTokens(text);
    if (token === undefined) throw new Error(`token file ${w.tokenFile} holds no token`);
    headers.authorization = `Bearer ${token}`;
    return headers;
  }

  private async fetch(w: Wanted): Promise<unknown> {
    const headers = await this.headersFor(w);
    return new Promise((resolve, reject) => {
      const req = http.get(w.url, { agent: false, timeout: this.timeoutMs, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          if (res.statusCode === 401 && w.tokenFile === undefined) {
            return reject(new Error('HTTP 401: the revision requires a bearer token and its route names no tokenFile'));
          }
          if (res.statusCode !== 200) return reject(new Error(`HTTP ${res.statusCode}`));
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
          } catch (err) {
            reject(new Error(`invalid JSON: ${(err as Error).message}`));
          }
        });
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on('error', reject);
    });
  }
}
