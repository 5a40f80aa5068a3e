/**
 * `modelship validate <files...>`: checks ModelDeployment manifests against the CRD offline (for
 * GitOps pipelines, before anything is applied) and exits 1 when any is invalid; `-` reads stdin.
 */
import { readFileSync } from 'node:fs';
import { validateManifest } from '../api/manifests.js';
import type { Io } from './args.js';

/** Run the validate command; returns the exit code. */
export function validateCommand(files: string[], io: Io): number {
  if (files.length === 0) {
    io.err('modelship validate: give at least one file (or - for standard input)');
    return 2;
  }
  let failed = false;
  let checked = 0;
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file === '-' ? 0 : file, 'utf8');
    } catch (e) {
      io.err(`${file}: read: ${(e as Error).message}`);
      failed = true;
      continue;
    }
    const report = validateManifest(file === '-' ? '<stdin>' : file, text);
    checked += report.checked;
    for (const line of report.lines) (report.ok ? io.out : io.err)(line);
    failed ||= !report.ok;
  }
  if (!failed && checked === 0) {
    io.err('modelship validate: no ModelDeployment found in the given files');
    return 1;
  }
  return failed ? 1 : 0;
}
