import { jest } from '@jest/globals';
import type { Routes } from '../../../contract/routes.js';
import { createLogger } from '../../../common/log.js';
import { RouterStats } from './stats.js';
import { startStatsWriter, type StatsWriterOptions } from './statsWriter.js';

const ROUTES: Routes = {
  version: 1,
  generation: 1,
  revisions: [{ name: 'digits-a', url: 'http://digits-a.ml.svc:80', weight: 100 }],
};

describe('startStatsWriter', () => {
  beforeEach(() => jest.useFakeTimers({ now: new Date('2026-11-21T06:00:00.000Z') }));
  afterEach(() => jest.useRealTimers());

  /** A writer over a fake API that records the time of every patch. */
  function writer(intervalMs: number) {
    const patchedAt: number[] = [];
    const api = {
      patchNamespacedConfigMap: async () => {
        patchedAt.push(Date.now());
        return {};
      },
      createNamespacedConfigMap: async () => ({}),
    } as unknown as StatsWriterOptions['api'];
    const stats = new RouterStats('digits-router-0', new Date());
    const w = startStatsWriter({
      api,
      namespace: 'ml',
      name: 'digits-stats',
      pod: 'digits-router-0',
      intervalMs,
      snapshot: () => stats.snapshot(new Date(), null),
      log: createLogger('error', () => {}),
    });
    return { w, patchedAt };
  }

  it('takes a new interval from a routes reload, without a restart, and goes back to its own when the routes name none', async () => {
    const { w, patchedAt } = writer(5_000);
    await jest.advanceTimersByTimeAsync(5_000);
    expect(patchedAt).toHaveLength(1);

    w.applyRoutes({ ...ROUTES, statsIntervalMs: 1_000 });
    await jest.advanceTimersByTimeAsync(3_000);
    expect(patchedAt).toHaveLength(4);

    w.applyRoutes(ROUTES);
    await jest.advanceTimersByTimeAsync(4_999);
    expect(patchedAt).toHaveLength(4);
    await jest.advanceTimersByTimeAsync(1);
    expect(patchedAt).toHaveLength(5);
    w.close();
  });

  it('keeps its timer when a reload names the interval in force', async () => {
    const { w, patchedAt } = writer(2_000);
    await jest.advanceTimersByTimeAsync(1_500);
    w.applyRoutes({ ...ROUTES, statsIntervalMs: 2_000 });
    await jest.advanceTimersByTimeAsync(500);
    expect(patchedAt).toHaveLength(1);
    w.close();
    await jest.advanceTimersByTimeAsync(10_000);
    expect(patchedAt).toHaveLength(1);
  });

  it('follows a flush asked for during a write with one more write, taking a fresh snapshot', async () => {
    let finishWrite: () => void = () => undefined;
    const written: string[] = [];
    const api = {
      patchNamespacedConfigMap: (req: { body: { data: Record<string, string> } }) => {
        written.push(Object.values(req.body.data)[0]);
        return new Promise<object>((resolve) => (finishWrite = () => resolve({})));
      },
      createNamespacedConfigMap: async () => ({}),
    } as unknown as StatsWriterOptions['api'];
    let generation = 1;
    const stats = new RouterStats('digits-router-0', new Date());
    const w = startStatsWriter({
      api,
      namespace: 'ml',
      name: 'digits-stats',
      pod: 'digits-router-0',
      intervalMs: 60_000,
      snapshot: () => stats.snapshot(new Date(), generation),
      log: createLogger('error', () => {}),
    });
    const first = w.flush();
    generation = 2; // what the next flushes are for happens while the first write is under way
    const second = w.flush();
    const third = w.flush();
    expect(written).toHaveLength(1);
    finishWrite();
    await first;
    await jest.advanceTimersByTimeAsync(0);
    expect(written.map((t) => JSON.parse(t).routesGeneration)).toEqual([1, 2]);
    finishWrite();
    await Promise.all([second, third]);
    expect(written).toHaveLength(2);
    w.close();
  });
});
