/**
 * Compatibility with the real Triton client: tritonclient.http (Python, from .state/venv) drives
 * the server with binary_data=True and False over every datatype; see tritonclient_compat.py.
 */
import { jest } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { FIXTURES, ROOT, startServer, type ServerProcess } from './helpers/server.js';

jest.setTimeout(180_000);

const PYTHON = path.join(ROOT, '.state/venv/bin/python');
const SCRIPT = path.join(ROOT, 'server-image/test/tritonclient_compat.py');

let server: ServerProcess;
beforeAll(async () => {
  server = await startServer({ model: path.join(FIXTURES, 'dtypes.onnx'), env: { MODELSHIP_MODEL_NAME: 'dtypes' } });
});
afterAll(async () => {
  await server?.stop();
});

it('passes every tritonclient.http check, JSON and binary', async () => {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run \`flock /tmp/modelship-venv.lock make pydeps\``);
  const proc = spawn(PYTHON, [SCRIPT, new URL(server.url).host], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const code = await new Promise((resolve) => proc.once('close', resolve));
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  expect(JSON.parse(stdout.trim())).toEqual({ checks: expect.any(Number) });
  expect(JSON.parse(stdout.trim()).checks).toBeGreaterThanOrEqual(62);
});
