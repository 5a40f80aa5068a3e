/**
 * oci:// against a real registry (the CNCF distribution registry) holding models pushed by the real oras CLI, and
 * ModelCar-style images built and pushed by podman. A small recording proxy stands in front of the registry where
 * a test must see the requests (a probe reads no blob; a blob redirect to another origin carries no Authorization)
 * or play a registry that lies about a manifest.
 */
import { jest } from '@jest/globals';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { orasPush, type OrasPushed } from '../../../test/stores/oras.js';
import { storeBinary } from '../../../test/stores/process.js';
import { startRegistry, type TestRegistry } from '../../../test/stores/registry.js';
import type { StoreSettings } from '../../src/model/remote.js';
import { openOci, probeOci } from '../../src/model/oci.js';
import { EXAMPLES, sha256Of } from '../helpers/server.js';
import { failure, request, sha256OfStream, startProxy } from './oci-harness.js';

// Each test talks to a real registry (some start podman or oras): seconds on a loaded machine.
jest.setTimeout(60_000);

const DIGITS = path.join(EXAMPLES, 'digits.onnx');
const DIGITS_V2 = path.join(EXAMPLES, 'digits-v2.onnx');
const USER = { username: 'modeler', password: 'pa55-w0rd-never-shown' };

function settings(dockerConfig?: string): StoreSettings {
  return { plainHttp: true, credentials: dockerConfig === undefined ? {} : { ociDockerConfigJson: dockerConfig } };
}

function dockerConfig(registry: string, username: string, password: string): string {
  return JSON.stringify({
    auths: { [registry]: { auth: Buffer.from(`${username}:${password}`).toString('base64') } },
  });
}

describe('oci:// from a registry without auth', () => {
  let registry: TestRegistry;
  let digits: OrasPushed;
  let v2: OrasPushed;
  let base: string;

  beforeAll(async () => {
    registry = await startRegistry();
    digits = await orasPush({ address: registry.address, repository: 'models/digits', tag: 'v1', file: DIGITS });
    v2 = await orasPush({ address: registry.address, repository: 'models/digits', tag: 'v2', file: DIGITS_V2 });
    base = `oci://${registry.address}/models/digits`;
  }, 120_000);
  afterAll(() => registry?.stop());

  test.each([
    ['by tag', ':v1'],
    ['by digest', '@'],
    ['by tag and digest', ':v1@'],
  ])('opens %s: exactly the pushed bytes, the layer digest pinned', async (_, suffix) => {
    const uri = `${base}${suffix.endsWith('@') ? `${suffix}${digits.manifestDigest}` : suffix}`;
    const object = await openOci(request(uri, settings()));
    const expected = sha256Of(DIGITS);
    expect(await sha256OfStream(object.body)).toBe(expected);
    expect(object).toMatchObject({
      bytes: readFileSync(DIGITS).length,
      pinnedSha256: expected,
      manifestDigest: digits.manifestDigest,
      layerDigest: `sha256:${expected}`,
    });
  });

  test('a tag resolves to the manifest oras pushed under it', async () => {
    const object = await openOci(request(`${base}:v2`, settings()));
    expect(await sha256OfStream(object.body)).toBe(sha256Of(DIGITS_V2));
    expect(object.manifestDigest).toBe(v2.manifestDigest);
  });

  test.each([
    ['a missing tag', ':v9', 'get manifest of {base}:v9: HTTP 404 MANIFEST_UNKNOWN: manifest unknown'],
    [
      'a missing repository',
      '/nothing:v1',
      'get manifest of {base}/nothing:v1: HTTP 404 MANIFEST_UNKNOWN: manifest unknown',
    ],
    [
      'a digest the repository does not have',
      `@sha256:${'0'.repeat(64)}`,
      `get manifest of {base}@sha256:${'0'.repeat(64)}: HTTP 404 MANIFEST_UNKNOWN: manifest unknown`,
    ],
  ])('%s is ModelNotFound, for open and probe', async (_, suffix, message) => {
    const uri = `${base}${suffix}`;
    expect(await failure(openOci(request(uri, settings())))).toEqual({
      reason: 'ModelNotFound',
      message: message.replace('{base}', base),
    });
    const probed = await failure(probeOci(request(uri, settings())));
    expect(probed.reason).toBe('ModelNotFound');
    expect(probed.message).toBe(`check manifest of ${uri}: HTTP 404`);
  });

  test('a registry answering an @digest with another manifest is ModelDigestMismatch', async () => {
    // A mirror that lies: asked for v1's manifest by digest, it answers v2's.
    const proxy = await startProxy(registry.address, {
      rewrite: (p) => p.replace(digits.manifestDigest, v2.manifestDigest),
    });
    try {
      const uri = `oci://${proxy.address}/models/digits@${digits.manifestDigest}`;
      expect(await failure(openOci(request(uri, settings())))).toEqual({
        reason: 'ModelDigestMismatch',
        message: `get manifest of ${uri}: the registry's manifest is ${v2.manifestDigest}, not the digest the URI pins`,
      });
      expect(proxy.seen.filter((s) => s.path.includes('/blobs/'))).toEqual([]);
    } finally {
      await proxy.close();
    }
  });

  test('an image index is ModelSourceInvalid, saying what to push instead', async () => {
    // The real oras makes the index (of the v1 and v2 artifacts), with a private registry config.
    const config = mkdtempSync(path.join(tmpdir(), 'modelship-oras-index-'));
    try {
      await promisify(execFile)(storeBinary('oras'), [
        'manifest',
        'index',
        'create',
        '--plain-http',
        '--registry-config',
        path.join(config, 'config.json'),
        `${registry.address}/models/digits:index`,
        'v1',
        'v2',
      ]);
    } finally {
      rmSync(config, { recursive: true, force: true });
    }
    const failed = await failure(openOci(request(`${base}:index`, settings())));
    expect(failed.reason).toBe('ModelSourceInvalid');
    expect(failed.message).toMatch(
      new RegExp(
        `^read manifest sha256:[0-9a-f]{64} of ${base.replace(/\./g, '\\.')}:index: the reference is an image index ` +
          '\\(2 manifests\\), not a model artifact: push the model as a single platform-less artifact \\(oras push\\), ' +
          'or name one manifest of the index by @sha256:<digest>$',
      ),
    );
  });

  test.each([
    [503, 'UNAVAILABLE', 'service unavailable'],
    [429, 'TOOMANYREQUESTS', 'too many requests'],
  ])('a registry answering %i is ModelSourceUnavailable (worth another attempt)', async (status, code, text) => {
    const proxy = await startProxy(registry.address, {
      answer: () => ({ status, body: JSON.stringify({ errors: [{ code, message: text }] }) }),
    });
    try {
      const uri = `oci://${proxy.address}/models/digits:v1`;
      expect(await failure(openOci(request(uri, settings())))).toEqual({
        reason: 'ModelSourceUnavailable',
        message: `get manifest of ${uri}: HTTP ${status} ${code}: ${text}`,
      });
    } finally {
      await proxy.close();
    }
  });

  test('probe reads the manifest with a HEAD and no blob', async () => {
    const proxy = await startProxy(registry.address);
    try {
      await probeOci(request(`oci://${proxy.address}/models/digits:v1`, settings()));
      expect(proxy.seen.map((s) => `${s.method} ${s.path}`)).toEqual(['HEAD /v2/models/digits/manifests/v1']);
    } finally {
      await proxy.close();
    }
  });

  test('a registry that is not there is ModelSourceUnavailable', async () => {
    const proxy = await startProxy(registry.address);
    await proxy.close();
    const uri = `oci://${proxy.address}/models/digits:v1`;
    const failed = await failure(openOci(request(uri, settings())));
    expect(failed.reason).toBe('ModelSourceUnavailable');
    expect(failed.message).toMatch(new RegExp(`^get manifest of ${uri.replace(/[.]/g, '\\.')}: ECONNREFUSED`));
  });

  test('an aborted fetch gives up as ModelFetchTimeout', async () => {
    const controller = new AbortController();
    controller.abort(new Error('the fetch deadline passed'));
    const uri = `${base}:v1`;
    expect(await failure(openOci({ uri, settings: settings(), signal: controller.signal }))).toEqual({
      reason: 'ModelFetchTimeout',
      message: `get manifest of ${uri}: gave up (the fetch deadline passed)`,
    });
  });
});

describe('oci:// from a registry with Basic auth', () => {
  let registry: TestRegistry;
  let digits: OrasPushed;
  let uri: string;

  beforeAll(async () => {
    registry = await startRegistry({ auth: USER });
    digits = await orasPush({
      address: registry.address,
      repository: 'models/digits',
      tag: 'v1',
      file: DIGITS,
      auth: USER,
    });
    uri = `oci://${registry.address}/models/digits:v1`;
  }, 120_000);
  afterAll(() => registry?.stop());

  test('the right credentials open the model and pass the probe', async () => {
    const store = settings(dockerConfig(registry.address, USER.username, USER.password));
    const object = await openOci(request(uri, store));
    expect(await sha256OfStream(object.body)).toBe(sha256Of(DIGITS));
    expect(object.manifestDigest).toBe(digits.manifestDigest);
    await expect(probeOci(request(uri, store))).resolves.toBeUndefined();
  });

  test.each([
    [
      'a wrong password',
      () => settings(dockerConfig(registry.address, USER.username, 'wrong-password-never-shown')),
      'with the .dockerconfigjson entry for {registry}',
    ],
    ['no credentials', () => settings(), 'anonymously: no .dockerconfigjson entry for {registry}'],
    [
      'credentials of another registry only',
      () => settings(dockerConfig('elsewhere.example', USER.username, USER.password)),
      'anonymously: no .dockerconfigjson entry for {registry}',
    ],
  ])('%s is ModelAccessDenied for open and probe, no secret in the message', async (_, store, who) => {
    const opened = await failure(openOci(request(uri, store())));
    const probed = await failure(probeOci(request(uri, store())));
    const whom = who.replace('{registry}', registry.address);
    expect(opened).toEqual({
      reason: 'ModelAccessDenied',
      message: `get manifest of ${uri}: HTTP 401 UNAUTHORIZED: authentication required (${whom})`,
    });
    expect(probed).toEqual({ reason: 'ModelAccessDenied', message: `check manifest of ${uri}: HTTP 401 (${whom})` });
    for (const message of [opened.message, probed.message]) {
      expect(message).not.toMatch(/pa55|wrong-password|never-shown/);
      expect(message).not.toContain(Buffer.from(`${USER.username}:`).toString('base64').slice(0, 8));
    }
  });

  test('a registry echoing the credentials in its error cannot put them into the message', async () => {
    const proxy = await startProxy(registry.address, {
      // Once the client answers the challenge, refuse it, quoting what it sent.
      answer: (_, authorization) =>
        authorization === undefined
          ? undefined
          : {
              status: 403,
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({
                errors: [{ code: 'DENIED', message: `${authorization} (password ${USER.password}) is not allowed` }],
              }),
            },
    });
    try {
      const uri = `oci://${proxy.address}/models/digits:v1`;
      const store = settings(dockerConfig(proxy.address, USER.username, USER.password));
      expect(await failure(openOci(request(uri, store)))).toEqual({
        reason: 'ModelAccessDenied',
        message:
          `get manifest of ${uri}: HTTP 403 DENIED: (redacted) (password (redacted)) is not allowed ` +
          `(with the .dockerconfigjson entry for ${proxy.address})`,
      });
    } finally {
      await proxy.close();
    }
  });

  test('a blob redirected to another origin is fetched without the registry Authorization', async () => {
    // The storage backend behind a pre-signed URL: it gets no registry credentials from the client; it holds the
    // blob itself (here: it fetches it from the registry with credentials of its own).
    const backend = await startProxy(registry.address, {
      rewrite: (p) => p.replace(/^\/presigned/, ''),
      authorization: `Basic ${Buffer.from(`${USER.username}:${USER.password}`).toString('base64')}`,
    });
    const front = await startProxy(registry.address, {
      answer: (p) =>
        p.includes('/blobs/')
          ? { status: 307, headers: { location: `http://${backend.address}/presigned${p}` } }
          : undefined,
    });
    try {
      const store = settings(dockerConfig(front.address, USER.username, USER.password));
      const object = await openOci(request(`oci://${front.address}/models/digits:v1`, store));
      expect(await sha256OfStream(object.body)).toBe(sha256Of(DIGITS));
      const blobs = front.seen.filter((s) => s.path.includes('/blobs/'));
      expect(blobs.map((s) => s.authorization !== undefined)).toEqual([true]);
      expect(backend.seen).toEqual([{ method: 'GET', path: `/presigned${blobs[0].path}` }]);
    } finally {
      await front.close();
      await backend.close();
    }
  });
});

/**
 * Builds a ModelCar-style image (`FROM scratch`, one COPY per file into /models, in order) with podman and pushes it
 * to `<address>/<repository>:<tag>` as an OCI or a Docker v2 image. podman's storage lives in a temp dir removed
 * afterwards, so nothing is left in the machine's image store. Resolves the manifest digest.
 */
async function pushModelCar(
  address: string,
  repository: string,
  tag: string,
  files: string[],
  format: 'oci' | 'v2s2',
): Promise<string> {
  const dir = mkdtempSync(path.join(tmpdir(), 'modelship-modelcar-'));
  const podman = (...args: string[]): Promise<unknown> =>
    promisify(execFile)('podman', [
      '--root',
      path.join(dir, 'root'),
      '--runroot',
      path.join(dir, 'run'),
      '--storage-driver',
      'vfs',
      '--cgroup-manager',
      'cgroupfs',
      '--events-backend',
      'none',
      ...args,
    ]);
  try {
    for (const file of files) copyFileSync(file, path.join(dir, path.basename(file)));
    const copies = files.map((f) => `COPY ${path.basename(f)} /models/${path.basename(f)}`);
    writeFileSync(path.join(dir, 'Containerfile'), ['FROM scratch', ...copies, ''].join('\n'));
    await podman('build', '--quiet', '--tag', 'localhost/modelcar:test', dir);
    const digestFile = path.join(dir, 'digest');
    await podman(
      'push',
      '--quiet',
      '--tls-verify=false',
      '--format',
      format,
      '--digestfile',
      digestFile,
      'localhost/modelcar:test',
      `docker://${address}/${repository}:${tag}`,
    );
    return readFileSync(digestFile, 'utf8').trim();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('oci:// from a ModelCar-style image (the model in the last layer, pushed by podman)', () => {
  let registry: TestRegistry;
  let base: string;
  let ociDigest: string;
  let dockerDigest: string;
  let readme: string;

  beforeAll(async () => {
    registry = await startRegistry();
    base = `oci://${registry.address}/models/modelcar`;
    const scratch = mkdtempSync(path.join(tmpdir(), 'modelship-modelcar-files-'));
    readme = path.join(scratch, 'README.md');
    writeFileSync(readme, 'digits: a small ONNX model\n');
    try {
      ociDigest = await pushModelCar(registry.address, 'models/modelcar', 'oci', [readme, DIGITS], 'oci');
      dockerDigest = await pushModelCar(registry.address, 'models/modelcar', 'docker', [readme, DIGITS], 'v2s2');
      await pushModelCar(registry.address, 'models/modelcar', 'readme-last', [DIGITS, readme], 'oci');
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  }, 180_000);
  afterAll(() => registry?.stop());

  test.each([
    ['an OCI image by tag', () => `${base}:oci`, () => ociDigest],
    ['a Docker v2 image by digest', () => `${base}@${dockerDigest}`, () => dockerDigest],
  ])('%s: exactly the model file, its layer digest checked on the way', async (_, uri, manifestDigest) => {
    const object = await openOci(request(uri(), settings()));
    expect(await sha256OfStream(object.body)).toBe(sha256Of(DIGITS));
    expect(object.manifestDigest).toBe(manifestDigest());
    // The layer digest pins the archive, not the file: nothing for the pipeline to compare the file with.
    expect(object.pinnedSha256).toBeUndefined();
  });

  test('an image whose last layer holds no .onnx file is ModelSourceInvalid, naming what it holds', async () => {
    const object = await openOci(request(`${base}:readme-last`, settings()));
    const failed = await failure(sha256OfStream(object.body));
    expect(failed.reason).toBe('ModelSourceInvalid');
    expect(failed.message).toMatch(
      /^get blob sha256:[0-9a-f]{64} \(manifest sha256:[0-9a-f]{64}\) of oci:\/\/.+\/models\/modelcar:readme-last: /,
    );
    expect(failed.message).toContain(
      'the layer has no .onnx file (it holds models/README.md); a ModelCar image should COPY the model last',
    );
  });
});
