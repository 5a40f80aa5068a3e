/**
 * Test data for the rollback report's tests: a report of the given trials as the kwok path writes it
 * (no setup.node), with `extra` replacing whole top-level fields.
 */
import { summarizeTrials } from './report.js';
import type { RollbackReport, Trial } from './trials.js';

/** A four-loop kwok run of `trials` on a 2-CPU machine; `extra` overrides any top-level field. */
export function reportOf(trials: Trial[], extra: Partial<RollbackReport> = {}): RollbackReport {
  return {
    date: '2026-11-21T09:00:00.000Z',
    commit: 'abc1234',
    machine: { cpus: 2, model: 'cpu', memoryGiB: 8, node: 'v20' },
    setup: {
      loops: 4,
      intervalSeconds: 1,
      candidateWeight: 50,
      stable: 'd-a',
      candidate: 'd-b',
      routerPods: 2,
      tailMs: 2000,
    },
    loadAverage: { start: [1, 2, 3], end: [4, 5, 6] },
    requests: { total: 10, failed: 0, failedOutsideTrials: 0, failedOutsideTrialsBy: {} },
    rearmMs: [4000],
    promoteMs: [],
    trials,
    summary: summarizeTrials(trials),
    ...extra,
  };
}
