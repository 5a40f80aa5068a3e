/** Tests for batches.ts: batch size from the server's Prometheus text (node:test). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { batchTotals, meanBatchRows } from './batches.js';

const TEXT = `# HELP modelship_batch_size Rows per inference run (1 when a request ran alone).
# TYPE modelship_batch_size histogram
modelship_batch_size_bucket{le="1"} 10
modelship_batch_size_bucket{le="+Inf"} 40
modelship_batch_size_sum 250
modelship_batch_size_count 40
modelship_batch_size_sum_other 1
`;

test('batchTotals reads rows (sum) and runs (count) of the histogram', () => {
  assert.deepEqual(batchTotals(TEXT), { rows: 250, runs: 40 });
});

test('batchTotals names the missing series', () => {
  assert.throws(() => batchTotals('# nothing here\n'), /no modelship_batch_size_sum series/);
});

test('meanBatchRows is rows per run between two readings, null without runs', () => {
  assert.equal(meanBatchRows({ rows: 250, runs: 40 }, { rows: 1250, runs: 140 }), 10);
  assert.equal(meanBatchRows({ rows: 5, runs: 5 }, { rows: 5, runs: 5 }), null);
});
