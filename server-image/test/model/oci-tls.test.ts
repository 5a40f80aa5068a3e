/**
 * oci:// against the real distribution registry serving TLS with a certificate of a private CA (openssl-made):
 * trusted through storage.caBundleRef (settings.caPem) beside Node's roots; refused with a reason naming the
 * setting otherwise; and the two ways plainHTTP can be wrong. The model is pushed by the real oras CLI.
 */
import { jest } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';

import { orasPush } from '../../../test/stores/oras.js';
import { answers, type StoreProcess } from '../../../test/stores/process.js';
import type { StoreSettings } from '../../src/model/remote.js';
import { openOci, probeOci } from '../../src/model/oci.js';
import { EXAMPLES, sha256Of } from '../helpers/server.js';
import { failure, registryConfig, request, sha256OfStream, startRegistryProcess } from './oci-harness.js';

// Each test talks to a real registry over TLS: seconds on a loaded machine.
jest.setTimeout(60_000);

const DIGITS = path.join(EXAMPLES, 'digits.onnx');

let dir: string;

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'modelship-oci-tls-'));
  // A CA, and a server certificate for 127.0.0.1 it signed.
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=modelship test CA');
  openssl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
  openssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.pem',
    '-days',
    '1',
    '-extfile',
    'san.ext',
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function settings(store: Partial<StoreSettings> & { dockerConfig?: object } = {}): StoreSettings {
  const { dockerConfig, ...rest } = store;
  return {
    ...rest,
    credentials: dockerConfig === undefined ? {} : { ociDockerConfigJson: JSON.stringify(dockerConfig) },
  };
}

describe('oci:// from a registry over TLS with a private CA', () => {
  let plain: StoreProcess;
  let secure: StoreProcess;
  let ca: string;

  beforeAll(async () => {
    ca = readFileSync(path.join(dir, 'ca.pem'), 'utf8');
    // oras pushes over plain HTTP (the harness's way); a second registry process serves the same storage over TLS.
    plain = await startRegistryProcess(
      (address, storeDir) => registryConfig(address, path.join(storeDir, 'storage'), ''),
      (address) => answers(`http://${address}/v2/`, [200]),
    );
    mkdirSync(path.join(plain.dir, 'storage'), { recursive: true });
    await orasPush({ address: plain.address, repository: 'models/digits', tag: 'v1', file: DIGITS });
    const tls = { cert: path.join(dir, 'server.pem'), key: path.join(dir, 'server.key') };
    secure = await startRegistryProcess(
      (address) => registryConfig(address, path.join(plain.dir, 'storage'), '', tls),
      (address) =>
        new Promise((resolve) => {
          https
            .get(`https://${address}/v2/`, { ca }, (res) => {
              res.resume();
              resolve(res.statusCode === 200);
            })
            .on('error', () => resolve(false));
        }),
    );
  }, 120_000);
  afterAll(async () => {
    await secure?.stop();
    await plain?.stop();
  });

  test('with the CA trusted, the model', async () => {
    const object = await openOci(request(`oci://${secure.address}/models/digits:v1`, settings({ caPem: ca })));
    expect(await sha256OfStream(object.body)).toBe(sha256Of(DIGITS));
    await expect(
      probeOci(request(`oci://${secure.address}/models/digits:v1`, settings({ caPem: ca }))),
    ).resolves.toBeUndefined();
  });

  test('without it, ModelSourceInvalid naming the TLS error and the setting', async () => {
    const uri = `oci://${secure.address}/models/digits:v1`;
    const failed = await failure(openOci(request(uri, settings())));
    expect(failed.reason).toBe('ModelSourceInvalid');
    expect(failed.message).toMatch(new RegExp(`^get manifest of ${uri.replace(/\./g, '\\.')}: TLS [A-Z_]+: `));
    expect(failed.message).toContain("(trust the registry's CA with storage.caBundleRef)");
  });

  test('https to a plain-HTTP registry: ModelSourceInvalid suggesting plainHTTP', async () => {
    const uri = `oci://${plain.address}/models/digits:v1`;
    const failed = await failure(openOci(request(uri, settings())));
    expect(failed.reason).toBe('ModelSourceInvalid');
    expect(failed.message).toContain('(the registry may speak plain HTTP (storage.plainHTTP))');
  });

  test('plain HTTP to a TLS registry: ModelSourceInvalid', async () => {
    const uri = `oci://${secure.address}/models/digits:v1`;
    expect(await failure(openOci(request(uri, settings({ plainHttp: true }))))).toEqual({
      reason: 'ModelSourceInvalid',
      message: `get manifest of ${uri}: HTTP 400`,
    });
  });
});
