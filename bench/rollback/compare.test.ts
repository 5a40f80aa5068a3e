/** Tests for compare.ts: the kwok path and real pods side by side (node:test). */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { comparisonMarkdown } from './compare.js';
import { reportOf } from './testing.js';
import type { RollbackReport, Trial, TrialKind } from './trials.js';

/** A trial of `kind` that settled `latency` ms after its action, its stages 5 / 40 / 3 ms. */
function trial(kind: TrialKind, index: number, latency: number, extra: Partial<Trial> = {}): Trial {
  const actionAt = 10_000 * index;
  return {
    kind,
    index,
    from: 'd-b',
    target: 'd-a',
    actionAt,
    patchedAt: actionAt + 5,
    routesSeenAt: actionAt + 45,
    routersAppliedAt: [actionAt + 46, actionAt + 48],
    windowEnd: actionAt + 3000,
    requests: 100,
    failed: 0,
    stragglers: 0,
    loadAverage: 2,
    settled: {
      settledAt: actionAt + latency,
      latencyMs: latency,
      requests: 100,
      offTarget: 10,
      failed: 0,
      loopSwitchMs: [latency - 10, latency],
    },
    ...extra,
  };
}

function report(trials: Trial[], extra: Partial<RollbackReport> = {}): RollbackReport {
  return reportOf(trials, {
    date: '2026-12-07T03:30:00.000Z',
    machine: { cpus: 2, model: 'cpu', memoryGiB: 24, node: 'v26.12.1' },
    loadAverage: { start: [1, 1, 1], end: [2, 2, 2] },
    requests: { total: 1000, failed: 0, failedOutsideTrials: 0, failedOutsideTrialsBy: {} },
    rearmMs: [2000, 3000],
    promoteMs: [1200],
    ...extra,
  });
}

/** The cells of the row whose label starts with `label`. */
function cells(lines: string[], label: string): string[] {
  const line = lines.find((l) => l.startsWith(`| ${label}`));
  assert.ok(line, `a row starting "${label}"`);
  return line
    .split(' | ')
    .slice(1)
    .map((c) => c.replace(/ \|$/, ''));
}

const kwok = report([trial('abort', 1, 50), trial('abort', 2, 60), trial('rollback-after-promotion', 3, 40)], {
  date: '2026-11-21T09:26:15.995Z',
  commit: 'b63c836',
});
const real = report(
  [
    trial('abort', 1, 120, { failed: 2, stragglers: 1, loadAverage: 3.5 }),
    trial('abort', 2, 200, { loadAverage: 4.5 }),
  ],
  {
    setup: { ...reportOf([]).setup, node: 'real', loadPausedWhileRearming: false },
    requests: { total: 900, failed: 5, failedOutsideTrials: 3, failedOutsideTrialsBy: { '503 d-b': 3 } },
    rearmMs: [9000, 12000],
    promoteMs: [],
  },
);
const lines = comparisonMarkdown(kwok, real);

test('comparisonMarkdown: one row per figure, the kwok path left and real pods right', () => {
  assert.equal(lines[0], '## Side by side: kwok path vs real pods');
  assert.deepEqual(cells(lines, 'run'), [
    '2026-11-21, commit b63c836, Node v26.12.1',
    '2026-12-07, commit abc1234, Node v26.12.1',
  ]);
  assert.deepEqual(cells(lines, 'trials'), ['2 + 1', '2 + 0']);
  assert.deepEqual(cells(lines, '**abort'), ['50 / 60 / 60', '120 / 200 / 200']);
});

test('comparisonMarkdown: a kind without trials shows a dash', () => {
  assert.deepEqual(cells(lines, '**rollback after promotion**'), ['40 / 40 / 40', '–']);
  assert.deepEqual(cells(lines, 'after-promotion stage medians'), ['5 / 40 / 3 / -8', '–']);
  assert.deepEqual(cells(lines, 'promotion median'), ['1200 / 1200', '–']);
});

test('comparisonMarkdown: failed requests in and out of the windows, stragglers, load, re-arm', () => {
  assert.deepEqual(cells(lines, '**failed requests**'), ['0 of 300', '2 of 200']);
  assert.deepEqual(cells(lines, 'failed requests outside'), ['0 (whole run: 0 of 1000)', '3 (whole run: 5 of 900)']);
  assert.deepEqual(cells(lines, 'stragglers'), ['0', '1']);
  assert.deepEqual(cells(lines, 'abort stage medians'), ['5 / 40 / 3 / 2', '5 / 40 / 3 / 72']);
  assert.deepEqual(cells(lines, 'load average'), ['2.00 (2.00)', '3.50 (4.50)']);
  // Reports from before the real-pod mode paused the load while re-arming.
  assert.deepEqual(cells(lines, 're-arm'), ['2000 / 3000 (load paused)', '9000 / 12000 (load running)']);
});
