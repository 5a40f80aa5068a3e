import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ModelLoadError, type ModelFetchInfo } from '../dataplane/types.js';
import { cachePathFor } from './fetch.js';
import { fetchVerifiedModel } from './index.js';

// Real bytes of a real fixture model, served by a real HTTP server on loopback.
const modelFile = path.resolve('test/fixtures/models/tiny.onnx');

describe('fetchVerifiedModel', () => {
  let dir: string;
  let cacheDir: string;
  let server: Server;
  let base: string;
  let model: Buffer;
  let sha256: string;
  let requests: string[];

  beforeAll(async () => {
    model = await readFile(modelFile);
    sha256 = createHash('sha256').update(model).digest('hex');
    server = createServer((req, res) => {
      requests.push(req.url ?? '');
      if (req.url === '/private/model.onnx') {
        if (req.headers.authorization !== `Basic ${Buffer.from('reader:s3cr/t').toString('base64')}`) {
          res.writeHead(401).end();
          return;
        }
        res.writeHead(200).end(model);
      } else if (req.url?.startsWith('/model.onnx')) {
        // Two writes, so the body arrives in more than one chunk.
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        res.write(model.subarray(0, 100));
        res.end(model.subarray(100));
      } else if (req.url === '/redirect') {
        res.writeHead(302, { location: '/model.onnx' }).end();
      } else if (req.url === '/truncated') {
        res.writeHead(200, { 'content-length': String(model.length) });
        res.write(model.subarray(0, 50));
        res.destroy();
      } else {
        res.writeHead(404).end('not here');
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'modelship-fetch-'));
    cacheDir = path.join(dir, 'cache');
    requests = [];
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const options = (modelUri: string, extra: object = {}) => ({
    modelUri,
    sha256,
    cacheDir,
    pvcRoot: path.join(dir, 'pvc'),
    ...extra,
  });
  const cacheEntries = async (): Promise<string[]> => readdir(cacheDir).catch(() => []);

  test('downloads over http into the cache under its digest, and reports the size', async () => {
    const seen: ModelFetchInfo[] = [];
    const fetched = await fetchVerifiedModel(options(`${base}/model.onnx?token=secret`), (info) => seen.push(info));
    expect(fetched).toEqual({ path: cachePathFor(cacheDir, sha256), sha256, bytes: model.length });
    expect(await readFile(fetched.path)).toEqual(model);
    expect(await cacheEntries()).toEqual([`sha256-${sha256}.onnx`]);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ bytes: model.length, sha256, cached: false });
    expect(seen[0].uri).not.toContain('secret');
  });

  test('reuses a verified cached copy without downloading again', async () => {
    await fetchVerifiedModel(options(`${base}/model.onnx`));
    const seen: ModelFetchInfo[] = [];
    const again = await fetchVerifiedModel(options(`${base}/model.onnx`), (info) => seen.push(info));
    expect(requests).toEqual(['/model.onnx']);
    expect(again.path).toBe(cachePathFor(cacheDir, sha256));
    expect(seen[0].cached).toBe(true);
  });

  test('replaces a tampered cached copy by downloading again', async () => {
    await mkdir(cacheDir, { recursive: true });
    await writeFile(cachePathFor(cacheDir, sha256), 'tampered');
    const fetched = await fetchVerifiedModel(options(`${base}/model.onnx`));
    expect(requests).toEqual(['/model.onnx']);
    expect(await readFile(fetched.path)).toEqual(model);
  });

  test('sends credentials in the URI as Basic auth, and never reports them', async () => {
    const seen: ModelFetchInfo[] = [];
    const uri = `http://reader:s3cr%2Ft@${base.slice('http://'.length)}/private/model.onnx`;
    await expect(fetchVerifiedModel(options(uri), (info) => seen.push(info))).resolves.toMatchObject({ sha256 });
    expect(seen[0].uri).not.toContain('s3cr');
    const wrong = `http://reader:nope@${base.slice('http://'.length)}/private/model.onnx`;
    // A fresh cache: the first download is cached under its digest and would be reused.
    const failure = fetchVerifiedModel(options(wrong, { cacheDir: path.join(dir, 'fresh-cache') }));
    await expect(failure).rejects.toThrow(
      /fetch model http:\/\/127\.0\.0\.1:\d+\/private\/model\.onnx \(credentials\/query redacted\): HTTP 401 Unauthorized/,
    );
    await expect(failure).rejects.not.toThrow(/nope/);
  });

  test('follows redirects', async () => {
    const fetched = await fetchVerifiedModel(options(`${base}/redirect`));
    expect(fetched.sha256).toBe(sha256);
  });

  test('refuses a download whose digest does not match and keeps nothing of it', async () => {
    const wrong = 'f'.repeat(64);
    const result = fetchVerifiedModel(options(`${base}/model.onnx`, { sha256: wrong }));
    await expect(result).rejects.toThrow(ModelLoadError);
    await expect(result).rejects.toThrow(`sha256 mismatch: expected ${wrong}, got ${sha256}`);
    await expect(result).rejects.toMatchObject({ reason: 'ModelDigestMismatch' });
    expect(requests).toEqual(['/model.onnx']);
    expect(await cacheEntries()).toEqual([]);
  });

  test('reports a missing object as ModelNotFound at once, and leaves nothing in the cache', async () => {
    const failure = fetchVerifiedModel(options(`${base}/missing`));
    await expect(failure).rejects.toThrow(/^fetch model http:\/\/127\.0\.0\.1:\d+\/missing: HTTP 404 Not Found$/);
    await expect(failure).rejects.toMatchObject({ reason: 'ModelNotFound' });
    expect(requests).toEqual(['/missing']);
    expect(await cacheEntries()).toEqual([]);
  });

  test('retries a transfer that breaks, then gives up naming the URI, and leaves no temp file', async () => {
    const warnings: string[] = [];
    const log = { info: () => undefined, warn: (msg: string) => warnings.push(msg) };
    const failure = fetchVerifiedModel(
      options(`${base}/truncated`, { storage: { timeoutSeconds: 2 } }),
      undefined,
      log,
    );
    await expect(failure).rejects.toThrow(
      /fetch model http:\/\/127\.0\.0\.1:\d+\/truncated: (the transfer broke|the connection closed without an answer)/,
    );
    await expect(failure).rejects.toMatchObject({
      reason: expect.stringMatching(/ModelSourceUnavailable|ModelFetchTimeout/),
    });
    expect(requests.length).toBeGreaterThan(1);
    expect(warnings[0]).toBe('model fetch failed; retrying');
    expect(await cacheEntries()).toEqual([]);
  });

  test('names the URI when the server cannot be reached', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const quiet = { info: () => undefined, warn: () => undefined };
    const failure = fetchVerifiedModel(
      options(`http://127.0.0.1:${port}/m.onnx`, { storage: { timeoutSeconds: 1 } }),
      undefined,
      quiet,
    );
    await expect(failure).rejects.toThrow(new RegExp(`fetch model http://127.0.0.1:${port}/m.onnx: .*ECONNREFUSED`));
    await expect(failure).rejects.toMatchObject({
      reason: expect.stringMatching(/ModelSourceUnavailable|ModelFetchTimeout/),
    });
  });

  test('reads local paths, file:// and pvc:// in place', async () => {
    await mkdir(path.join(dir, 'pvc', 'claim', 'models'), { recursive: true });
    await writeFile(path.join(dir, 'pvc', 'claim', 'models', 'tiny.onnx'), model);
    for (const uri of [modelFile, `file://${modelFile}`, 'pvc://claim/models/tiny.onnx']) {
      const fetched = await fetchVerifiedModel(options(uri));
      expect(fetched.sha256).toBe(sha256);
      expect(await readFile(fetched.path)).toEqual(model);
    }
    expect(await cacheEntries()).toEqual([]);
  });

  test('refuses a pvc:// path that climbs out of its claim', async () => {
    await expect(fetchVerifiedModel(options('pvc://claim/../../etc/passwd'))).rejects.toThrow(
      /path segment "\.\." is not allowed/,
    );
  });

  test('refuses a pvc:// path that leaves its claim through a symlink, but follows one inside it', async () => {
    const claim = path.join(dir, 'pvc', 'claim');
    await mkdir(path.join(claim, 'models'), { recursive: true });
    await writeFile(path.join(dir, 'outside.onnx'), model);
    await symlink(path.join(dir, 'outside.onnx'), path.join(claim, 'escape.onnx'));
    await expect(fetchVerifiedModel(options('pvc://claim/escape.onnx'))).rejects.toThrow(
      /escape\.onnx leads outside .*claim \(through a symlink\)/,
    );
    await writeFile(path.join(claim, 'models', 'v1.onnx'), model);
    await symlink('models/v1.onnx', path.join(claim, 'current.onnx'));
    await expect(fetchVerifiedModel(options('pvc://claim/current.onnx'))).resolves.toMatchObject({ sha256 });
  });

  test('refuses a model without a digest before fetching anything', async () => {
    await expect(fetchVerifiedModel(options(`${base}/model.onnx`, { sha256: undefined }))).rejects.toThrow(
      /no sha256 given; refusing to serve an unverified model/,
    );
    expect(requests).toEqual([]);
  });

  test('serves an unverified model only when allowed, and never reuses the cache for it', async () => {
    const fetched = await fetchVerifiedModel(
      options(`${base}/model.onnx`, { sha256: undefined, allowUnverified: true }),
    );
    expect(fetched.sha256).toBe(sha256);
    await fetchVerifiedModel(options(`${base}/model.onnx`, { sha256: undefined, allowUnverified: true }));
    expect(requests).toHaveLength(2);
  });

  test('refuses a missing local file, naming it', async () => {
    await expect(fetchVerifiedModel(options(path.join(dir, 'nope.onnx')))).rejects.toThrow(
      /read model .*nope\.onnx: ENOENT/,
    );
  });

  describe('with an Ed25519 signature', () => {
    const keys = generateKeyPairSync('ed25519');
    const signed = async (over: string): Promise<{ signaturePath: string; publicKeyPath: string }> => {
      const signaturePath = path.join(dir, 'model.sig');
      const publicKeyPath = path.join(dir, 'key.pem');
      await writeFile(signaturePath, sign(null, Buffer.from(over), keys.privateKey).toString('base64'));
      await writeFile(publicKeyPath, keys.publicKey.export({ type: 'spki', format: 'pem' }));
      return { signaturePath, publicKeyPath };
    };

    test('accepts a good signature', async () => {
      await expect(fetchVerifiedModel(options(modelFile, await signed(sha256)))).resolves.toMatchObject({ sha256 });
    });

    test('refuses a signature over another digest', async () => {
      await expect(fetchVerifiedModel(options(modelFile, await signed('0'.repeat(64))))).rejects.toThrow(
        /signature check failed/,
      );
    });

    test('treats empty signature settings as unset', async () => {
      await expect(
        fetchVerifiedModel(options(modelFile, { signaturePath: '', publicKeyPath: '' })),
      ).resolves.toMatchObject({ sha256 });
    });

    test('refuses a signature path without a key', async () => {
      const { signaturePath } = await signed(sha256);
      await expect(fetchVerifiedModel(options(modelFile, { signaturePath }))).rejects.toThrow(
        /needs both signaturePath and publicKeyPath/,
      );
    });
  });
});
