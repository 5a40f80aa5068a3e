/**
 * One copy of a model object to a local file, in a process of its own (as a pod's server or a CLI
 * runs it), for the download-throughput benchmark (bench.ts). The method comes as the first
 * argument, the rest as JSON in BENCH_COPY (credentials included: never on a command line):
 *
 * - `ours`: the server's fetch pipeline, downloadVerified with the scheme's real RemoteSource: the
 *   sha256 computed while downloading, a temp file in the cache dir, verified, renamed;
 * - `s3-sdk`: the AWS SDK's GetObject with its defaults, the body piped to a file;
 * - `gcs`: @google-cloud/storage's `file.download({destination})` with its defaults;
 * - `read`: our source's stream (the scheme's RemoteSource.open) read and thrown away: no hash, no
 *   disk. Not a baseline: it shows how much of ours is the client reading the socket.
 *
 * The client library is imported before the clock starts, so `transferMs` is the copy alone
 * (the process's start and imports are in the wall time the parent measures). Prints one JSON line:
 * `{"importMs": n, "transferMs": n, "bytes": n}`.
 */
import { createWriteStream, statSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { downloadVerified, remoteSourceFor } from '../../server-image/src/model/download.js';
import type { StoreSettings } from '../../server-image/src/model/remote.js';

/** What the parent passes in BENCH_COPY. */
export interface CopyJob {
  uri: string;
  /** `ours`: the cache dir; the others: the file to write. */
  dest: string;
  sha256: string;
  settings: StoreSettings;
}

/** The client library each scheme's source loads on first use (imported before timing). */
const LIBRARIES: Record<string, string[]> = {
  s3: ['@aws-sdk/client-s3'],
  gs: ['@google-cloud/storage', 'google-auth-library'],
  oci: [],
  http: [],
};

/** One copy's duration and the bytes it wrote. */
interface Copied {
  ms: number;
  bytes: number;
}

async function ours(job: CopyJob): Promise<Copied> {
  const source = remoteSourceFor(job.uri);
  if (source === undefined) throw new Error(`copy ${job.uri}: no source serves its scheme`);
  const started = performance.now();
  const model = await downloadVerified({ uri: job.uri, settings: job.settings }, source, {
    cacheDir: job.dest,
    expectedSha256: job.sha256,
    deadlineMs: 300_000,
  });
  const ms = performance.now() - started;
  if (model.sha256 !== job.sha256) throw new Error(`copy ${job.uri}: got sha256 ${model.sha256}`);
  return { ms, bytes: model.bytes };
}

async function s3Sdk(job: CopyJob): Promise<Copied> {
  const { S3Client, GetObjectCommand } = await import('@aws-sdk/client-s3');
  const [, bucket, key] = /^s3:\/\/([^/]+)\/(.+)$/.exec(job.uri) ?? [];
  const client = new S3Client({
    endpoint: job.settings.endpoint,
    region: job.settings.region,
    forcePathStyle: job.settings.pathStyle,
    credentials: job.settings.credentials.s3,
  });
  const started = performance.now();
  const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  await pipeline(out.Body as Readable, createWriteStream(job.dest));
  const ms = performance.now() - started;
  client.destroy();
  return { ms, bytes: statSync(job.dest).size };
}

async function gcs(job: CopyJob): Promise<Copied> {
  const { Storage } = await import('@google-cloud/storage');
  const [, bucket, object] = /^gs:\/\/([^/]+)\/(.+)$/.exec(job.uri) ?? [];
  // An emulator's endpoint: the library sends no credentials there (useAuthWithCustomEndpoint is off).
  const storage = new Storage({ apiEndpoint: job.settings.endpoint, projectId: 'modelship-bench' });
  const started = performance.now();
  await storage.bucket(bucket).file(object).download({ destination: job.dest });
  return { ms: performance.now() - started, bytes: statSync(job.dest).size };
}

async function read(job: CopyJob): Promise<Copied> {
  const source = remoteSourceFor(job.uri);
  if (source === undefined) throw new Error(`read ${job.uri}: no source serves its scheme`);
  const started = performance.now();
  const object = await source.open({ uri: job.uri, settings: job.settings, signal: AbortSignal.timeout(300_000) });
  let bytes = 0;
  for await (const chunk of object.body as AsyncIterable<Buffer>) bytes += chunk.length;
  return { ms: performance.now() - started, bytes };
}

const METHODS: Record<string, (job: CopyJob) => Promise<Copied>> = { ours, 's3-sdk': s3Sdk, gcs, read };

async function main(): Promise<void> {
  const method = METHODS[process.argv[2] ?? ''];
  if (method === undefined) throw new Error(`usage: copy.js ${Object.keys(METHODS).join('|')} (job in BENCH_COPY)`);
  const job = JSON.parse(process.env.BENCH_COPY ?? '') as CopyJob;
  const scheme = /^([a-z0-9]+):/.exec(job.uri)?.[1] ?? '';
  const importing = performance.now();
  for (const library of LIBRARIES[scheme] ?? []) await import(library);
  const importMs = performance.now() - importing;
  const { ms, bytes } = await method(job);
  process.stdout.write(JSON.stringify({ importMs, transferMs: ms, bytes }) + '\n');
}

await main();
