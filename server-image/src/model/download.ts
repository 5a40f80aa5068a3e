/**
 * The fetch pipeline every remote source goes through: open the object, stream it through sha256
 * into a new temporary file in the cache directory, verify, and only then rename it to its digest's
 * path, so that a partial or unverified file is never where a model is looked for. Transient
 * failures (the store down or overloaded, a transfer that broke or stalled) are retried with
 * backoff; the whole fetch, retries included, has one deadline.
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FetchFailureReason } from '../../../contract/model-source.js';
import { ModelLoadError } from '../dataplane/types.js';
import { causeMessage } from './errors.js';
import { cachePathFor, type LocalModel } from './fetch.js';
import { startHash } from './hash.js';
import { isTransient, type RemoteObject, type RemoteRequest, type RemoteSource } from './remote.js';
import { DEFAULT_BACKOFF, retryDelayMs, type Backoff } from './retry.js';
import { redactUri } from './source.js';
export { remoteSourceFor } from './sources.js';
import { normaliseSha256 } from './verify.js';

/** What to fetch: the URI and settings; `signal` lets the caller give up (the pipeline adds its deadline). */
export type DownloadRequest = Omit<RemoteRequest, 'signal'> & { signal?: AbortSignal };

/** One failed attempt, for a log line. `retryInMs` is unset when the fetch gives up. */
export interface AttemptFailure {
  attempt: number;
  reason: FetchFailureReason;
  message: string;
  retryInMs?: number;
}

/** How to download. */
export interface DownloadOptions {
  cacheDir: string;
  /** The sha256 the content must have (hex); unset: any content is kept under its own digest. */
  expectedSha256?: string;
  /** The whole fetch's deadline, retries included. */
  deadlineMs: number;
  /** Told of every failed attempt. */
  onAttempt?: (failure: AttemptFailure) => void;
  /** Delays between attempts (default 0.5 s doubling to 10 s, with jitter). */
  backoff?: Backoff;
  /** An attempt that receives nothing for this long is abandoned and retried (default 30 s). */
  stallMs?: number;
}

const DEFAULT_STALL_MS = 30_000;
/**
 * Bytes buffered between the stages. Stores answer in chunks of 16 to 64 KiB; a few MiB in flight
 * lets the disk and the hash keep up with a fast network without a write per chunk.
 */
const HIGH_WATER_MARK = 4 * 1024 * 1024;

/** The remote object's bytes are not usable; the reason says whether another attempt may help. */
const failure = (message: string, reason: FetchFailureReason): ModelLoadError => new ModelLoadError(message, reason);

/**
 * Fetch `request.uri` from `source` into `options.cacheDir`, verified against
 * `options.expectedSha256` (and the digest the source pins, if any), retrying transient failures
 * until `options.deadlineMs`. Resolves with the file at its digest's path in the cache. Rejects with
 * a ModelLoadError carrying a FetchFailureReason and naming the URI without secrets; nothing of a
 * failed fetch stays in the cache.
 */
export async function downloadVerified(
  request: DownloadRequest,
  source: RemoteSource,
  options: DownloadOptions,
): Promise<LocalModel> {
  const uri = redactUri(request.uri);
  const expected = options.expectedSha256 === undefined ? undefined : normaliseSha256(options.expectedSha256);
  const started = performance.now();
  const deadline = AbortSignal.timeout(options.deadlineMs);
  const signal = request.signal === undefined ? deadline : AbortSignal.any([deadline, request.signal]);
  const seconds = (ms: number): string => `${Math.round(ms / 100) / 10} s`;
  try {
    await mkdir(options.cacheDir, { recursive: true });
  } catch (err) {
    throw new ModelLoadError(`fetch model ${uri}: create cache directory: ${(err as Error).message}`);
  }
  let last: ModelLoadError | undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      return await attemptDownload(
        { uri: request.uri, settings: request.settings, signal },
        source,
        uri,
        expected,
        options.cacheDir,
        options.stallMs ?? DEFAULT_STALL_MS,
      );
    } catch (err) {
      if (deadline.aborted) {
        const cause = err instanceof ModelLoadError ? err : last;
        throw failure(
          `fetch model ${uri}: not done within the deadline of ${seconds(options.deadlineMs)} (${attempt} attempt${attempt === 1 ? '' : 's'}${cause === undefined ? '' : `; the last: ${cause.message}`})`,
          'ModelFetchTimeout',
        );
      }
      if (request.signal?.aborted === true) throw err;
      if (!(err instanceof ModelLoadError) || err.reason === undefined || !isTransient(err.reason)) throw err;
      last = err;
      const delay = retryDelayMs(attempt, Math.random, options.backoff ?? DEFAULT_BACKOFF);
      const elapsed = performance.now() - started;
      if (elapsed + delay >= options.deadlineMs) {
        options.onAttempt?.({ attempt, reason: err.reason, message: err.message });
        throw failure(
          `${err.message} (gave up after ${attempt} attempt${attempt === 1 ? '' : 's'} in ${seconds(elapsed)}: another would pass the deadline of ${seconds(options.deadlineMs)})`,
          err.reason,
        );
      }
      options.onAttempt?.({ attempt, reason: err.reason, message: err.message, retryInMs: delay });
      await sleep(delay, undefined, { signal }).catch(() => undefined);
    }
  }
}

/** Why an attempt was abandoned by the pipeline itself. */
class Stalled extends Error {}

/**
 * `opening`, or a rejection as soon as `signal` aborts: a client that does not watch the signal
 * (a metadata call) must not hold the attempt past its stall timer or the deadline. What it opens
 * after all is closed at once.
 */
function untilAborted(opening: Promise<RemoteObject>, signal: AbortSignal): Promise<RemoteObject> {
  if (signal.aborted) {
    opening.then(
      (late) => late.body.destroy(),
      () => undefined,
    );
    return Promise.reject(signal.reason as Error);
  }
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      opening.then(
        (late) => late.body.destroy(),
        () => undefined,
      );
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    opening.then(
      (object) => {
        signal.removeEventListener('abort', onAbort);
        resolve(object);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err as Error);
      },
    );
  });
}

/** One attempt: open, stream through the hashes into a new temporary file, verify, rename. */
async function attemptDownload(
  request: RemoteRequest,
  source: RemoteSource,
  uri: string,
  expected: string | undefined,
  cacheDir: string,
  stallMs: number,
): Promise<LocalModel> {
  const own = new AbortController();
  const signal = AbortSignal.any([request.signal, own.signal]);
  // Armed for the answer, then re-armed by every chunk: a transfer that stops is abandoned.
  const stall = setTimeout(() => own.abort(new Stalled()), stallMs);
  const stalled = (): ModelLoadError =>
    failure(`fetch model ${uri}: nothing received for ${stallMs / 1000} s`, 'ModelSourceUnavailable');
  const starting = startHash();
  let object: RemoteObject;
  try {
    object = await untilAborted(source.open({ ...request, signal }), signal);
  } catch (err) {
    starting.abort();
    clearTimeout(stall);
    if (own.signal.aborted) throw stalled();
    throw err;
  }
  const tmp = path.join(cacheDir, `.download-${randomUUID()}`);
  // One sha256 checks both the spec's digest and the one the source pins (an OCI layer's).
  const hash = starting.choose(object.bytes);
  let bytes = 0;
  const hashing = new Transform({
    readableHighWaterMark: HIGH_WATER_MARK,
    writableHighWaterMark: HIGH_WATER_MARK,
    transform(chunk: Buffer, _encoding, done) {
      stall.refresh();
      bytes += chunk.length;
      let hashed: Promise<void> | undefined;
      try {
        hashed = hash.update(chunk);
      } catch (err) {
        done(err as Error);
        return;
      }
      // The chunk goes on to the disk at once; the next one waits while the hash is far behind.
      this.push(chunk);
      if (hashed === undefined) done();
      else hashed.then(() => done(), done);
    },
  });
  const file = createWriteStream(tmp, { flags: 'wx', mode: 0o644, highWaterMark: HIGH_WATER_MARK });
  // pipeline() also destroys the file with the body's error; the file's own failures are the fs calls'.
  let diskError: Error | undefined;
  file.once('error', (err: NodeJS.ErrnoException) => {
    if (['open', 'write', 'writev', 'close'].includes(err.syscall ?? '')) diskError = err;
  });
  try {
    await pipeline(object.body, hashing, file, { signal });
  } catch (err) {
    hash.abort();
    await rm(tmp, { force: true });
    if (diskError !== undefined) {
      // The cache's disk, not the store: no FetchFailureReason fits, and no retry will help.
      throw new ModelLoadError(`fetch model ${uri}: write ${tmp}: ${diskError.message}`);
    }
    if (own.signal.aborted) throw stalled();
    if (err instanceof ModelLoadError && err.reason !== undefined) throw err;
    throw failure(
      `fetch model ${uri}: the transfer broke after ${bytes} bytes: ${causeMessage(err)}`,
      'ModelSourceUnavailable',
    );
  } finally {
    clearTimeout(stall);
  }
  const discard = async (error: ModelLoadError): Promise<never> => {
    hash.abort();
    await rm(tmp, { force: true });
    throw error;
  };
  if (object.bytes !== undefined && bytes !== object.bytes) {
    await discard(
      failure(
        `fetch model ${uri}: the transfer ended after ${bytes} of ${object.bytes} bytes`,
        'ModelSourceUnavailable',
      ),
    );
  }
  let sha256: string;
  try {
    sha256 = await hash.digest();
  } catch (err) {
    return discard(new ModelLoadError(`fetch model ${uri}: hash the content: ${(err as Error).message}`));
  }
  if (object.pinnedSha256 !== undefined && sha256 !== object.pinnedSha256) {
    await discard(
      failure(
        `model ${uri}: content does not match the digest its source pins: expected sha256:${object.pinnedSha256}, got sha256:${sha256}`,
        'ModelDigestMismatch',
      ),
    );
  }
  if (expected !== undefined && sha256 !== expected) {
    await discard(failure(`model ${uri}: sha256 mismatch: expected ${expected}, got ${sha256}`, 'ModelDigestMismatch'));
  }
  const final = cachePathFor(cacheDir, sha256);
  try {
    await rename(tmp, final);
  } catch (err) {
    await discard(new ModelLoadError(`fetch model ${uri}: rename ${tmp} to ${final}: ${(err as Error).message}`));
  }
  return { path: final, sha256, bytes };
}
