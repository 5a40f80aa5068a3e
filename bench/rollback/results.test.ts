/** Tests for results.ts: file names per platform, and the real-pod markdown finding the kwok run (node:test). */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

import { reportOf } from './testing.js';
import type { RollbackReport } from './trials.js';
import { readReport, resultBase, writeReport } from './results.js';

const kwok = reportOf([], {
  requests: { total: 0, failed: 0, failedOutsideTrials: 0, failedOutsideTrialsBy: {} },
  rearmMs: [],
});
const real: RollbackReport = { ...kwok, setup: { ...kwok.setup, node: 'real' } };

test('resultBase: rollback for the kwok path, rollback-real for real pods', () => {
  assert.deepEqual([resultBase('kwok'), resultBase('real')], ['rollback', 'rollback-real']);
});

test('writeReport / readReport: each platform its files; the real-pod markdown has the kwok run beside it when there is one', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rollback-results-'));
  try {
    assert.equal(readReport(dir, 'kwok'), undefined);
    assert.equal(writeReport(dir, real), `${join(dir, 'rollback-real')}.{json,md}`);
    assert.doesNotMatch(readFileSync(join(dir, 'rollback-real.md'), 'utf8'), /Side by side/);
    writeReport(dir, kwok);
    writeReport(dir, real);
    assert.match(readFileSync(join(dir, 'rollback-real.md'), 'utf8'), /## Side by side: kwok path vs real pods/);
    assert.deepEqual(readReport(dir, 'kwok'), kwok);
    assert.equal(readReport(dir, 'real')?.setup.node, 'real');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
