/** Tests for summary.ts and report.ts: ratios, targets met or not, flagged cells (node:test). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Cell, ModelName, Payload, ServerKind } from './plan.js';
import { renderMarkdown, type BenchReport } from './report.js';
import { cellProblem, combineRounds, cpuMsPerRequest, summarize, type CellResult, type Comparison } from './summary.js';
import type { LoadResult } from './wrk.js';

function load(rps: number, p99: number, badStatus = 0, socketErrors = 0): LoadResult {
  return {
    requests: rps * 10,
    durationSeconds: 10,
    requestsPerSecond: rps,
    bytes: 0,
    latencyMs: { p50: p99 / 2, p90: p99 * 0.9, p99, max: p99 * 2, mean: p99 / 2 },
    badStatus,
    socketErrors,
  };
}

function cell(
  kind: ServerKind,
  model: ModelName,
  payload: Payload,
  l: LoadResult | undefined,
  batching: boolean | null = kind === 'modelship' ? true : null,
): CellResult {
  const base: Cell = { server: `${kind}-${model}`, kind, model, payload, batching };
  return l
    ? { ...base, load: l, loadAverageBefore: 1 }
    : { ...base, failure: 'server did not start', loadAverageBefore: 1 };
}

const PROBLEMS: [string, CellResult, string | null][] = [
  ['a clean cell', cell('flask', 'tiny', 'json', load(100, 50)), null],
  ['bad statuses', cell('flask', 'tiny', 'json', load(100, 50, 3)), '3 responses with status >= 400'],
  ['socket errors', cell('flask', 'tiny', 'json', load(100, 50, 0, 2)), '2 socket errors/timeouts'],
  [
    'both',
    cell('flask', 'tiny', 'json', load(100, 50, 1, 1)),
    '1 responses with status >= 400, 1 socket errors/timeouts',
  ],
  ['no request completed', cell('flask', 'tiny', 'json', load(0, 50)), 'no request completed'],
  ['a failure', cell('flask', 'tiny', 'json', undefined), 'server did not start'],
];
for (const [what, c, expected] of PROBLEMS) {
  test(`cellProblem: ${what}`, () => {
    assert.equal(cellProblem(c), expected);
  });
}

test('cpuMsPerRequest divides the server group CPU time by completed requests', () => {
  assert.equal(cpuMsPerRequest({ ...cell('flask', 'tiny', 'json', load(100, 1)), serverCpuSeconds: 2 }), 2);
  assert.equal(cpuMsPerRequest(cell('flask', 'tiny', 'json', load(100, 1))), null);
  assert.equal(cpuMsPerRequest({ ...cell('flask', 'tiny', 'json', load(0, 1)), serverCpuSeconds: 2 }), null);
});

test('combineRounds keeps the median round by req/s and sums errors over all rounds', () => {
  const rounds = [
    { ...cell('flask', 'tiny', 'json', load(300, 90, 1)), serverCpuSeconds: 3 },
    { ...cell('flask', 'tiny', 'json', load(500, 70)), serverCpuSeconds: 5 },
    { ...cell('flask', 'tiny', 'json', load(400, 80, 0, 2)), serverCpuSeconds: 4 },
  ];
  const combined = combineRounds(rounds);
  assert.equal(combined.load?.requestsPerSecond, 400);
  assert.equal(combined.load?.latencyMs.p99, 80);
  assert.equal(combined.serverCpuSeconds, 4);
  assert.deepEqual([combined.load?.badStatus, combined.load?.socketErrors], [1, 2]);
  assert.deepEqual(combined.roundsRequestsPerSecond, [300, 500, 400]);
  assert.equal(combined.failure, undefined);
});

test('combineRounds takes the lower middle of an even count and keeps a failed round as a flag', () => {
  const combined = combineRounds([
    cell('flask', 'tiny', 'json', load(300, 90)),
    cell('flask', 'tiny', 'json', undefined),
    cell('flask', 'tiny', 'json', load(500, 70)),
  ]);
  assert.equal(combined.load?.requestsPerSecond, 300);
  assert.equal(combined.failure, 'round 2: server did not start');
  assert.deepEqual(combined.roundsRequestsPerSecond, [300, null, 500]);
  assert.match(cellProblem(combined) ?? '', /round 2: server did not start/);
});

test('combineRounds of rounds that all failed has no figures, only the failures', () => {
  const combined = combineRounds([cell('flask', 'tiny', 'json', undefined), cell('flask', 'tiny', 'json', undefined)]);
  assert.equal(combined.load, undefined);
  assert.equal(combined.failure, 'round 1: server did not start; round 2: server did not start');
  assert.throws(() => combineRounds([]), /no rounds/);
});

function pick(comparisons: Comparison[], what: string, model: ModelName, payload: Payload): Comparison {
  const found = comparisons.find((c) => c.what === what && c.model === model && c.payload === payload);
  assert.ok(found, `${what} ${model} ${payload}`);
  return found;
}

test('summarize computes each ratio and judges it against its target', () => {
  const cells = [
    cell('echo', 'tiny', 'json', load(10_000, 5)),
    cell('flask', 'tiny', 'json', load(500, 100)),
    cell('modelship', 'tiny', 'json', load(6_000, 20)),
    cell('echo', 'mlp', 'binary', load(8_000, 5)),
    { ...cell('flask', 'mlp', 'binary', load(400, 100)), serverCpuSeconds: 8 },
    { ...cell('modelship', 'mlp', 'binary', load(1_000, 150)), serverCpuSeconds: 5 },
    { ...cell('modelship', 'mlp', 'binary', load(800, 120), false), serverCpuSeconds: 8 },
  ];
  const { comparisons } = summarize(cells);
  const expect: [string, ModelName, Payload, number, boolean | null][] = [
    ['throughput Modelship / Flask', 'tiny', 'json', 12, true],
    ['p99 latency Modelship / Flask', 'tiny', 'json', 0.2, true],
    ['throughput Modelship / echo', 'tiny', 'json', 0.6, true],
    ['throughput Modelship / Flask', 'mlp', 'binary', 2.5, false],
    ['p99 latency Modelship / Flask', 'mlp', 'binary', 1.5, false],
    ['throughput Modelship / echo', 'mlp', 'binary', 0.125, null],
    ['throughput batching on / off', 'mlp', 'binary', 1.25, false],
    // CPU ms/request: Flask 8000/4000 = 2, ours 5000/10000 = 0.5, ours unbatched 8000/8000 = 1.
    ['CPU per request Flask / Modelship', 'mlp', 'binary', 4, null],
    ['CPU per request batching off / on', 'mlp', 'binary', 2, null],
  ];
  for (const [what, model, payload, ratio, met] of expect) {
    const c = pick(comparisons, what, model, payload);
    assert.equal(c.ratio?.toFixed(3), ratio.toFixed(3), `${what} ${model} ${payload}`);
    assert.equal(c.met, met, `${what} ${model} ${payload}`);
  }
  assert.equal(pick(comparisons, 'throughput Modelship / echo', 'mlp', 'binary').target, null);
  assert.equal(pick(comparisons, 'CPU per request Flask / Modelship', 'tiny', 'json').ratio, null);
});

test('a flagged cell leaves its targets unjudged, and a missing one reads "not measured"', () => {
  const cells = [cell('flask', 'tiny', 'json', load(100, 100, 5)), cell('modelship', 'tiny', 'json', load(1_000, 10))];
  const { comparisons } = summarize(cells);
  const flagged = pick(comparisons, 'throughput Modelship / Flask', 'tiny', 'json');
  assert.equal(flagged.ratio, 10);
  assert.equal(flagged.met, null);
  assert.match(flagged.note ?? '', /flagged: 5 responses with status >= 400/);
  const missing = pick(comparisons, 'throughput Modelship / Flask', 'mlp', 'json');
  assert.deepEqual([missing.ratio, missing.met, missing.note], [null, null, 'not measured']);
});

test('summarize reports how far ours and Flask disagree on the same request', () => {
  const outputs = (v: number) => [{ name: 'y', datatype: 'FP32', shape: [1], values: [v] }];
  const cells = [
    { ...cell('flask', 'tiny', 'json', load(1, 1)), outputs: outputs(0.5) },
    { ...cell('modelship', 'tiny', 'json', load(1, 1)), outputs: outputs(0.75) },
  ];
  const { agreement } = summarize(cells);
  assert.equal(agreement.find((a) => a.model === 'tiny' && a.payload === 'json')?.maxAbsDifference, 0.25);
  assert.equal(agreement.find((a) => a.model === 'mlp' && a.payload === 'json')?.maxAbsDifference, null);
});

test('renderMarkdown shows every cell, flags problems and marks targets met / not met', () => {
  const cells = [
    cell('flask', 'tiny', 'json', load(500, 100)),
    {
      ...cell('modelship', 'tiny', 'json', load(6_000, 20)),
      serverCpuSeconds: 12,
      meanBatchRows: 7.5,
      roundsRequestsPerSecond: [5_900, 6_000, null],
    },
    cell('flask', 'mlp', 'json', load(400, 100, 2)),
    cell('modelship', 'mlp', 'json', load(1_000, 150)),
    cell('flask', 'tiny', 'binary', undefined),
  ];
  const report: BenchReport = {
    startedAt: '2026-11-21T07:00:00.000Z',
    finishedAt: '2026-11-21T07:05:00.000Z',
    machine: {
      cpus: 2,
      cpuModel: 'test cpu',
      memoryGiB: 24,
      node: 'v20',
      python: '3.11',
      onnxruntimeNode: '1.30.0',
      onnxruntimePython: '1.31.1',
      wrk: 'wrk 4.1.0',
      gitCommit: 'abc123',
      serverImageUncommitted: ['server-image/src/main.ts'],
      loadAverageStart: [1, 2, 3],
      loadAverageEnd: [4, 5, 6],
    },
    settings: {
      rounds: 3,
      connections: 32,
      wrkThreads: 1,
      warmupSeconds: 3,
      durationSeconds: 10,
      cpus: '0-1',
      modelship: { processes: 2, workers: 1, intraOpThreads: 1, maxBatchSize: 32, maxLatencyMs: 0 },
      flask: { workers: 2, workerClass: 'sync', intraOpThreads: 1 },
    },
    cells,
    summary: summarize(cells),
  };
  const md = renderMarkdown(report);
  assert.match(
    md,
    /\| Modelship \| tiny \| json \| 6000 \| 5900 \/ 6000 \/ failed \| 10\.00 \| 20\.00 \| 60000 \| 0\.200 \| 7\.5 \| 0 \| 1\.00 \| ok \|/,
  );
  assert.match(md, /\| Flask\+gunicorn \| mlp \| json \| 400 .* \| ⚠ 2 responses with status >= 400 \|/);
  assert.match(md, /\| Flask\+gunicorn \| tiny \| binary \| — .* ⚠ server did not start \|/);
  assert.match(md, /\| throughput Modelship \/ Flask \| tiny \| json \| 12\.00 \| >= 4 \| \*\*met\*\* \|/);
  assert.match(md, /\| p99 latency Modelship \/ Flask \| tiny \| json \| 0\.20 \| < 1 \| \*\*met\*\* \|/);
  assert.match(
    md,
    /\| throughput Modelship \/ Flask \| mlp \| json \| 2\.50 \| >= 4 \| not judged \(flagged: 2 responses/,
  );
  assert.match(md, /\| throughput Modelship \/ Flask \| tiny \| binary \| — \| >= 4 \| not judged \(not measured\) \|/);
  assert.match(md, /CPUs 0-1/);
  assert.match(md, /uncommitted changes in 1 file\(s\) .*: server-image\/src\/main\.ts\./);
  assert.match(md, /shared with other work/);
});
