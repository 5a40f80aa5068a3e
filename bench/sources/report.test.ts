/** Tests for report.ts: medians, ratios, the goal marked met or not, the start table's parts (node:test). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  copierMedians,
  median,
  pipelineTable,
  ratio,
  startSummary,
  startTable,
  throughputTable,
  type Copier,
  type PodStart,
  type ScenarioId,
  type StartRow,
  type ThroughputRow,
} from './report.js';

const MB100 = 100e6;

function copier(id: string, runs: Copier['runs']): Copier {
  return { id, label: id, short: id, startup: 'its start', runs };
}

test('median is the lower middle of an even count and ignores order', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2);
  assert.ok(Number.isNaN(median([])));
});

test('a copier without a transfer time is judged on its wall time', () => {
  const curl = copier('curl', [{ wallMs: 200 }, { wallMs: 100 }, { wallMs: 300 }]);
  assert.deepEqual(copierMedians(curl), { wallMs: 200, transferMs: 200, cpuMs: NaN });
});

test('ratio is our throughput over the baseline: half the time is 2x', () => {
  assert.equal(ratio(250, 500), 2);
  assert.equal(ratio(500, 250), 0.5);
});

test('the throughput table marks the 0.9x goal on transfer, not on wall', () => {
  const row: ThroughputRow = {
    source: 's3',
    bytes: MB100,
    ours: copier('ours', [{ wallMs: 600, transferMs: 400, cpuMs: 600 }]),
    baselines: [
      // Slower to start (wall), as fast once started: 1.0x on transfer.
      copier('aws', [{ wallMs: 900, transferMs: 400, cpuMs: 700 }]),
      // Twice as fast: 0.5x, not met.
      copier('curl', [{ wallMs: 200, cpuMs: 100 }]),
    ],
    readOnly: copier('read', [{ wallMs: 300, transferMs: 200, cpuMs: 300 }]),
  };
  const lines = throughputTable([row]).split('\n');
  assert.match(lines[2], /^\| s3 \| \*\*ours\*\* \| its start \| 400 \| 250 \| 600 \| 167 \| 600 \|/);
  assert.match(lines[3], /\| aws \|.*\| 1\.00 \| 1\.50 \| met \|$/);
  assert.match(lines[4], /\| curl \|.*\| 0\.50 \| 0\.33 \| not met \|$/);
  assert.match(pipelineTable([row]).split('\n')[2], /^\| s3 \| 200 \(500\) \| 400 \(250\) \| 200 \| 300 \/ 600 \|$/);
});

function start(readyMs: number, fetchMs: number, loadMs: number, path: string, agentDownloads?: number): PodStart {
  return { readyMs, fetchMs, loadMs, path, ...(agentDownloads === undefined ? {} : { agentDownloads }) };
}

test('the start table splits ready into fetch, session load and the rest, with each round’s path and downloads', () => {
  const round = (k: number): Record<ScenarioId, PodStart> => ({
    cold: start(3000 * k, 2000 * k, 2500 * k, 'miss', 1),
    warm: start(1500, 700, 1200, 'hit', 1),
    other: start(3000, 2000, 2500, 'miss', 2),
    rollback: start(1400, 600, 1100, 'hit', 2),
    direct: start(1200, 500, 1000, 'direct'),
  });
  const row: StartRow = { source: 'gs', rounds: [round(1), round(2), round(1)] };
  const lines = startTable([row]).split('\n');
  assert.match(lines[2], /^\| gs \| first pod .*\| 3000 \| 2000 \| 500 \| 500 \| miss, miss, miss \| 1, 1, 1 \|$/);
  assert.match(lines[3], /^\| gs \| second pod.*\| 1500 \| 700 \| 500 \| 300 \| hit, hit, hit \| 1, 1, 1 \|$/);
  assert.match(lines[6], /^\| gs \| baseline: .*\| direct, direct, direct \| -, -, - \|$/);
  assert.match(
    startSummary([row]).split('\n')[2],
    /^\| gs \| 3000 \| 1500 \| 1400 \| 1200 \| 0\.50 \| 0\.47 \| 1\.25 \|$/,
  );
});
