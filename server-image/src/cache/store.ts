/**
 * The node cache's files: one verified model per sha256 in the cache directory (the node's
 * hostPath), beside it the origins it was verified from, and a staging directory for downloads in
 * progress. Nothing unverified is ever kept under a model's name; what a previous run left is
 * re-hashed on its first use, and its staging files are removed at start.
 *
 * Last use is the file's mtime, so least-recently-used eviction survives a restart.
 */
import { createReadStream, type ReadStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../../common/log.js';
import { sha256OfFile } from '../model/verify.js';
import { evictionVictims } from './lru.js';

const MODEL_FILE = /^sha256-([0-9a-f]{64})\.onnx$/;

/** One cached model. */
interface Entry {
  sha256: string;
  bytes: number;
  lastUsed: number;
  /** Hashed by this run (downloaded and verified, or re-hashed since start). */
  verified: boolean;
  /** The sources (see originOf) this content was verified from. */
  origins: Set<string>;
  /** Streams being served from it. */
  readers: number;
  /** The re-hash of a copy left by a previous run, while it runs (concurrent requests share it). */
  verifying?: Promise<boolean>;
}

/** A cached model opened for serving; release() once the stream is done. */
export interface OpenedModel {
  stream: ReadStream;
  bytes: number;
}

/** What the store tells the metrics. */
export interface StoreObserver {
  evicted(bytes: number): void;
  size(bytes: number, models: number): void;
}

/** The cache directory's models, their origins and their use. */
export class ModelStore {
  private readonly entries = new Map<string, Entry>();

  private constructor(
    readonly dir: string,
    private readonly maxBytes: number,
    private readonly log: Logger,
    private readonly observer: StoreObserver,
  ) {}

  /**
   * The store over `dir` (created if missing): models of a previous run are listed (to be re-hashed
   * on first use), anything half-written is removed.
   */
  static async open(dir: string, maxBytes: number, log: Logger, observer: StoreObserver): Promise<ModelStore> {
    const store = new ModelStore(dir, maxBytes, log, observer);
    await mkdir(dir, { recursive: true, mode: 0o750 });
    await rm(store.stagingDir, { recursive: true, force: true });
    await mkdir(store.stagingDir, { mode: 0o750 });
    for (const name of await readdir(dir)) {
      const match = MODEL_FILE.exec(name);
      if (match === null) continue;
      const sha256 = match[1];
      const info = await stat(path.join(dir, name));
      const origins = await readFile(store.originsPath(sha256), 'utf8').then(
        (text) => new Set(JSON.parse(text) as string[]),
        () => new Set<string>(),
      );
      store.entries.set(sha256, {
        sha256,
        bytes: info.size,
        lastUsed: info.mtimeMs,
        verified: false,
        origins,
        readers: 0,
      });
    }
    store.report();
    log.info('cache directory scanned', { dir, models: store.entries.size, bytes: store.totalBytes() });
    return store;
  }

  /** Where downloads in progress are written (same filesystem: a verified one is renamed into place). */
  get stagingDir(): string {
    return path.join(this.dir, '.staging');
  }

  /** The cached model file of this digest. */
  pathOf(sha256: string): string {
    return path.join(this.dir, `sha256-${sha256}.onnx`);
  }

  private originsPath(sha256: string): string {
    return path.join(this.dir, `sha256-${sha256}.origins.json`);
  }

  /** Bytes of all cached models. */
  totalBytes(): number {
    let total = 0;
    for (const e of this.entries.values()) total += e.bytes;
    return total;
  }

  /**
   * Whether a model with this digest, verified by this run, is cached from `origin`. A copy left by
   * a previous run is re-hashed first (and deleted if it changed on disk).
   */
  async has(sha256: string, origin: string): Promise<boolean> {
    const entry = this.entries.get(sha256);
    if (entry === undefined || !entry.origins.has(origin)) return false;
    if (entry.verified) return true;
    entry.verifying ??= this.rehash(entry);
    return entry.verifying;
  }

  private async rehash(entry: Entry): Promise<boolean> {
    try {
      const actual = await sha256OfFile(this.pathOf(entry.sha256));
      if (actual === entry.sha256) {
        entry.verified = true;
        return true;
      }
      this.log.warn('cached model changed on disk; deleting it', { sha256: entry.sha256, actual });
    } catch (err) {
      this.log.warn('cached model unreadable; deleting it', { sha256: entry.sha256, error: err as Error });
    } finally {
      entry.verifying = undefined;
    }
    await this.remove(entry.sha256);
    return false;
  }

  /**
   * Keep a verified download: rename `file` (in the staging directory) into place, or record one
   * more origin when the content is already cached. Returns it opened for serving (so that the
   * eviction this triggers cannot take it), or undefined if it could not be opened.
   */
  async add(sha256: string, file: string, bytes: number, origin: string): Promise<OpenedModel | undefined> {
    const existing = this.entries.get(sha256);
    if (existing !== undefined && existing.verified) {
      await rm(file, { force: true });
      existing.origins.add(origin);
    } else {
      await rename(file, this.pathOf(sha256));
      this.entries.set(sha256, {
        sha256,
        bytes,
        lastUsed: Date.now(),
        verified: true,
        origins: new Set([...(existing?.origins ?? []), origin]),
        readers: existing?.readers ?? 0,
      });
    }
    const opened = this.open(sha256);
    try {
      await this.writeOrigins(sha256);
      await this.evict();
    } catch (err) {
      // Nobody will read it: close it, or it would stay busy (never evicted) and hold a descriptor.
      opened?.stream.destroy();
      throw err;
    }
    return opened;
  }

  /**
   * Open a cached, verified model for serving; it cannot be evicted until the stream closes.
   * Undefined when it is not (or no longer) cached.
   */
  open(sha256: string): OpenedModel | undefined {
    const entry = this.entries.get(sha256);
    if (entry === undefined || !entry.verified) return undefined;
    entry.readers++;
    const now = Date.now();
    entry.lastUsed = now;
    const file = this.pathOf(sha256);
    // Last use is the mtime, so the order survives a restart; a failure only costs LRU precision.
    utimes(file, now / 1000, now / 1000).catch(() => undefined);
    const stream = createReadStream(file);
    stream.once('close', () => {
      entry.readers--;
      void this.evict();
    });
    return { stream, bytes: entry.bytes };
  }

  private async writeOrigins(sha256: string): Promise<void> {
    const entry = this.entries.get(sha256);
    if (entry === undefined) return;
    const tmp = path.join(this.stagingDir, `origins-${sha256}`);
    await writeFile(tmp, JSON.stringify([...entry.origins].sort()), { mode: 0o640 });
    await rename(tmp, this.originsPath(sha256));
  }

  private async remove(sha256: string): Promise<void> {
    this.entries.delete(sha256);
    await rm(this.pathOf(sha256), { force: true });
    await rm(this.originsPath(sha256), { force: true });
    this.report();
  }

  private async evict(): Promise<void> {
    const victims = evictionVictims(
      [...this.entries.values()].map((e) => ({ ...e, busy: e.readers > 0 || e.verifying !== undefined })),
      this.maxBytes,
    );
    for (const sha256 of victims) {
      const bytes = this.entries.get(sha256)?.bytes ?? 0;
      await this.remove(sha256);
      this.observer.evicted(bytes);
      this.log.info('evicted a cached model (least recently used)', { sha256, bytes, limit: this.maxBytes });
    }
    if (this.maxBytes > 0 && this.totalBytes() > this.maxBytes) {
      this.log.warn('cache over its size limit: the models over it are being served', {
        bytes: this.totalBytes(),
        limit: this.maxBytes,
      });
    }
    this.report();
  }

  private report(): void {
    this.observer.size(this.totalBytes(), this.entries.size);
  }
}
