/**
 * Re-renders bench/results/rollback.md and rollback-real.md (and the summaries in their json) from
 * the trials recorded in the json files, after a change in report.ts or compare.ts, without
 * re-running the benchmark. The kwok file first: the real-pod markdown puts it side by side.
 *
 *   node dist/bench/rollback/render.js [dir]   (default bench/results)
 */
import { resolve } from 'node:path';

import { repoRoot } from '../../test/cluster/cluster.js';
import { resummarize } from './report.js';
import { readReport, writeReport } from './results.js';

const dir = resolve(repoRoot(), process.argv[2] ?? 'bench/results');
for (const node of ['kwok', 'real'] as const) {
  const report = readReport(dir, node);
  if (report) process.stdout.write(`re-rendered ${writeReport(dir, resummarize(report))}\n`);
}
