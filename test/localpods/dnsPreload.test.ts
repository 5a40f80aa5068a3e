/**
 * The preload in a real child process (dist/test/localpods/dnsPreload.js, built by `make unit`): a
 * connection to a pod IP and container port the pod address file lists reaches the local server
 * behind it, through fetch (undici) and node:http alike. (Nothing here connects to an address it
 * does not list: that would leave this machine.)
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

import { POD_ADDRESSES_ENV } from './podspec.js';

const PRELOAD = resolve('dist/test/localpods/dnsPreload.js');
const POD_IP = '10.244.77.7';

let server: Server;
let dir: string;

beforeAll(async () => {
  server = createServer((req, res) => res.end(`local pod answered ${req.url}`));
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const port = (server.address() as { port: number }).port;
  dir = mkdtempSync(join(tmpdir(), 'modelship-preload-'));
  writeFileSync(join(dir, 'pod-addresses.json'), JSON.stringify({ [`${POD_IP}:8080`]: `127.0.0.1:${port}` }));
});

afterAll(async () => {
  await new Promise((done) => server.close(done));
  rmSync(dir, { recursive: true, force: true });
});

/** Runs `script` in node with the preload and the pod address file; its stdout. */
async function withPreload(script: string): Promise<string> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--import', PRELOAD, '--input-type=module', '-e', script],
    {
      env: { PATH: process.env.PATH, [POD_ADDRESSES_ENV]: join(dir, 'pod-addresses.json') },
      timeout: 20_000,
    },
  );
  return stdout.trim();
}

it('sends fetch to a listed pod IP and port to the local process', async () => {
  expect(await withPreload(`console.log(await (await fetch('http://${POD_IP}:8080/v2/health/ready')).text())`)).toBe(
    'local pod answered /v2/health/ready',
  );
});

it('sends node:http to a listed pod IP and port to the local process', async () => {
  const script = `import http from 'node:http';
http.get('http://${POD_IP}:8080/modelship/v1/labels', (res) => { let b = ''; res.on('data', (c) => (b += c)); res.on('end', () => console.log(b)); });`;
  expect(await withPreload(script)).toBe('local pod answered /modelship/v1/labels');
});
