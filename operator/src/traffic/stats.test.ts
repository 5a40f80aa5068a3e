import { emptyStatsDocument, statsSnapshot } from '../../../contract/stats.js';
import { staleStatsPatch, STATS_MAX_AGE_SECONDS } from './stats.js';

const NOW = new Date('2026-11-21T07:00:00.000Z');
const doc = (pod: string, secondsAgo: number) =>
  JSON.stringify(
    statsSnapshot(
      emptyStatsDocument(pod, new Date('2026-11-21T06:00:00.000Z')),
      new Date(NOW.getTime() - secondsAgo * 1000),
      1,
    ),
  );

describe('staleStatsPatch', () => {
  it('removes documents of pods that stopped writing, and unreadable ones, keeping live pods', () => {
    const data = {
      'router-live.json': doc('router-live', 4),
      'router-edge.json': doc('router-edge', STATS_MAX_AGE_SECONDS),
      'router-gone.json': doc('router-gone', STATS_MAX_AGE_SECONDS + 1),
      'router-broken.json': '{',
      notes: 'not a stats key',
    };
    expect(staleStatsPatch(data, NOW)).toEqual({ data: { 'router-gone.json': null, 'router-broken.json': null } });
  });

  it('is undefined when every document is fresh or there is no data', () => {
    expect(staleStatsPatch({ 'router-a.json': doc('router-a', 1) }, NOW)).toBeUndefined();
    expect(staleStatsPatch(undefined, NOW)).toBeUndefined();
  });
});
