/**
 * A per-key work queue in the manner of client-go's: a key waiting is queued once however often it
 * is added; a key being processed is never handed to a second worker, and if it is added meanwhile it
 * runs again after `done`; failures back off exponentially up to a cap; delayed adds wake a key
 * later (rollout timers). Time comes from a Clock so tests drive it by hand.
 */

/** Time source and timers; the real one wraps Date.now and setTimeout. */
export interface Clock {
  now(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(handle: unknown): void;
}

/** The wall clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  setTimer: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimer: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** Backoff settings for failed keys. */
export interface BackoffOptions {
  baseMs: number;
  maxMs: number;
}

/** Delay before the nth retry (n = failures so far, from 1): base·2^(n-1), capped. */
export function backoffDelay(failures: number, opts: BackoffOptions): number {
  const exp = Math.min(failures - 1, 30);
  return Math.min(opts.baseMs * 2 ** exp, opts.maxMs);
}

/** A deduplicating, delay-capable queue of string keys. */
export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly failures = new Map<string, number>();
  /** Key → when it is due and the timer that will add it. */
  private readonly delayed = new Map<string, { at: number; timer: unknown }>();
  private readonly waiters: ((key: string | undefined) => void)[] = [];
  private shuttingDown = false;
  private drainWaiters: (() => void)[] = [];

  constructor(
    private readonly clock: Clock = systemClock,
    private readonly backoff: BackoffOptions = { baseMs: 500, maxMs: 60_000 },
  ) {}

  /** Queues a key now (no-op if it is already waiting). */
  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    if (this.processing.has(key)) return;
    const waiter = this.waiters.shift();
    if (waiter) {
      this.dirty.delete(key);
      this.processing.add(key);
      waiter(key);
    } else {
      this.queue.push(key);
    }
  }

  /** Queues a key after ms; an earlier pending delay for the same key wins. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) return this.add(key);
    const at = this.clock.now() + ms;
    const existing = this.delayed.get(key);
    if (existing && existing.at <= at) return;
    if (existing) this.clock.clearTimer(existing.timer);
    const timer = this.clock.setTimer(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    this.delayed.set(key, { at, timer });
  }

  /** Queues a key after its backoff delay and counts the failure. */
  addRateLimited(key: string): number {
    const n = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, n);
    const delay = backoffDelay(n, this.backoff);
    this.addAfter(key, delay);
    return delay;
  }

  /** Clears a key's failure count (after a success). */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** Failures counted for a key since its last success. */
  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Next key to process, waiting if none; undefined once shut down. */
  get(): Promise<string | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) {
      this.dirty.delete(key);
      this.processing.add(key);
      return Promise.resolve(key);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Marks a key finished; if it was re-added meanwhile it is queued again. */
  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key) && !this.shuttingDown) {
      this.dirty.delete(key);
      this.add(key);
    }
    if (this.processing.size === 0) {
      for (const w of this.drainWaiters.splice(0)) w();
    }
  }

  /** Keys waiting (not counting delayed or in-flight ones). */
  len(): number {
    return this.queue.length;
  }

  /** Keys being processed right now. */
  inFlight(): number {
    return this.processing.size;
  }

  /** Stops handing out keys, cancels delayed adds; resolves once in-flight keys are done. */
  shutDown(): Promise<void> {
    this.shuttingDown = true;
    for (const { timer } of this.delayed.values()) this.clock.clearTimer(timer);
    this.delayed.clear();
    this.queue.length = 0;
    this.dirty.clear();
    for (const w of this.waiters.splice(0)) w(undefined);
    if (this.processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }
}

/** What a handler may ask for after a successful run. */
export interface HandlerResult {
  /** Run the key again after this many ms (for rollout timers). */
  requeueAfterMs?: number;
}

/**
 * Runs n workers that take keys from the queue and call handle. A thrown error retries the key
 * with backoff; success forgets its failures and honours requeueAfterMs. Resolves when the queue
 * shuts down and every worker has returned.
 */
export async function runWorkers(
  queue: WorkQueue,
  n: number,
  handle: (key: string) => Promise<HandlerResult | void>,
  onError: (key: string, err: unknown, retryInMs: number) => void = () => {},
): Promise<void> {
  const worker = async (): Promise<void> => {
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      try {
        const result = await handle(key);
        queue.forget(key);
        if (result?.requeueAfterMs !== undefined) queue.addAfter(key, result.requeueAfterMs);
      } catch (err) {
        const delay = queue.addRateLimited(key);
        onError(key, err, delay);
      } finally {
        queue.done(key);
      }
    }
  };
  await Promise.all(Array.from({ length: n }, worker));
}
