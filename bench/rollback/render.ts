/**
 * Re-renders bench/results/rollback.md (and the summaries in rollback.json) from the trials
 * recorded in rollback.json, after a change in report.ts, without re-running the benchmark.
 *
 *   node dist/bench/rollback/render.js [dir]   (default bench/results)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { repoRoot } from '../../test/cluster/cluster.js';
import { renderMarkdown, resummarize, type RollbackReport } from './report.js';

const dir = resolve(repoRoot(), process.argv[2] ?? 'bench/results');
const report = resummarize(JSON.parse(readFileSync(join(dir, 'rollback.json'), 'utf8')) as RollbackReport);
writeFileSync(join(dir, 'rollback.json'), JSON.stringify(report, null, 2) + '\n');
writeFileSync(join(dir, 'rollback.md'), renderMarkdown(report));
process.stdout.write(`re-rendered ${dir}/rollback.{json,md}\n`);
