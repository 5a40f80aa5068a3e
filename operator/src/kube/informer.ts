/**
 * A list+watch cache of one resource type, kept by common/listwatch.ts's loop (paged lists; after
 * 410 Gone it lists afresh and reports the difference as adds, updates and deletes). A periodic
 * resync re-reports every cached object so a missed or failed reconcile is retried without any API
 * call.
 */
import { listAndWatch, type Listing } from '../../../common/listwatch.js';
import type { KubeApi, KubeList, KubeObject } from './client.js';

/** What happened to an object. */
export type InformerEventType = 'add' | 'update' | 'delete' | 'resync';

/** Listener for cache changes. */
export type InformerHandler = (type: InformerEventType, obj: KubeObject) => void;

/** Informer settings. */
export interface InformerOptions {
  /** Collection path, e.g. /apis/apps/v1/deployments or /apis/apps/v1/namespaces/x/deployments. */
  path: string;
  /**
   * apiVersion and kind stamped on every cached object: list responses leave them out of their
   * items, and code that maps an object back to its REST path (prune) needs them.
   */
  apiVersion: string;
  kind: string;
  labelSelector?: string;
  /** Re-report every object this often; 0 disables. */
  resyncMs?: number;
  /** Page size for lists. */
  pageSize?: number;
  /** Delays before re-watching after consecutive errors. */
  retryBaseMs?: number;
  retryMaxMs?: number;
  /** Called on watch/list errors (for logs). */
  onError?: (err: unknown) => void;
}

/** Cache key of an object: namespace/name (or name for cluster-scoped objects). */
export function keyOf(obj: { metadata: { name: string; namespace?: string } }): string {
  return obj.metadata.namespace ? `${obj.metadata.namespace}/${obj.metadata.name}` : obj.metadata.name;
}

/** A list+watch cache with change notifications. */
export class Informer {
  private readonly store = new Map<string, KubeObject>();
  private readonly handlers: InformerHandler[] = [];
  private synced = false;
  private abort = new AbortController();
  private loop?: Promise<void>;
  private resyncTimer?: NodeJS.Timeout;
  private syncWaiters: (() => void)[] = [];

  constructor(
    private readonly api: KubeApi,
    private readonly opts: InformerOptions,
  ) {}

  /** Registers a listener (before start, to see the initial adds). */
  on(handler: InformerHandler): void {
    this.handlers.push(handler);
  }

  /** Starts listing and watching in the background. */
  start(): void {
    this.abort = new AbortController();
    this.loop = listAndWatch(
      {
        what: `watch ${this.opts.path}`,
        list: () => this.listAll(),
        watch: (resourceVersion, onEvent, signal) =>
          this.api.watch(
            this.opts.path,
            {
              labelSelector: this.opts.labelSelector,
              resourceVersion,
              allowWatchBookmarks: true,
              // A server-side timeout spreads reconnections and bounds how long a silently broken
              // connection can go unnoticed.
              timeoutSeconds: 240 + Math.floor(Math.random() * 120),
            },
            onEvent,
            signal,
          ),
        onList: (items) => this.replace(items),
        onEvent: (type, obj) => (type === 'DELETED' ? this.remove(obj) : this.upsert(obj)),
        backoff: { baseMs: this.opts.retryBaseMs ?? 200, maxMs: this.opts.retryMaxMs ?? 10_000 },
        onError: (err) => this.opts.onError?.(err),
      },
      this.abort.signal,
    );
    if (this.opts.resyncMs) {
      this.resyncTimer = setInterval(() => this.resync(), this.opts.resyncMs);
      this.resyncTimer.unref();
    }
  }

  /** Stops watching; the cache keeps its last contents. */
  async stop(): Promise<void> {
    this.abort.abort();
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    await this.loop;
  }

  /** True once the first list has filled the cache. */
  hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves when the first list has filled the cache. */
  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  /** One cached object by namespace/name. */
  get(key: string): KubeObject | undefined {
    return this.store.get(key);
  }

  /** Every cached object, optionally only those of one namespace. */
  list(namespace?: string): KubeObject[] {
    const all = [...this.store.values()];
    return namespace === undefined ? all : all.filter((o) => o.metadata.namespace === namespace);
  }

  private emit(type: InformerEventType, obj: KubeObject): void {
    for (const h of this.handlers) h(type, obj);
  }

  private resync(): void {
    for (const obj of this.store.values()) this.emit('resync', obj);
  }

  private async listAll(): Promise<Listing<KubeObject>> {
    const items: KubeObject[] = [];
    let cont: string | undefined;
    let rv: string;
    do {
      const page = await this.api.request<KubeList>({
        method: 'GET',
        path: this.opts.path,
        query: { labelSelector: this.opts.labelSelector, limit: this.opts.pageSize ?? 500, continue: cont },
      });
      items.push(...page.items);
      cont = page.metadata.continue || undefined;
      rv = page.metadata.resourceVersion ?? '';
    } while (cont);
    return { items, resourceVersion: rv };
  }

  /** Takes a fresh list as the cache's contents, reporting what changed since the last. */
  private replace(items: KubeObject[]): void {
    const fresh = new Map(items.map((o) => [keyOf(o), o]));
    for (const [key, old] of this.store) {
      if (!fresh.has(key)) {
        this.store.delete(key);
        this.emit('delete', old);
      }
    }
    for (const obj of fresh.values()) this.upsert(obj);
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
  }

  private stamp(obj: KubeObject): KubeObject {
    obj.apiVersion = this.opts.apiVersion;
    obj.kind = this.opts.kind;
    return obj;
  }

  private upsert(obj: KubeObject): void {
    const key = keyOf(obj);
    this.stamp(obj);
    const old = this.store.get(key);
    this.store.set(key, obj);
    if (!old) this.emit('add', obj);
    else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) this.emit('update', obj);
  }

  private remove(obj: KubeObject): void {
    const key = keyOf(obj);
    const old = this.store.get(key);
    this.store.delete(key);
    if (old) this.emit('delete', this.stamp(obj));
  }
}
