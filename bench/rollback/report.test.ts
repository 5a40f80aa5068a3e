/** Tests for report.ts: per-kind summaries, the p99 target, and rollback.md (node:test). */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { nodeOf, renderMarkdown, summarizeTrials } from './report.js';
import { reportOf } from './testing.js';
import type { RollbackReport, Trial } from './trials.js';

/** An abort trial that settled `latency` ms after its action at t = 1000·index. */
function trial(index: number, latency: number | undefined, extra: Partial<Trial> = {}): Trial {
  const actionAt = 1000 * index;
  const t: Trial = {
    kind: 'abort',
    index,
    from: 'd-b',
    target: 'd-a',
    actionAt,
    patchedAt: actionAt + 5,
    routesSeenAt: actionAt + 100,
    routersAppliedAt: [actionAt + 110, actionAt + 130],
    windowEnd: actionAt + 900,
    requests: 50,
    failed: 0,
    stragglers: 1,
    loadAverage: 2,
    ...extra,
  };
  if (latency !== undefined) {
    t.settled = {
      settledAt: actionAt + latency,
      latencyMs: latency,
      requests: 50,
      offTarget: 3,
      failed: 0,
      loopSwitchMs: [latency - 20, latency - 1],
    };
  }
  return t;
}

test('summarizeTrials: latency, stages, skew, spread and counts per kind', () => {
  const s = summarizeTrials([trial(1, 150), trial(2, 250, { failed: 2 }), trial(3, 200)]).abort!;
  assert.equal(s.trials, 3);
  assert.deepEqual([s.latencyMs.p50, s.latencyMs.max], [200, 250]);
  assert.deepEqual([s.untilRoutersAndDataMs.p50, s.untilRoutersAndDataMs.max], [200, 250]);
  assert.equal(s.stages.patchMs.p50, 5);
  assert.equal(s.stages.operatorMs.p50, 95);
  assert.equal(s.stages.routersMs.p50, 30);
  assert.deepEqual([s.stages.dataPathMs.p50, s.stages.dataPathMs.max], [70, 120]);
  assert.equal(s.routerSkewMs.max, 20);
  assert.equal(s.loopSpreadMs.max, 19);
  assert.deepEqual([s.failed, s.stragglers, s.requests, s.unsettled], [2, 3, 150, 0]);
  assert.equal(s.p99UnderOneSecond, true);
});

test('summarizeTrials: a slow or unsettled trial fails the one-second target', () => {
  assert.equal(summarizeTrials([trial(1, 150), trial(2, 1000)]).abort!.p99UnderOneSecond, false);
  const s = summarizeTrials([trial(1, 150), trial(2, undefined)]).abort!;
  assert.equal(s.unsettled, 1);
  assert.equal(s.p99UnderOneSecond, false);
});

test('summarizeTrials: the routers bound counts when the data path looked settled before the last router applied', () => {
  const s = summarizeTrials([trial(1, 40)]).abort!;
  assert.equal(s.latencyMs.max, 40);
  assert.equal(s.untilRoutersAndDataMs.max, 130);
});

test('summarizeTrials: kinds without trials are left out', () => {
  assert.deepEqual(Object.keys(summarizeTrials([trial(1, 100)])), ['abort']);
});

test('renderMarkdown: headline figures, the verdict and every trial', () => {
  const trials = [
    trial(1, 150),
    trial(2, undefined),
    { ...trial(3, 300), kind: 'rollback-after-promotion' as const, index: 1 },
  ];
  const report = reportOf(trials, {
    requests: { total: 1000, failed: 3, failedOutsideTrials: 3, failedOutsideTrialsBy: { '503 d-b': 3 } },
    rearmMs: [4000, 6000],
    promoteMs: [3000],
  });
  const md = renderMarkdown(report);
  assert.match(md, /## Abort of a candidate at 50%/);
  assert.match(md, /2 trials, \*\*1 never settled\*\*; p99 under one second \(the first row\): \*\*not met\*\*/);
  assert.match(
    md,
    /## Rollback after promotion[^\n]*\n\n1 trials; p99 under one second \(the first row\): \*\*met\*\*/,
  );
  assert.match(md, /\| \*\*action → every new request on the target\*\* \| 1 \| 150 \| 150 \| 150 \| 150 \|/);
  assert.match(md, /\| abort #2 \| not settled \|/);
  assert.match(md, /\| rollback-after-promotion #1 \| 300 \| 100 \| 110, 130 \| 0 \| 1 \| 2.00 \|/);
  assert.match(
    md,
    /1000 requests, 3 failed \(3 of them outside the rollback windows: re-arming, promotion; by status and revision: 503 d-b × 3\)/,
  );
});

test('nodeOf: reports from before the real-pod mode were kwok runs', () => {
  const kwok = reportOf([trial(1, 100)]);
  assert.equal(nodeOf(kwok), 'kwok');
  assert.equal(nodeOf({ ...kwok, setup: { ...kwok.setup, node: 'real' } }), 'real');
});

test('renderMarkdown: the platform decides the setup text, the re-arm line and how to reproduce', () => {
  const kwok = reportOf([trial(1, 100)]);
  const real: RollbackReport = {
    ...kwok,
    commit: 'def5678',
    setup: { ...kwok.setup, node: 'real', loadPausedWhileRearming: false },
  };
  const kwokMd = renderMarkdown(kwok);
  assert.match(kwokMd, /^# Rollback latency, end to end \(/);
  assert.match(kwokMd, /local pod runner running\nthe model servers and 2 router pods as processes/);
  assert.match(kwokMd, /restarts the candidate's process; the load paused meanwhile/);
  assert.match(kwokMd, /Reproduce: `make bench-rollback` /);
  assert.match(kwokMd, /\[rollback-real\.md\]\(rollback-real\.md\)/);
  assert.doesNotMatch(kwokMd, /Side by side/);

  const realMd = renderMarkdown(real, kwok);
  assert.match(realMd, /^# Rollback latency, end to end, on real pods \(/);
  assert.match(
    realMd,
    /Helm chart\n\(the operator in two pods, leader election\), the model servers and 2 router pods as real pods/,
  );
  assert.match(realMd, /through the apex\nService's ClusterIP\./);
  assert.match(realMd, /restarts the candidate's pod; the load kept running meanwhile/);
  assert.match(realMd, /Reproduce: `make bench-rollback-real` \(root on Linux\)/);
  assert.match(realMd, /## Side by side: kwok path vs real pods/);
  assert.doesNotMatch(renderMarkdown(real), /Side by side/, 'no kwok results: no comparison');
});
