/**
 * Compatibility with the real Triton client: tritonclient.http (Python, from .state/venv) drives
 * the server with binary_data=True and False over every datatype; see tritonclient_compat.py.
 */
import { jest } from '@jest/globals';
import path from 'node:path';
import { runCompatScript } from './helpers/python.js';
import { FIXTURES, startServer, type ServerProcess } from './helpers/server.js';

jest.setTimeout(180_000);

let server: ServerProcess;
beforeAll(async () => {
  server = await startServer({ model: path.join(FIXTURES, 'dtypes.onnx'), env: { MODELSHIP_MODEL_NAME: 'dtypes' } });
});
afterAll(async () => {
  await server?.stop();
});

it('passes every tritonclient.http check, JSON and binary', async () => {
  const { code, stdout, stderr } = await runCompatScript('tritonclient_compat.py', [new URL(server.url).host]);
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
  expect(JSON.parse(stdout.trim())).toEqual({ checks: expect.any(Number) });
  expect(JSON.parse(stdout.trim()).checks).toBeGreaterThanOrEqual(62);
});
