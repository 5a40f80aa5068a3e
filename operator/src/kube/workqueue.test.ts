import { backoffDelay, runWorkers, WorkQueue, type Clock } from './workqueue.js';

/** A clock whose time moves only when the test says so. */
class FakeClock implements Clock {
  t = 0;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private nextId = 1;
  now(): number {
    return this.t;
  }
  setTimer(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  }
  clearTimer(h: unknown): void {
    this.timers = this.timers.filter((x) => x.id !== h);
  }
  advance(ms: number): void {
    this.t += ms;
    const due = this.timers.filter((x) => x.at <= this.t).sort((a, b) => a.at - b.at);
    this.timers = this.timers.filter((x) => x.at > this.t);
    for (const d of due) d.fn();
  }
  pending(): number {
    return this.timers.length;
  }
}

describe('WorkQueue', () => {
  it('deduplicates a key that is added while it waits', async () => {
    const q = new WorkQueue(new FakeClock());
    q.add('a');
    q.add('b');
    q.add('a');
    expect(q.len()).toBe(2);
    expect(await q.get()).toBe('a');
    expect(await q.get()).toBe('b');
  });

  it('never hands a key in flight to a second worker, and runs it again after done', async () => {
    const q = new WorkQueue(new FakeClock());
    q.add('a');
    const first = await q.get();
    q.add('a');
    expect(q.len()).toBe(0);
    let second: string | undefined;
    void q.get().then((k) => (second = k));
    await Promise.resolve();
    expect(second).toBeUndefined();
    q.done(first!);
    await Promise.resolve();
    expect(second).toBe('a');
  });

  it('delays addAfter until the clock reaches it, keeping the earliest delay', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue(clock);
    q.addAfter('a', 1000);
    q.addAfter('a', 5000);
    expect(clock.pending()).toBe(1);
    clock.advance(999);
    expect(q.len()).toBe(0);
    clock.advance(1);
    expect(q.len()).toBe(1);
    q.addAfter('b', 5000);
    q.addAfter('b', 200);
    expect(clock.pending()).toBe(1);
    clock.advance(200);
    expect(q.len()).toBe(2);
  });

  it('backs off exponentially with a cap and forgets on success', () => {
    const opts = { baseMs: 100, maxMs: 1000 };
    expect([1, 2, 3, 4, 5, 50].map((n) => backoffDelay(n, opts))).toEqual([100, 200, 400, 800, 1000, 1000]);
    const q = new WorkQueue(new FakeClock(), opts);
    expect(q.addRateLimited('a')).toBe(100);
    expect(q.addRateLimited('a')).toBe(200);
    expect(q.retries('a')).toBe(2);
    q.forget('a');
    expect(q.addRateLimited('a')).toBe(100);
  });

  it('shutDown wakes idle getters with undefined and waits for in-flight keys', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue(clock);
    q.add('a');
    const key = await q.get();
    const idle = q.get();
    q.addAfter('b', 10);
    let drained = false;
    const shut = q.shutDown().then(() => (drained = true));
    expect(await idle).toBeUndefined();
    expect(clock.pending()).toBe(0);
    await Promise.resolve();
    expect(drained).toBe(false);
    q.done(key!);
    await shut;
    expect(drained).toBe(true);
    q.add('c');
    expect(await q.get()).toBeUndefined();
  });
});

describe('runWorkers', () => {
  it('processes keys concurrently but one key at a time, retrying failures with backoff', async () => {
    const clock = new FakeClock();
    const q = new WorkQueue(clock, { baseMs: 100, maxMs: 1000 });
    const active = new Set<string>();
    let overlap = false;
    const calls: string[] = [];
    let failOnce = true;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const run = runWorkers(q, 3, async (key) => {
      if (active.has(key)) overlap = true;
      active.add(key);
      calls.push(key);
      if (key === 'slow') await gate;
      active.delete(key);
      if (key === 'flaky' && failOnce) {
        failOnce = false;
        throw new Error('boom');
      }
      if (key === 'timer') return { requeueAfterMs: 500 };
    });
    q.add('slow');
    q.add('flaky');
    q.add('timer');
    await new Promise((r) => setImmediate(r));
    q.add('slow'); // while in flight: must wait
    await new Promise((r) => setImmediate(r));
    expect(calls.filter((c) => c === 'slow')).toHaveLength(1);
    release();
    await new Promise((r) => setImmediate(r));
    expect(calls.filter((c) => c === 'slow')).toHaveLength(2);
    expect(calls.filter((c) => c === 'flaky')).toHaveLength(1);
    clock.advance(100); // backoff of flaky
    await new Promise((r) => setImmediate(r));
    expect(calls.filter((c) => c === 'flaky')).toHaveLength(2);
    expect(q.retries('flaky')).toBe(0);
    clock.advance(400); // timer requeue at 500
    await new Promise((r) => setImmediate(r));
    expect(calls.filter((c) => c === 'timer')).toHaveLength(2);
    expect(overlap).toBe(false);
    await q.shutDown();
    await run;
  });
});
