/**
 * The test stores are real: each one is started, given a real model file, and read back by a real
 * client (oras, the AWS SDK, the GCS JSON API), with the same bytes; auth is enforced; and stopping
 * leaves no process and no file behind.
 */
import { jest } from '@jest/globals';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { listProcesses } from '../cluster/leftovers.js';
import { waitFor } from '../cluster/wait.js';
import { startFakeGcs } from './gcs.js';
import { orasPull, orasPush } from './oras.js';
import { answers, startStoreProcess } from './process.js';
import { startRegistry } from './registry.js';
import { startS3, type S3Credentials } from './s3.js';

// Each test starts a real store process: seconds on a loaded machine.
jest.setTimeout(120_000);

const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
const MODEL = join(ROOT, 'examples/models/digits.onnx');
const modelBytes = readFileSync(MODEL);

/** Each test's stores live under a parent dir of its own, so "nothing left" is checked like `cluster-leftovers`. */
let parentDir: string;

beforeEach(() => {
  parentDir = mkdtempSync(join(tmpdir(), 'modelship-stores-test-'));
});

afterEach(() => {
  // What the stores left: processes naming the parent dir, files in it. Both must be none.
  const processes = listProcesses().filter((p) => p.cmdline.some((a) => a.includes(parentDir)));
  const files = readdirSync(parentDir);
  rmSync(parentDir, { recursive: true, force: true });
  expect({ processes, files }).toEqual({ processes: [], files: [] });
});

const basic = (username: string, password: string): string =>
  `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;

describe('registry + oras', () => {
  it('serves a pushed model artifact to oras, with its title annotation, only to the right credentials', async () => {
    const auth = { username: 'team-a', password: 'right-password' };
    const registry = await startRegistry({ auth, parentDir });
    try {
      const pushed = await orasPush({
        address: registry.address,
        repository: 'models/digits',
        tag: 'v1',
        file: MODEL,
        artifactType: 'application/vnd.modelship.model.v1',
        auth,
      });
      expect(pushed.reference).toBe(`${registry.address}/models/digits:v1`);
      expect(pushed.manifestDigest).toMatch(/^sha256:[0-9a-f]{64}$/);

      const out = mkdtempSync(join(parentDir, 'pulled-'));
      await orasPull({ reference: `${registry.address}/models/digits@${pushed.manifestDigest}`, outputDir: out, auth });
      expect(readFileSync(join(out, 'digits.onnx')).equals(modelBytes)).toBe(true);
      rmSync(out, { recursive: true });

      // What an OCI client sees: the raw file as the one layer, titled with the bare file name.
      const manifest = await fetch(`http://${registry.address}/v2/models/digits/manifests/v1`, {
        headers: {
          authorization: basic(auth.username, auth.password),
          accept: 'application/vnd.oci.image.manifest.v1+json',
        },
      }).then((r) => r.json());
      expect(manifest).toMatchObject({
        artifactType: 'application/vnd.modelship.model.v1',
        layers: [{ size: modelBytes.length, annotations: { 'org.opencontainers.image.title': 'digits.onnx' } }],
      });

      const wrong = { username: auth.username, password: 'wrong-password' };
      const refused = await fetch(`http://${registry.address}/v2/models/digits/manifests/v1`, {
        headers: { authorization: basic(wrong.username, wrong.password) },
      });
      expect(refused.status).toBe(401);
      expect(refused.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
      await expect(
        orasPull({ reference: pushed.reference, outputDir: join(parentDir, 'refused'), auth: wrong }),
      ).rejects.toThrow(/pull .*models\/digits:v1 with oras: .*401|unauthorized/i);
    } finally {
      await registry.stop();
    }
  });
});

describe('fake-gcs-server', () => {
  it('serves an uploaded model through the JSON API', async () => {
    const gcs = await startFakeGcs({ parentDir });
    try {
      await gcs.createBucket('models');
      await gcs.upload('models', 'team-a/digits.onnx', MODEL);
      const res = await fetch(
        `${gcs.endpoint}/storage/v1/b/models/o/${encodeURIComponent('team-a/digits.onnx')}?alt=media`,
      );
      expect(res.status).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(modelBytes)).toBe(true);

      const missing = await fetch(`${gcs.endpoint}/storage/v1/b/models/o/nothing.onnx?alt=media`);
      expect(missing.status).toBe(404);
    } finally {
      await gcs.stop();
    }
  });
});

describe('MinIO (S3)', () => {
  it('serves an uploaded model to the AWS SDK: to credentials allowed to read it, anonymously only from a public bucket', async () => {
    const s3 = await startS3({ parentDir });
    const clients: S3Client[] = [];
    const clientWith = (credentials: S3Credentials): S3Client => {
      const client = new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials });
      clients.push(client);
      return client;
    };
    const read = async (client: S3Client, bucket: string): Promise<Buffer> => {
      const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: 'models/digits.onnx' }));
      return Buffer.from(await got.Body!.transformToByteArray());
    };
    try {
      for (const bucket of ['team-a', 'team-b']) await s3.createBucket(bucket);
      await s3.createBucket('public', { anonymousRead: true });
      for (const bucket of ['team-a', 'team-b', 'public']) await s3.upload(bucket, 'models/digits.onnx', MODEL);

      expect((await read(clientWith(s3.rootCredentials), 'team-a')).equals(modelBytes)).toBe(true);

      const wrongSecret = clientWith({ ...s3.rootCredentials, secretAccessKey: 'wrong-secret-key' });
      await expect(read(wrongSecret, 'team-a')).rejects.toMatchObject({
        name: 'SignatureDoesNotMatch',
        $metadata: { httpStatusCode: 403 },
      });

      // A second tenant: valid credentials, refused outside the bucket they may read.
      const teamB = clientWith(await s3.readOnlyCredentials('team-b'));
      expect((await read(teamB, 'team-b')).equals(modelBytes)).toBe(true);
      await expect(read(teamB, 'team-a')).rejects.toMatchObject({
        name: 'AccessDenied',
        $metadata: { httpStatusCode: 403 },
      });

      // Anonymous: a plain GET, as an unsigned client makes it.
      const open = await fetch(`${s3.endpoint}/public/models/digits.onnx`);
      expect(open.status).toBe(200);
      expect(Buffer.from(await open.arrayBuffer()).equals(modelBytes)).toBe(true);
      const closed = await fetch(`${s3.endpoint}/team-a/models/digits.onnx`);
      expect(closed.status).toBe(403);
    } finally {
      for (const client of clients) client.destroy();
      await s3.stop();
    }
  });
});

describe('a store that cannot start', () => {
  it('fails naming the store, with the end of its log, and leaves nothing', async () => {
    const started = startStoreProcess({
      name: 'registry',
      host: '127.0.0.1',
      parentDir,
      args: (_port, dir) => ['serve', join(dir, 'missing-config.yml')],
      ready: (address) => answers(`http://${address}/v2/`, [200]),
    });
    await expect(started).rejects.toThrow(
      /^start registry: registry exited before it answered on 127\.0\.0\.1:\d+\n--- registry\.log ---\n.*missing-config\.yml/s,
    );
  });
});

describe('a store whose test process is killed', () => {
  it('is stopped by its guard, its temp dir removed', async () => {
    const cli = join(ROOT, 'dist/test/stores/cli.js');
    if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`make build\``);
    const child = spawn(process.execPath, [cli, 's3', '--parent-dir', parentDir], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const line = await new Promise<string>((resolve, reject) => {
      child.stdout.setEncoding('utf8').once('data', (d: string) => resolve(d.split('\n')[0]));
      child.once('exit', (code) => reject(new Error(`cli.js s3 exited (${code}) before it printed its store`)));
    });
    const { endpoint } = JSON.parse(line) as { endpoint: string };
    expect(await answers(`${endpoint}/minio/health/live`, [200])).toBe(true);

    child.kill('SIGKILL');
    // afterEach checks that no process and no file is left; here, wait for the guard to finish.
    await waitFor(
      'the guard to stop MinIO and remove its dir',
      () =>
        readdirSync(parentDir).length === 0 &&
        !listProcesses().some((p) => p.cmdline.some((a) => a.includes(parentDir))),
      30_000,
    );
  });
});
