/**
 * The test stores are real: each one is started, given a real model file, and read back by a real
 * client (oras, the GCS JSON API), with the same bytes; auth is enforced; and stopping
 * leaves no process and no file behind.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { listProcesses } from '../cluster/leftovers.js';
import { startFakeGcs } from './gcs.js';
import { orasPull, orasPush } from './oras.js';
import { startRegistry } from './registry.js';

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
