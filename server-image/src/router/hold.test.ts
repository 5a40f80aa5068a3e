import { jest } from '@jest/globals';
import { HoldQueue, type HeldRequest, type HoldOutcome } from './hold.js';
import { LoadMeter } from './load.js';

interface Req extends HeldRequest {
  id: number;
}

describe('HoldQueue', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  /** A queue of at most `max` over fake timers, recording everything it reports. */
  function queue(max: number) {
    const meters = new Map<string, LoadMeter>();
    const meter = (revision: string) => {
      if (!meters.has(revision)) meters.set(revision, new LoadMeter(() => Date.now()));
      return meters.get(revision)!;
    };
    const firstHeld: string[] = [];
    const expired: [number, string][] = [];
    const ended: [string, HoldOutcome, number][] = [];
    const q = new HoldQueue<Req>(
      max,
      meter,
      {
        firstHeld: (revision) => firstHeld.push(revision),
        expired: (r, reason) => expired.push([r.id, reason]),
        ended: (revision, outcome, heldMs) => ended.push([revision, outcome, heldMs]),
      },
      () => Date.now(),
    );
    const load = (revision: string) => meter(revision).read();
    return { q, firstHeld, expired, ended, load };
  }
  const req = (id: number, revision = 'a'): Req => ({ id, revision });

  it('releases in arrival order once the routes stop holding, keeping them in flight', () => {
    const { q, firstHeld, ended, load } = queue(10);
    const reqs = [req(1), req(2), req(3)];
    for (const r of reqs) expect(q.hold(r, 60_000)).toBe(true);
    // The stats are published once, on the first request held, not on each.
    expect(firstHeld).toEqual(['a']);
    expect(load('a')).toMatchObject({ inFlight: 3, held: 3, heldTotal: 3, heldRefused: 0 });

    // Routes that still hold release nothing.
    expect(q.release(() => ({ revision: 'a', hold: true }))).toEqual([]);
    jest.advanceTimersByTime(2_000);
    expect(q.release(() => ({ revision: 'a', hold: false })).map((r) => r.id)).toEqual([1, 2, 3]);
    expect(q.size).toBe(0);
    expect(load('a')).toMatchObject({ inFlight: 3, held: 0, heldTotal: 3, heldRefused: 0 });
    expect(ended).toEqual([
      ['a', 'released', 2_000],
      ['a', 'released', 2_000],
      ['a', 'released', 2_000],
    ]);
    // Released requests never expire.
    jest.advanceTimersByTime(120_000);
    expect(ended).toHaveLength(3);
  });

  it('expires a request at its deadline, counting it refused and no longer in flight', () => {
    const { q, expired, ended, load } = queue(10);
    q.hold(req(1), 1_000);
    jest.advanceTimersByTime(500);
    q.hold(req(2), 1_000);
    jest.advanceTimersByTime(500);
    expect(expired).toEqual([[1, 'deadline']]);
    expect(load('a')).toMatchObject({ inFlight: 1, held: 1, heldTotal: 2, heldRefused: 1 });
    jest.advanceTimersByTime(500);
    expect(expired).toEqual([
      [1, 'deadline'],
      [2, 'deadline'],
    ]);
    expect(ended).toEqual([
      ['a', 'timeout', 1_000],
      ['a', 'timeout', 1_000],
    ]);
    expect(load('a')).toMatchObject({ inFlight: 0, held: 0, heldRefused: 2 });
  });

  it('refuses at once when full, without holding or starting the request', () => {
    const { q, ended, load } = queue(2);
    expect(q.hold(req(1), 60_000)).toBe(true);
    expect(q.hold(req(2, 'b'), 60_000)).toBe(true);
    // The bound is per process, across revisions.
    expect(q.hold(req(3), 60_000)).toBe(false);
    expect(ended).toEqual([['a', 'full', 0]]);
    expect(load('a')).toMatchObject({ inFlight: 1, held: 1, heldTotal: 2, heldRefused: 1 });
    expect(q.size).toBe(2);
  });

  it('lets a request whose caller went away leave the queue', () => {
    const { q, expired, ended, load } = queue(10);
    const [one, two] = [req(1), req(2)];
    q.hold(one, 1_000);
    q.hold(two, 1_000);
    jest.advanceTimersByTime(300);
    expect(q.cancel(one)).toBe(true);
    expect(q.cancel(one)).toBe(false);
    expect(ended).toEqual([['a', 'cancelled', 300]]);
    expect(load('a')).toMatchObject({ inFlight: 1, held: 1, heldRefused: 0 });
    jest.advanceTimersByTime(1_000);
    expect(expired).toEqual([[2, 'deadline']]);
    expect(q.release(() => ({ revision: 'a', hold: false }))).toEqual([]);
  });

  it('places a request whose revision left the routes again, on a held revision with its first deadline', () => {
    const { q, firstHeld, expired, ended, load } = queue(10);
    const reqs = [req(1, 'old'), req(2, 'a'), req(3, 'old')];
    for (const r of reqs) q.hold(r, 1_000);
    // 'old' is gone; its requests go to 'b', which still holds; 'a' comes up.
    const released = q.release((r) =>
      r.revision === 'old' ? { revision: 'b', hold: true } : { revision: 'a', hold: false },
    );
    expect(released.map((r) => r.id)).toEqual([2]);
    expect(firstHeld).toEqual(['old', 'a', 'b']);
    expect(load('old')).toMatchObject({ inFlight: 0, held: 0 });
    expect(load('b')).toMatchObject({ inFlight: 2, held: 2 });
    jest.advanceTimersByTime(1_000);
    expect(expired).toEqual([
      [1, 'deadline'],
      [3, 'deadline'],
    ]);
    expect(ended.filter(([, outcome]) => outcome === 'timeout')).toEqual([
      ['b', 'timeout', 1_000],
      ['b', 'timeout', 1_000],
    ]);
  });

  it('expires everything held at shutdown, oldest first', () => {
    const { q, expired, load } = queue(10);
    q.hold(req(1), 60_000);
    q.hold(req(2, 'b'), 60_000);
    q.expireAll();
    expect(expired).toEqual([
      [1, 'shutdown'],
      [2, 'shutdown'],
    ]);
    expect(q.size).toBe(0);
    expect(load('a')).toMatchObject({ inFlight: 0, held: 0, heldRefused: 1 });
  });
});
