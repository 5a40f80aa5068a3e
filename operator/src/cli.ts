#!/usr/bin/env node
/**
 * The `modelship` command line. `modelship validate <files...>` checks ModelDeployment manifests
 * against the CRD offline (for GitOps pipelines, before anything is applied) and exits 1 when any
 * is invalid. `-` reads standard input.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { validateManifest } from './api/manifests.js';

const USAGE = `usage: modelship <command> [args]

commands:
  validate <file|-> [...]   check ModelDeployment manifests against the CRD; exit 1 if any is invalid
  help                      show this help`;

/** Run the validate command; returns the exit code. */
export function validateCommand(files: string[], out: (line: string) => void, err: (line: string) => void): number {
  if (files.length === 0) {
    err('modelship validate: give at least one file (or - for standard input)');
    return 2;
  }
  let failed = false;
  let checked = 0;
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file === '-' ? 0 : file, 'utf8');
    } catch (e) {
      err(`${file}: read: ${(e as Error).message}`);
      failed = true;
      continue;
    }
    const report = validateManifest(file === '-' ? '<stdin>' : file, text);
    checked += report.checked;
    for (const line of report.lines) (report.ok ? out : err)(line);
    failed ||= !report.ok;
  }
  if (!failed && checked === 0) {
    err('modelship validate: no ModelDeployment found in the given files');
    return 1;
  }
  return failed ? 1 : 0;
}

/** Dispatch argv (without node and script) to a command; returns the exit code. */
export function main(argv: string[]): number {
  const [command, ...rest] = argv;
  const out = (line: string): void => void process.stdout.write(`${line}\n`);
  const err = (line: string): void => void process.stderr.write(`${line}\n`);
  switch (command) {
    case 'validate':
      return validateCommand(rest, out, err);
    case 'help':
    case '--help':
    case '-h':
      out(USAGE);
      return 0;
    default:
      err(command === undefined ? USAGE : `modelship: unknown command "${command}"\n${USAGE}`);
      return 2;
  }
}

/** True when this module is the process entry point (directly or through an npm bin link). */
function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) process.exitCode = main(process.argv.slice(2));
