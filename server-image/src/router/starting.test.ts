import { jest } from '@jest/globals';
import type { RouteRevision, Routes } from '../../../contract/routes.js';
import { PROBE_INTERVAL_MS, PROBE_TIMEOUT_MS, StartingPods, httpReadyProbe } from './starting.js';

const A = 'http://10.0.0.1:8080';
const B = 'http://10.0.0.2:8080';
const C = 'http://10.0.0.3:8080';

/** Routes with one revision per entry: name → its starting pods (held), or null (not held). */
function routes(revisions: Record<string, string[] | null>): Routes {
  return {
    version: 1,
    generation: 1,
    revisions: Object.entries(revisions).map(([name, pods]): RouteRevision => {
      const r: RouteRevision = { name, url: `http://${name}.ml.svc:8080`, weight: 1 };
      if (pods) {
        r.hold = true;
        r.startingPods = pods;
      }
      return r;
    }),
  };
}

describe('StartingPods', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  /**
   * A prober over fake pods: each answers ready once listed in `readyNow` (a probe not answered
   * yet when `hang` lists its pod never answers, until aborted); records probes and reports.
   */
  function prober() {
    const readyNow = new Set<string>();
    const hang = new Set<string>();
    const probes: string[] = [];
    const aborted: string[] = [];
    const ready: [string, string, number][] = [];
    const pods = new StartingPods(
      (revision, pod, signal) => {
        probes.push(`${revision} ${pod}`);
        if (!hang.has(pod)) return Promise.resolve(readyNow.has(pod));
        return new Promise((_resolve, reject) =>
          signal.addEventListener('abort', () => {
            aborted.push(`${revision} ${pod}`);
            reject(signal.reason as Error);
          }),
        );
      },
      { ready: (revision, pod, n) => ready.push([revision, pod, n]) },
    );
    const count = (revision: string, pod: string) => probes.filter((p) => p === `${revision} ${pod}`).length;
    return { pods, readyNow, hang, probes, aborted, ready, count };
  }

  it('probes each starting pod of a held revision every interval until it answers ready, then reports it once', async () => {
    const { pods, readyNow, ready, count } = prober();
    pods.sync(routes({ a: [A, B], b: null }));
    await jest.advanceTimersByTimeAsync(0);
    expect([count('a', A), count('a', B)]).toEqual([1, 1]);
    expect(pods.hasReady('a')).toBe(false);
    expect(pods.pick('a')).toBeUndefined();

    await jest.advanceTimersByTimeAsync(PROBE_INTERVAL_MS * 4);
    expect([count('a', A), count('a', B)]).toEqual([5, 5]);

    readyNow.add(B);
    await jest.advanceTimersByTimeAsync(PROBE_INTERVAL_MS);
    expect(ready).toEqual([['a', B, 6]]);
    expect(pods.hasReady('a')).toBe(true);
    expect(pods.pick('a')).toBe(B);

    // A ready pod is no longer probed; the other one still is.
    await jest.advanceTimersByTimeAsync(PROBE_INTERVAL_MS * 10);
    expect([count('a', A), count('a', B)]).toEqual([16, 6]);
    expect(ready).toHaveLength(1);
    pods.close();
  });

  it('takes the ready pods of a revision in turn', async () => {
    const { pods, readyNow } = prober();
    readyNow.add(A).add(B);
    pods.sync(routes({ a: [A, B, C] }));
    await jest.advanceTimersByTimeAsync(0);
    expect([1, 2, 3, 4].map(() => pods.pick('a'))).toEqual([A, B, A, B]);
    readyNow.add(C);
    await jest.advanceTimersByTimeAsync(PROBE_INTERVAL_MS);
    expect([1, 2, 3].map(() => pods.pick('a')).sort()).toEqual([A, B, C]);
    pods.close();
  });

  it('counts a probe that does not answer within its timeout as not ready, and probes again', async () => {
    const { pods, hang, readyNow, aborted, ready, count } = prober();
    hang.add(A);
    pods.sync(routes({ a: [A] }));
    await jest.advanceTimersByTimeAsync(PROBE_TIMEOUT_MS - 1);
    expect(count('a', A)).toBe(1);
    expect(aborted).toEqual([]);
    await jest.advanceTimersByTimeAsync(1);
    expect(aborted).toEqual([`a ${A}`]);
    hang.delete(A);
    readyNow.add(A);
    await jest.advanceTimersByTimeAsync(PROBE_INTERVAL_MS);
    expect(ready).toEqual([['a', A, 2]]);
    pods.close();
  });

  it('stops probing a pod the routes no longer list, and forgets a ready one, but keeps those still listed', async () => {
    const { pods, readyNow, hang, aborted, count } = prober();
    readyNow.add(A);
    hang.add(C);
    pods.sync(routes({ a: [A, B, C] }));
    await jest.advanceTimersByTimeAsync(0);
    expect(pods.pick('a')).toBe(A);

    // New routes: A (ready) and C (its probe under way) leave, B stays and goes on being probed.
    pods.sync(routes({ a: [B] }));
    expect(aborted).toEqual([`a ${C}`]);
    expect(pods.hasReady('a')).toBe(false);
    const before = [count('a', A), count('a', B), count('a', C)];
    await jest.advanceTimersByTimeAsync(PROBE_INTERVAL_MS * 5);
    expect([count('a', A), count('a', B), count('a', C)]).toEqual([before[0], before[1] + 5, before[2]]);

    // A pod found ready stays ready across routes that still list it.
    readyNow.add(B);
    await jest.advanceTimersByTimeAsync(PROBE_INTERVAL_MS);
    pods.sync({ ...routes({ a: [B], b: null }), generation: 2 });
    expect(pods.pick('a')).toBe(B);
    pods.close();
  });

  it('stops probing when the hold drops, and starts again for a revision held again', async () => {
    const { pods, count } = prober();
    pods.sync(routes({ a: [A] }));
    await jest.advanceTimersByTimeAsync(PROBE_INTERVAL_MS * 2);
    expect(count('a', A)).toBe(3);
    pods.sync(routes({ a: null }));
    await jest.advanceTimersByTimeAsync(PROBE_INTERVAL_MS * 5);
    expect(count('a', A)).toBe(3);
    expect(jest.getTimerCount()).toBe(0);

    pods.sync(routes({ a: [A] }));
    await jest.advanceTimersByTimeAsync(0);
    expect(count('a', A)).toBe(4);
    pods.close();
    expect(jest.getTimerCount()).toBe(0);
  });

  it('probes a ready pod again once it is reported lost, and no longer picks it meanwhile', async () => {
    const { pods, readyNow, ready, count } = prober();
    readyNow.add(A);
    pods.sync(routes({ a: [A] }));
    await jest.advanceTimersByTimeAsync(0);
    expect(pods.pick('a')).toBe(A);

    readyNow.delete(A);
    expect(pods.lost('a', A)).toBe(true);
    // Reported twice (two requests refused): the second changes nothing.
    expect(pods.lost('a', A)).toBe(false);
    expect(pods.lost('a', B)).toBe(false);
    expect(pods.pick('a')).toBeUndefined();
    await jest.advanceTimersByTimeAsync(PROBE_INTERVAL_MS * 3);
    expect(count('a', A)).toBe(5);

    readyNow.add(A);
    await jest.advanceTimersByTimeAsync(PROBE_INTERVAL_MS);
    expect(ready).toEqual([
      ['a', A, 1],
      ['a', A, 6],
    ]);
    expect(pods.pick('a')).toBe(A);
    pods.close();
  });

  it('counts a probe that fails (connection refused) as not ready', async () => {
    const ready: string[] = [];
    let calls = 0;
    const pods = new StartingPods(
      () => (++calls < 3 ? Promise.reject(new Error('connect ECONNREFUSED')) : Promise.resolve(true)),
      { ready: (_revision, pod) => ready.push(pod) },
    );
    pods.sync(routes({ a: [A] }));
    await jest.advanceTimersByTimeAsync(PROBE_INTERVAL_MS * 2);
    expect(ready).toEqual([A]);
    pods.close();
  });
});

describe('httpReadyProbe', () => {
  /** A stand-in pool that answers every request with `status`, recording the paths asked for. */
  function pool(status: number) {
    const paths: string[] = [];
    let dumped = 0;
    const dispatcher = {
      request: (opts: { path: string }) => {
        paths.push(opts.path);
        return Promise.resolve({ statusCode: status, body: { dump: () => Promise.resolve(dumped++) } });
      },
    };
    return { dispatcher, paths, dumped: () => dumped };
  }

  it('is ready on a 200 from <base path>/v2/health/ready, reading the body out', async () => {
    const p = pool(200);
    const probe = httpReadyProbe(() => ({ pool: p.dispatcher as never, basePath: '/base' }));
    expect(await probe('a', A, new AbortController().signal)).toBe(true);
    expect(p.paths).toEqual(['/base/v2/health/ready']);
    expect(p.dumped()).toBe(1);
  });

  it('is not ready on any other status, or for a pod the routes in force do not list', async () => {
    const p = pool(503);
    const probe = httpReadyProbe(() => ({ pool: p.dispatcher as never, basePath: '' }));
    expect(await probe('a', A, new AbortController().signal)).toBe(false);
    expect(p.paths).toEqual(['/v2/health/ready']);
    expect(await httpReadyProbe(() => undefined)('a', A, new AbortController().signal)).toBe(false);
  });
});
