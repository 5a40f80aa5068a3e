/** Tests for routerlog.ts: reading the router's "routes applied" log lines (node:test). */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { appliedAt, routesAppliedIn } from './routerlog.js';

const LOG = [
  '{"time":"2026-11-21T08:35:40.851Z","level":"info","msg":"router listening","component":"router","port":1}',
  '{"time":"2026-11-21T08:36:47.590Z","level":"info","msg":"routes applied","component":"router","generation":7,"weights":{"d-a":100,"d-b":0}}',
  'not json but mentions "routes applied"',
  '{"time":"2026-11-21T08:36:51.755Z","level":"info","msg":"routes applied","generation":8,"weights":{"d-a":50,"d-b":50}}',
  '{"time":"2026-11-21T08:36:55.000Z","level":"info","msg":"routes applied","generation":7,"weights":{"d-a":100,"d-b":0}}',
  '{"time":"garbage","level":"info","msg":"routes applied","generation":9,"weights":{}}',
  '',
].join('\n');

test('routesAppliedIn: only well-formed "routes applied" lines, in order', () => {
  const entries = routesAppliedIn(LOG);
  assert.deepEqual(
    entries.map((e) => [e.generation, new Date(e.at).toISOString()]),
    [
      [7, '2026-11-21T08:36:47.590Z'],
      [8, '2026-11-21T08:36:51.755Z'],
      [7, '2026-11-21T08:36:55.000Z'],
    ],
  );
  assert.deepEqual(entries[1]!.weights, { 'd-a': 50, 'd-b': 50 });
});

test('appliedAt: the same routes come back with the same generation, so the first one since the action counts', () => {
  const entries = routesAppliedIn(LOG);
  assert.equal(appliedAt(entries, 7, Date.parse('2026-11-21T08:36:52.000Z')), Date.parse('2026-11-21T08:36:55.000Z'));
  assert.equal(appliedAt(entries, 7, 0), Date.parse('2026-11-21T08:36:47.590Z'));
  assert.equal(appliedAt(entries, 9, 0), undefined);
});
