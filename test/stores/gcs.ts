/**
 * A GCS emulator for gs:// model tests: fake-gcs-server (built by build-binaries.sh), serving the
 * JSON API (and its upload/download endpoints) over plain HTTP, objects on disk in a temp dir.
 * Buckets and objects are made through that same JSON API, as any GCS client would.
 */
import { createReadStream, statSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';

import { answers, DEFAULT_STORE_HOST, hostPort, startStoreProcess, type StoreHostOptions } from './process.js';

/** A running fake-gcs-server. */
export interface TestGcs {
  /** `http://host:port`: the JSON API base a client's apiEndpoint takes (objects at `/storage/v1/b/...`). */
  endpoint: string;
  createBucket(name: string): Promise<void>;
  /** Uploads file's bytes as `gs://<bucket>/<object>`. */
  upload(bucket: string, object: string, file: string): Promise<void>;
  /** Stops the server and removes its objects. */
  stop(): Promise<void>;
}

/** The project buckets are made in (the emulator needs one; it checks nothing about it). */
const PROJECT = 'modelship-test';

async function expectOk(what: string, res: Response): Promise<void> {
  if (res.ok) {
    await res.body?.cancel();
    return;
  }
  throw new Error(`${what}: HTTP ${res.status}: ${(await res.text()).slice(0, 500)}`);
}

/** Starts fake-gcs-server on host (default 127.0.0.1) and a free port; resolves once its JSON API lists buckets. */
export async function startFakeGcs(options: StoreHostOptions = {}): Promise<TestGcs> {
  const host = options.host ?? DEFAULT_STORE_HOST;
  const store = await startStoreProcess({
    name: 'fake-gcs-server',
    host,
    parentDir: options.parentDir,
    args: (port, dir) => [
      '-scheme',
      'http',
      '-host',
      host,
      '-port',
      String(port),
      // Upload sessions' Location headers and objects' mediaLink point here (its default is https on the port).
      '-external-url',
      `http://${hostPort(host, port)}`,
      '-backend',
      'filesystem',
      '-filesystem-root',
      join(dir, 'data'),
      '-log-level',
      'info',
    ],
    ready: (address) => answers(`http://${address}/storage/v1/b`, [200]),
  });
  const endpoint = `http://${store.address}`;
  return {
    endpoint,
    async createBucket(name) {
      const res = await fetch(`${endpoint}/storage/v1/b?project=${PROJECT}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name }),
      });
      await expectOk(`create bucket gs://${name}`, res);
    },
    async upload(bucket, object, file) {
      const url = `${endpoint}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=media&name=${encodeURIComponent(object)}`;
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(statSync(file).size) },
        body: Readable.toWeb(createReadStream(file)) as ReadableStream,
        duplex: 'half',
      } as RequestInit);
      await expectOk(`upload ${file} to gs://${bucket}/${object}`, res);
    },
    stop: store.stop,
  };
}
