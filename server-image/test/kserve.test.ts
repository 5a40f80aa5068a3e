/**
 * Compatibility with the real KServe client: kserve's InferenceRESTClient (Python, from
 * .state/venv) checks liveness (V1 asks `GET /`), readiness and V1 inference, and the model list,
 * against a server with auth on; see kserve_compat.py.
 */
import { jest } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCompatScript } from './helpers/python.js';
import { FIXTURES, startServer, type ServerProcess } from './helpers/server.js';

jest.setTimeout(180_000);

const TOKEN = 'tok-kserve-3e9c41';

let server: ServerProcess;
beforeAll(async () => {
  const tokenFile = path.join(mkdtempSync(path.join(tmpdir(), 'modelship-kserve-')), 'tokens');
  writeFileSync(tokenFile, `${TOKEN}\n`);
  server = await startServer({
    model: path.join(FIXTURES, 'tiny.onnx'),
    env: { MODELSHIP_AUTH_TOKEN_FILE: tokenFile },
  });
});
afterAll(async () => {
  await server?.stop();
});

it('passes every kserve client check', async () => {
  const { code, stdout, stderr } = await runCompatScript('kserve_compat.py', [server.url, TOKEN]);
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  expect(JSON.parse(stdout.trim())).toEqual({ checks: 10 });
});
