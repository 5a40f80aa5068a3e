/**
 * Runs a compatibility script with the real Python clients (tritonclient, kserve) from the venv
 * `make pydeps` builds, and returns what it printed.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './server.js';

const PYTHON = path.join(ROOT, '.state/venv/bin/python');

/** Run server-image/test/<script> with `args`; resolves with its exit code and output. */
export async function runCompatScript(
  script: string,
  args: string[],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run \`flock /tmp/modelship-venv.lock make pydeps\``);
  const proc = spawn(PYTHON, [path.join(ROOT, 'server-image/test', script), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => proc.once('close', resolve));
  return { code, stdout, stderr };
}
