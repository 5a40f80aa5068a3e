/**
 * A list+watch cache of one resource type. Lists (paged) then watches from the list's
 * resourceVersion; when the stream ends it watches again from the last version seen; after an
 * error it backs off and watches again, and after 410 Gone (the version is too old) it lists
 * afresh and reports the difference as adds, updates and deletes. A periodic resync re-reports
 * every cached object so a missed or failed reconcile is retried without any API call.
 *
 * client-node's ListWatch stops for good on a watch error and has no resync, so the operator keeps
 * its own (small) loop.
 */
import type { KubeApi, KubeList, KubeObject, WatchEvent } from './client.js';
import { KubeApiError } from './client.js';

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
  private resourceVersion = '';
  private synced = false;
  private abort = new AbortController();
  private stopped = false;
  private loop?: Promise<void>;
  private resyncTimer?: NodeJS.Timeout;
  private syncWaiters: (() => void)[] = [];
  /** Number of full lists done; tests use it to see a relist after 410. */
  lists = 0;

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
    this.stopped = false;
    this.loop = this.run();
    if (this.opts.resyncMs) {
      this.resyncTimer = setInterval(() => this.resync(), this.opts.resyncMs);
      this.resyncTimer.unref();
    }
  }

  /** Stops watching; the cache keeps its last contents. */
  async stop(): Promise<void> {
    this.stopped = true;
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

  private async listAll(): Promise<void> {
    const items: KubeObject[] = [];
    let cont: string | undefined;
    let rv: string | undefined;
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
    this.lists++;
    const fresh = new Map(items.map((o) => [keyOf(o), o]));
    for (const [key, old] of this.store) {
      if (!fresh.has(key)) {
        this.store.delete(key);
        this.emit('delete', old);
      }
    }
    for (const [key, obj] of fresh) this.upsert(key, obj);
    this.resourceVersion = rv ?? '';
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

  private upsert(key: string, obj: KubeObject): void {
    this.stamp(obj);
    const old = this.store.get(key);
    this.store.set(key, obj);
    if (!old) this.emit('add', obj);
    else if (old.metadata.resourceVersion !== obj.metadata.resourceVersion) this.emit('update', obj);
  }

  private onWatchEvent(e: WatchEvent): void {
    if (e.type === 'ERROR') {
      const status = e.object as unknown as { code?: number; message?: string; reason?: string };
      throw new KubeApiError(
        `watch ${this.opts.path}: ${status.message ?? 'error'}`,
        status.code ?? 500,
        status.reason ?? '',
      );
    }
    if (e.object?.metadata?.resourceVersion) this.resourceVersion = e.object.metadata.resourceVersion;
    if (e.type === 'BOOKMARK') return;
    const key = keyOf(e.object);
    if (e.type === 'DELETED') {
      const old = this.store.get(key);
      this.store.delete(key);
      if (old) this.emit('delete', this.stamp(e.object));
    } else {
      this.upsert(key, e.object);
    }
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopped) {
      try {
        if (!this.resourceVersion) await this.listAll();
        failures = 0;
        // A server-side timeout spreads reconnections and bounds how long a silently broken
        // connection can go unnoticed.
        const timeoutSeconds = 240 + Math.floor(Math.random() * 120);
        await this.api.watch(
          this.opts.path,
          {
            labelSelector: this.opts.labelSelector,
            resourceVersion: this.resourceVersion,
            allowWatchBookmarks: true,
            timeoutSeconds,
          },
          (e) => this.onWatchEvent(e),
          this.abort.signal,
        );
      } catch (err) {
        if (this.stopped) return;
        if (err instanceof KubeApiError && err.code === 410) {
          this.resourceVersion = '';
          continue;
        }
        this.opts.onError?.(err);
        failures++;
        const delay = Math.min(
          (this.opts.retryBaseMs ?? 200) * 2 ** Math.min(failures - 1, 10),
          this.opts.retryMaxMs ?? 10_000,
        );
        await new Promise<void>((resolve) => {
          const wake = (): void => {
            clearTimeout(t);
            this.abort.signal.removeEventListener('abort', wake);
            resolve();
          };
          const t = setTimeout(wake, delay);
          this.abort.signal.addEventListener('abort', wake);
        });
      }
    }
  }
}
