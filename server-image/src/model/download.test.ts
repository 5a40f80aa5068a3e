import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { FetchFailureReason } from '../../../contract/model-source.js';
import { ModelLoadError } from '../dataplane/types.js';
import { downloadVerified, remoteSourceFor, type AttemptFailure, type DownloadOptions } from './download.js';
import { cachePathFor } from './fetch.js';
import { OFF_THREAD_MIN_BYTES } from './writer.js';
import type { RemoteObject, RemoteRequest, RemoteSource } from './remote.js';

// The pipeline is generic over RemoteSource: these sources script what a store does, attempt by
// attempt. Real stores are in server-image/test/model/.
const content = Buffer.alloc(300_000, 'model bytes ');
const sha256 = createHash('sha256').update(content).digest('hex');
const uri = 's3://models/digits.onnx';

type Step = ((request: RemoteRequest) => Promise<RemoteObject>) | FetchFailureReason;
/** A source that answers attempt n with steps[n] (the last step repeats). */
function scripted(...steps: Step[]): RemoteSource & { attempts: number } {
  const source = {
    attempts: 0,
    async open(request: RemoteRequest): Promise<RemoteObject> {
      const step = steps[Math.min(source.attempts, steps.length - 1)];
      source.attempts++;
      if (typeof step === 'string') throw new ModelLoadError(`fetch model ${uri}: the store said ${step}`, step);
      return step(request);
    },
    async probe(): Promise<void> {},
  };
  return source;
}
const whole = async (): Promise<RemoteObject> => ({ body: Readable.from([content]), bytes: content.length });
/** A body that sends a third of the content and then breaks (or, with `stall`, goes silent). */
const partial = (end: 'break' | 'stall') => async (): Promise<RemoteObject> => {
  let sent = false;
  const body = new Readable({
    read() {
      if (sent) return;
      sent = true;
      this.push(content.subarray(0, 100_000));
      if (end === 'break') setImmediate(() => this.destroy(new Error('read ECONNRESET')));
    },
  });
  return { body, bytes: content.length };
};

describe('downloadVerified', () => {
  let cacheDir: string;
  let failures: AttemptFailure[];
  beforeEach(async () => {
    cacheDir = await mkdtemp(path.join(tmpdir(), 'modelship-download-'));
    failures = [];
  });
  afterEach(() => rm(cacheDir, { recursive: true, force: true }));

  const options = (extra: Partial<DownloadOptions> = {}): DownloadOptions => ({
    cacheDir,
    expectedSha256: sha256,
    deadlineMs: 10_000,
    backoff: { baseMs: 1, maxMs: 4 },
    onAttempt: (f) => failures.push(f),
    ...extra,
  });
  const request = { uri, settings: { credentials: {} } };
  const fails = async (run: Promise<unknown>, reason: FetchFailureReason, message: RegExp): Promise<void> => {
    const err = await run.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ModelLoadError);
    expect((err as ModelLoadError).reason).toBe(reason);
    expect((err as Error).message).toMatch(message);
  };

  test('keeps the verified content under its digest, and nothing else', async () => {
    const model = await downloadVerified(request, scripted(whole), options());
    expect(model).toEqual({ path: cachePathFor(cacheDir, sha256), sha256, bytes: content.length });
    expect(await readFile(model.path)).toEqual(content);
    expect(await readdir(cacheDir)).toEqual([`sha256-${sha256}.onnx`]);
  });

  test('refuses content with another digest at once, naming both digests, and keeps nothing', async () => {
    const source = scripted(whole);
    const wrong = 'ab'.repeat(32);
    await fails(
      downloadVerified(request, source, options({ expectedSha256: wrong })),
      'ModelDigestMismatch',
      new RegExp(`^model s3://models/digits.onnx: sha256 mismatch: expected ${wrong}, got ${sha256}$`),
    );
    expect(source.attempts).toBe(1);
    expect(await readdir(cacheDir)).toEqual([]);
  });

  test('checks the digest the source pins too', async () => {
    const pinned = 'cd'.repeat(32);
    const source = scripted(async () => ({ ...(await whole()), pinnedSha256: pinned }));
    await fails(
      downloadVerified(request, source, options()),
      'ModelDigestMismatch',
      new RegExp(`does not match the digest its source pins: expected sha256:${pinned}, got sha256:${sha256}`),
    );
    expect(await readdir(cacheDir)).toEqual([]);
  });

  test('without an expected digest, keeps the content under its own', async () => {
    const model = await downloadVerified(request, scripted(whole), options({ expectedSha256: undefined }));
    expect(model.sha256).toBe(sha256);
  });

  test('retries an unavailable store with growing delays, and says so for each failed attempt', async () => {
    const source = scripted('ModelSourceUnavailable', 'ModelSourceUnavailable', whole);
    const model = await downloadVerified(request, source, options());
    expect(model.sha256).toBe(sha256);
    expect(source.attempts).toBe(3);
    expect(failures.map((f) => [f.attempt, f.reason])).toEqual([
      [1, 'ModelSourceUnavailable'],
      [2, 'ModelSourceUnavailable'],
    ]);
    expect(failures.map((f) => f.retryInMs)).toEqual([expect.any(Number), expect.any(Number)]);
    expect(await readdir(cacheDir)).toEqual([`sha256-${sha256}.onnx`]);
  });

  test.each(['ModelNotFound', 'ModelAccessDenied', 'ModelSourceInvalid'] as const)(
    'never retries %s',
    async (reason) => {
      const source = scripted(reason, whole);
      await fails(downloadVerified(request, source, options()), reason, /the store said/);
      expect(source.attempts).toBe(1);
    },
  );

  test('retries a transfer that breaks mid-way, leaving no partial file', async () => {
    const source = scripted(partial('break'), whole);
    const model = await downloadVerified(request, source, options());
    expect(model.sha256).toBe(sha256);
    expect(failures).toEqual([
      expect.objectContaining({
        attempt: 1,
        reason: 'ModelSourceUnavailable',
        message: expect.stringMatching(/the transfer broke after 100000 bytes: read ECONNRESET/),
      }),
    ]);
    expect(await readdir(cacheDir)).toEqual([`sha256-${sha256}.onnx`]);
  });

  test('retries a transfer that stops sending', async () => {
    const source = scripted(partial('stall'), whole);
    const model = await downloadVerified(request, source, options({ stallMs: 100 }));
    expect(model.sha256).toBe(sha256);
    expect(failures[0].message).toMatch(/nothing received for 0.1 s/);
  });

  test('retries a body shorter than the store announced', async () => {
    const short = async (): Promise<RemoteObject> => ({
      body: Readable.from([content.subarray(1)]),
      bytes: content.length,
    });
    const source = scripted(short, whole);
    await downloadVerified(request, source, options());
    expect(failures[0].message).toMatch(/the transfer ended after 299999 of 300000 bytes/);
  });

  test('hashes a large object on a worker thread, and gives up that thread when the transfer breaks', async () => {
    const large = Buffer.alloc(OFF_THREAD_MIN_BYTES + 1000, 'large model ');
    const largeSha256 = createHash('sha256').update(large).digest('hex');
    const chunks = (end: number): Buffer[] => {
      const out: Buffer[] = [];
      for (let offset = 0; offset < end; offset += 65536)
        out.push(large.subarray(offset, Math.min(end, offset + 65536)));
      return out;
    };
    const broken = async (): Promise<RemoteObject> => {
      // Half the content, then the connection breaks.
      const body = Readable.from(chunks(large.length / 2));
      const failing = new Readable({ read() {} });
      body.on('data', (c: Buffer) => failing.push(c));
      body.once('end', () => failing.destroy(new Error('read ECONNRESET')));
      return { body: failing, bytes: large.length };
    };
    const whole = async (): Promise<RemoteObject> => ({
      body: Readable.from(chunks(large.length)),
      bytes: large.length,
    });
    const model = await downloadVerified(request, scripted(broken, whole), options({ expectedSha256: largeSha256 }));
    expect(model).toEqual({ path: cachePathFor(cacheDir, largeSha256), sha256: largeSha256, bytes: large.length });
    expect(failures).toHaveLength(1);
    expect(await readdir(cacheDir)).toEqual([`sha256-${largeSha256}.onnx`]);
  });

  test('gives up with the last failure when the next attempt would pass the deadline', async () => {
    const source = scripted('ModelSourceUnavailable');
    await fails(
      downloadVerified(request, source, options({ deadlineMs: 300, backoff: { baseMs: 40, maxMs: 80 } })),
      'ModelSourceUnavailable',
      /the store said ModelSourceUnavailable \(gave up after \d+ attempts in .* s: another would pass the deadline of 0.3 s\)/,
    );
    expect(source.attempts).toBeGreaterThan(1);
    expect(failures.at(-1)?.retryInMs).toBeUndefined();
  });

  test('ends a fetch that does not finish by the deadline with ModelFetchTimeout', async () => {
    // A store that accepts the request and never answers, ignoring the abort.
    const source = scripted(() => new Promise<RemoteObject>(() => undefined));
    await fails(
      downloadVerified(request, source, options({ deadlineMs: 200 })),
      'ModelFetchTimeout',
      /^fetch model s3:\/\/models\/digits.onnx: not done within the deadline of 0.2 s \(1 attempt\)$/,
    );
  });

  test('reports a cache directory it cannot use without blaming the store', async () => {
    const file = path.join(cacheDir, 'not-a-dir');
    await writeFile(file, '');
    const err = await downloadVerified(request, scripted(whole), options({ cacheDir: file })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelLoadError);
    expect((err as ModelLoadError).reason).toBeUndefined();
    expect((err as Error).message).toMatch(/create cache directory/);
  });
});

describe('remoteSourceFor', () => {
  test.each(['http://h/m.onnx', 'HTTPS://h/m.onnx', 's3://b/m.onnx', 'gs://b/m.onnx'])('has a source for %s', (u) => {
    expect(remoteSourceFor(u)).toBeDefined();
  });
  test.each(['/models/m.onnx', 'file:///m.onnx', 'pvc://c/m.onnx'])('has none for %s', (u) => {
    expect(remoteSourceFor(u)).toBeUndefined();
  });
});
