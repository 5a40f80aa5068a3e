/** Tests for wrk.ts: arguments and parsing of the line v2.lua prints (node:test; see bench.mk). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseWrkOutput, wrkArgs } from './wrk.js';

const REAL_OUTPUT = `Running 2s test @ http://127.0.0.1:38483/v2/models/tiny/infer
  1 threads and 32 connections
  Latency Distribution
     50%    2.66ms
  18841 requests in 2.05s, 3.77MB read
Requests/sec:   9205.53
BENCH_RESULT {"requests":18841,"durationUs":2046704,"bytes":3956610,"errors":{"connect":1,"read":2,"write":0,"status":7,"timeout":3},"latencyUs":{"p50":2659,"p90":13790,"p99":131590,"max":155973,"mean":8492.2}}
`;

test('parseWrkOutput turns the script line into req/s, ms latencies and error counts', () => {
  const r = parseWrkOutput(REAL_OUTPUT);
  assert.equal(r.requests, 18841);
  assert.equal(r.durationSeconds, 2.046704);
  assert.equal(Math.round(r.requestsPerSecond), 9206);
  assert.deepEqual(r.latencyMs, { p50: 2.659, p90: 13.79, p99: 131.59, max: 155.973, mean: 8.4922 });
  assert.equal(r.badStatus, 7);
  assert.equal(r.socketErrors, 6);
});

const BROKEN: [string, string, RegExp][] = [
  ['no result line', 'Running 2s test @ http://x\n', /no BENCH_RESULT line/],
  ['truncated JSON', 'BENCH_RESULT {"requests":1,', /parse wrk output: .*JSON/],
];
for (const [what, stdout, error] of BROKEN) {
  test(`parseWrkOutput rejects ${what}`, () => {
    assert.throws(() => parseWrkOutput(stdout), error);
  });
}

test('wrkArgs asks for fixed duration, concurrency, latency and the script', () => {
  const args = wrkArgs({
    url: 'http://127.0.0.1:1/v2/models/m/infer',
    script: 's.lua',
    threads: 1,
    connections: 32,
    seconds: 10,
    timeoutSeconds: 10,
  });
  assert.deepEqual(args, [
    '--threads',
    '1',
    '--connections',
    '32',
    '--duration',
    '10s',
    '--timeout',
    '10s',
    '--latency',
    '--script',
    's.lua',
    'http://127.0.0.1:1/v2/models/m/infer',
  ]);
});
