/**
 * Fetches each routed revision's V2 model metadata (`GET /v2/models/{model}`) so the stats document
 * can carry it to the operator, whose contract gate compares candidate and stable without network
 * access to pods. Fetched once per (revision, URL, model); retried until it succeeds.
 */
import http from 'node:http';
import type { Logger } from '../log.js';
import type { Routes } from './routes.js';
import type { RouterStats } from './stats.js';

interface Wanted {
  key: string;
  url: string;
}

/** Keeps the stats' `models` in step with the routes in force. */
export class ModelMetadataFetcher {
  private wanted = new Map<string, Wanted>();
  private readonly fetched = new Map<string, string>();
  private readonly inFlight = new Set<string>();
  private timer?: NodeJS.Timeout;

  /**
   * @param stats where the metadata is published
   * @param timeoutMs per fetch
   * @param log for failures (once per distinct failure)
   */
  constructor(
    private readonly stats: RouterStats,
    private readonly timeoutMs: number,
    private readonly log: Logger,
  ) {}

  /** Takes the revisions (and models) of newly applied routes and fetches what is missing. */
  sync(routes: Routes): void {
    const wanted = new Map<string, Wanted>();
    for (const r of routes.revisions) {
      if (!r.model) continue;
      wanted.set(r.name, { key: `${r.url}\n${r.model}`, url: `${r.url}/v2/models/${encodeURIComponent(r.model)}` });
    }
    this.wanted = wanted;
    for (const [name, key] of this.fetched) if (wanted.get(name)?.key !== key) this.fetched.delete(name);
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
      void this.fetch(w.url).then(
        (metadata) => {
          this.inFlight.delete(name);
          if (this.wanted.get(name)?.key !== w.key) return;
          this.fetched.set(name, w.key);
          this.stats.setModelMetadata(name, metadata);
          this.log.info('model metadata fetched', { revision: name, url: w.url });
        },
        (err: Error) => {
          this.inFlight.delete(name);
          this.log.debug(`fetch model metadata of revision ${name} from ${w.url}: ${err.message}`);
        },
      );
    }
  }

  private fetch(url: string): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const req = http.get(url, { agent: false, timeout: this.timeoutMs, headers: { accept: 'application/json' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
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
