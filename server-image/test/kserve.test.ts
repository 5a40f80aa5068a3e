/**
 * Compatibility with the real KServe client: kserve's InferenceRESTClient (Python, from
 * .state/venv) checks liveness (V1 asks `GET /`), readiness and V1 inference, and the model list,
 * against a server with auth on; see kserve_compat.py.
 */
import { jest } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FIXTURES, ROOT, startServer, type ServerProcess } from './helpers/server.js';

jest.setTimeout(180_000);

const PYTHON = path.join(ROOT, '.state/venv/bin/python');
const SCRIPT = path.join(ROOT, 'server-image/test/kserve_compat.py');
const TOKEN = 'tok-kserve-3e9c41';

let server: ServerProcess;
beforeAll(async () => {
  const tokenFile = path.join(mkdtempSync(path.join(tmpdir(), 'modelship-kserve-')), 'tokens');
  writeFileSync(tokenFile, `${TOKEN}\n`);
  server = await startServer({ model: path.join(FIXTURES, 'tiny.onnx'), env: { MODELSHIP_AUTH_TOKEN_FILE: tokenFile } });
});
afterAll(async () => {
  await server?.stop();
});

it('passes every kserve client check', async () => {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing: run \`flock /tmp/modelship-venv.lock make pydeps\``);
  const proc = spawn(PYTHON, [SCRIPT, server.url, TOKEN], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const code = await new Promise((resolve) => proc.once('close', resolve));
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  expect(JSON.parse(stdout.trim())).toEqual({ checks: 10 });
});
