/** Tests for settle.ts: the settle point of a rollback, loop checks, statistics, stages (node:test). */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  breakdown,
  distribution,
  everyLoopSaw,
  everyLoopSettled,
  noFailureSince,
  quantile,
  settle,
  stragglersAfter,
  type RequestRecord,
} from './settle.js';

const S = 'digits-stable';
const C = 'digits-cand';

/** A request of `loop` sent at `sentAt`, answered 10 ms later by `revision` (status 200 unless given). */
function req(loop: number, sentAt: number, revision: string | undefined, status = 200): RequestRecord {
  return { loop, sentAt, doneAt: sentAt + 10, status, ...(revision !== undefined ? { revision } : {}) };
}

test('settle: the first request after the last off-target one marks the moment, from the action', () => {
  const records = [
    req(0, 990, C),
    req(1, 995, S),
    req(0, 1010, C),
    req(1, 1040, C),
    req(0, 1100, S),
    req(1, 1120, S),
    req(0, 1200, S),
  ];
  const s = settle(records, 1000, 1300, S);
  assert.deepEqual(s, {
    settledAt: 1100,
    latencyMs: 100,
    lastOffTargetAt: 1040,
    requests: 5,
    offTarget: 2,
    failed: 0,
    loopSwitchMs: [10, 40],
  });
});

test('settle: requests sent before the action do not count, even when answered by the old revision after it', () => {
  const records = [{ loop: 0, sentAt: 999, doneAt: 1500, status: 200, revision: C }, req(0, 1500, S), req(1, 1001, S)];
  const s = settle(records, 1000, 2000, S);
  assert.equal(s?.latencyMs, 0);
  assert.equal(s?.settledAt, 1000);
  assert.equal(s?.requests, 2);
});

test('settle: a failed request is off target and counted as failed, not as off-target', () => {
  const records = [req(0, 1000, S), req(0, 1020, undefined, 0), req(0, 1050, S, 503), req(0, 1070, S)];
  const s = settle(records, 1000, 2000, S);
  assert.equal(s?.latencyMs, 70);
  assert.equal(s?.failed, 2);
  assert.equal(s?.offTarget, 0);
});

test('settle: undefined while the window ends on an off-target request', () => {
  assert.equal(settle([req(0, 1010, S), req(0, 1020, C)], 1000, 2000, S), undefined);
});

test('settle: requests after the window end are ignored', () => {
  const s = settle([req(0, 1010, C), req(0, 1020, S), req(0, 3000, C)], 1000, 2000, S);
  assert.equal(s?.latencyMs, 20);
});

test('everyLoopSettled: each loop needs the tail on target after its own last miss', () => {
  const records = [
    req(0, 1000, C),
    req(0, 1100, S),
    req(0, 2200, S),
    req(1, 1500, C),
    req(1, 1600, S),
    req(1, 2400, S),
  ];
  assert.equal(everyLoopSettled(records, 2, 1000, S, 1000), false, 'loop 1 has only 900 ms since its miss');
  assert.equal(everyLoopSettled([...records, req(1, 2600, S)], 2, 1000, S, 1000), true);
});

test('everyLoopSettled: a loop with no request since the action is not settled', () => {
  assert.equal(everyLoopSettled([req(0, 1000, S), req(0, 5000, S)], 2, 1000, S, 1000), false);
});

test('everyLoopSaw: every loop must have an answer from the revision since the time', () => {
  const records = [req(0, 100, C), req(0, 1100, C), req(1, 1200, S)];
  assert.equal(everyLoopSaw(records, 2, 1000, C), false);
  assert.equal(everyLoopSaw([...records, req(1, 1300, C)], 2, 1000, C), true);
});

test('quantile and distribution: nearest rank, p99 of fewer than 100 values is the maximum', () => {
  assert.equal(quantile([1, 2, 3, 4], 0.5), 2);
  const d = distribution([50, 10, 40, 20, 30]);
  assert.deepEqual(d, { n: 5, p50: 30, p90: 50, p99: 50, max: 50, mean: 30 });
  const hundred = distribution(Array.from({ length: 100 }, (_, i) => i + 1));
  assert.equal(hundred.p99, 99);
  assert.equal(hundred.p90, 90);
  assert.equal(distribution([]).n, 0);
  assert.throws(() => quantile([], 0.5), /empty sample/);
});

test('breakdown: stages from the action to the data path; missing observations leave stages out', () => {
  assert.deepEqual(
    breakdown({ actionAt: 1000, patchedAt: 1010, routesSeenAt: 1200, routersAppliedAt: [1210, 1230], settledAt: 1250 }),
    {
      patchMs: 10,
      operatorMs: 190,
      routersMs: 30,
      dataPathMs: 20,
    },
  );
  assert.deepEqual(breakdown({ actionAt: 1000, patchedAt: 1010, routersAppliedAt: [1230] }), { patchMs: 10 });
});

test('stragglersAfter: old-revision answers sent after a moment, within the window', () => {
  const records = [req(0, 1000, C), req(0, 1200, C), req(1, 1300, C, 500), req(1, 1400, S), req(0, 2500, C)];
  assert.equal(stragglersAfter(records, 1100, 2000, S), 1);
});

test('noFailureSince: only failures sent at or after the time count', () => {
  const records = [req(0, 900, S, 503), req(0, 1000, S), req(1, 1100, C)];
  assert.equal(noFailureSince(records, 1000), true);
  assert.equal(noFailureSince(records, 900), false);
  assert.equal(noFailureSince([...records, req(1, 1200, undefined, 0)], 1000), false);
});
