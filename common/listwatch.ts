/**
 * The list+watch loop of every process that follows the API server: the operator's informers and
 * the router's routes ConfigMap. It lists (or reads) for the current state and a resourceVersion,
 * then watches from that version; when the stream ends it watches again from the last version
 * seen; after 410 Gone (the version is too old) it lists afresh; after any other failure it backs
 * off exponentially and tries again. It never throws: failures go to `onError` with the delay
 * before the next attempt, until the signal stops it.
 *
 * client-node's ListWatch stops for good on a watch error and its Watch has no loop at all, so both
 * callers share this one; each brings its own transport (`list` and `watch`).
 */
import { KubeApiError, type WatchEvent } from './kubeapi.js';

/** What a list (or a read of one object) found, and the resourceVersion to watch from. */
export interface Listing<T> {
  items: T[];
  resourceVersion: string;
}

/** An object as far as the loop needs to know it: it only tracks resourceVersions. */
export interface Versioned {
  metadata?: { resourceVersion?: string };
}

/** The callers' side of the loop. */
export interface ListWatchOptions<T extends Versioned> {
  /** What is watched, to start error messages with, e.g. `watch /api/v1/configmaps`. */
  what: string;
  /** The current state; rejects on failure. */
  list(): Promise<Listing<T>>;
  /**
   * Streams a watch from resourceVersion ('' for "from now"); resolves when the stream ends,
   * rejects on failure (a KubeApiError with code 410 when the version is too old). Aborting the
   * signal ends it quietly.
   */
  watch(resourceVersion: string, onEvent: (e: WatchEvent<T>) => void, signal: AbortSignal): Promise<void>;
  /** The full current contents, after every list. */
  onList(items: T[]): void;
  /** Every ADDED, MODIFIED and DELETED event. */
  onEvent(type: 'ADDED' | 'MODIFIED' | 'DELETED', object: T): void;
  /** Delay after the first of consecutive failures, doubled after each further one up to maxMs. */
  backoff: { baseMs: number; maxMs: number };
  /** Every failure (but 410 Gone, which just lists again), with the delay before the next attempt. */
  onError?(err: unknown, retryInMs: number): void;
}

/**
 * A watch that ends on its own sooner than this after it was opened, having delivered nothing,
 * counts as a failure: a server that closes every watch at once must not be asked again in a loop.
 */
const MIN_WATCH_MS = 1000;

/** Resolves after ms, or at once when signal aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const wake = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', wake);
      resolve();
    };
    const timer = setTimeout(wake, ms);
    signal.addEventListener('abort', wake);
  });
}

/**
 * Runs the loop until signal aborts, then resolves. The failure count that sets the backoff starts
 * afresh after a list succeeds and once a watch delivers an event or has stayed open a while.
 */
export async function listAndWatch<T extends Versioned>(opts: ListWatchOptions<T>, signal: AbortSignal): Promise<void> {
  let resourceVersion: string | undefined;
  let failures = 0;
  while (!signal.aborted) {
    try {
      if (resourceVersion === undefined) {
        const listing = await opts.list();
        resourceVersion = listing.resourceVersion;
        opts.onList(listing.items);
        failures = 0;
      }
      // onList may have stopped the loop (a caller that waits for one state and found it): a
      // watch opened now would never hear of the abort, which has already happened.
      if (signal.aborted) return;
      const stream = new AbortController();
      const stop = (): void => stream.abort();
      signal.addEventListener('abort', stop);
      const opened = Date.now();
      let delivered = false;
      let status: KubeApiError | undefined;
      try {
        await opts.watch(
          resourceVersion,
          (e) => {
            if (status) return;
            if (e.type === 'ERROR') {
              const s = e.object as { code?: number; message?: string; reason?: string };
              status = new KubeApiError(`${opts.what}: ${s.message ?? 'error'}`, s.code ?? 500, s.reason ?? '');
              stream.abort();
              return;
            }
            delivered = true;
            failures = 0;
            if (e.object?.metadata?.resourceVersion) resourceVersion = e.object.metadata.resourceVersion;
            if (e.type !== 'BOOKMARK') opts.onEvent(e.type, e.object);
          },
          stream.signal,
        );
      } finally {
        signal.removeEventListener('abort', stop);
      }
      if (status) throw status;
      if (Date.now() - opened >= MIN_WATCH_MS) failures = 0;
      else if (!delivered && !signal.aborted) throw new Error(`${opts.what}: closed at once`);
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof KubeApiError && err.code === 410) {
        resourceVersion = undefined;
        continue;
      }
      failures++;
      const delay = Math.min(opts.backoff.baseMs * 2 ** Math.min(failures - 1, 30), opts.backoff.maxMs);
      opts.onError?.(err, delay);
      await sleep(delay, signal);
    }
  }
}
