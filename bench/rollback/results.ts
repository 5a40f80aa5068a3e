/**
 * The result files of the rollback benchmark: `<dir>/rollback.{json,md}` for the kwok path,
 * `<dir>/rollback-real.{json,md}` for real pods, whose markdown puts the kwok run beside it. The
 * one place that reads and writes them (bench.ts after a run, render.ts after a change in report.ts).
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { BenchNode } from './platform.js';
import { nodeOf, renderMarkdown } from './report.js';
import type { RollbackReport } from './trials.js';

/** The file name, without extension, of a platform's results. */
export function resultBase(node: BenchNode): string {
  return node === 'real' ? 'rollback-real' : 'rollback';
}

/** The report of a platform in dir, or undefined when that platform has no results there. */
export function readReport(dir: string, node: BenchNode): RollbackReport | undefined {
  const path = join(dir, `${resultBase(node)}.json`);
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as RollbackReport;
  } catch (err) {
    throw new Error(`read rollback report ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Writes a report's json and markdown into dir (the real-pod markdown with the kwok report there
 * side by side); returns what it wrote, for the log.
 */
export function writeReport(dir: string, report: RollbackReport): string {
  mkdirSync(dir, { recursive: true });
  const node = nodeOf(report);
  const base = join(dir, resultBase(node));
  const baseline = node === 'real' ? readReport(dir, 'kwok') : undefined;
  writeFileSync(`${base}.json`, JSON.stringify(report, null, 2) + '\n');
  writeFileSync(`${base}.md`, renderMarkdown(report, baseline));
  return `${base}.{json,md}`;
}
