/** Tests for plan.ts: the benchmark measures what the issue asks, one server at a time (node:test). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { benchPlan, serverLabel } from './plan.js';

test('every server id is unique and each cell belongs to the server it runs under', () => {
  const plan = benchPlan();
  assert.equal(new Set(plan.map((p) => p.spec.id)).size, plan.length);
  for (const { spec, cells } of plan) for (const cell of cells) assert.equal(cell.server, spec.id);
});

test('ours and Flask are measured on both models with both payloads, and the echo with every body', () => {
  const cells = benchPlan().flatMap((p) => p.cells);
  for (const kind of ['modelship', 'flask', 'echo'] as const) {
    for (const model of ['tiny', 'mlp'] as const) {
      for (const payload of ['json', 'binary'] as const) {
        const found = cells.filter(
          (c) => c.kind === kind && c.model === model && c.payload === payload && c.batching !== false,
        );
        assert.equal(found.length, 1, `${kind} ${model} ${payload}`);
      }
    }
  }
});

test('batching off is measured on the MLP only, and only ours has a batching setting', () => {
  const cells = benchPlan().flatMap((p) => p.cells);
  assert.deepEqual(
    cells.filter((c) => c.batching === false).map((c) => `${c.model}/${c.payload}`),
    ['mlp/json', 'mlp/binary'],
  );
  for (const c of cells) assert.equal(c.batching === null, c.kind !== 'modelship');
});

test('serverLabel names each server for tables and charts', () => {
  assert.equal(serverLabel({ kind: 'echo', batching: null }), 'node:http echo');
  assert.equal(serverLabel({ kind: 'flask', batching: null }), 'Flask+gunicorn');
  assert.equal(serverLabel({ kind: 'modelship', batching: true }), 'Modelship');
  assert.equal(serverLabel({ kind: 'modelship', batching: false }), 'Modelship (no batching)');
});
