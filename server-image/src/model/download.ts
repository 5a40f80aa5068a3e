/**
 * The fetch pipeline every remote source goes through: open the object, stream it through sha256
 * into a new temporary file in the cache directory, verify, and only then rename it to its digest's
 * path, so that a partial or unverified file is never where a model is looked for. Transient
 * failures (the store down or overloaded, a transfer that broke or stalled) are retried with
 * backoff; the whole fetch, retries included, has one deadline.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FetchFailureReason } from '../../../contract/model-source.js';
import { ModelLoadError } from '../dataplane/types.js';
import { causeMessage } from './errors.js';
import { cachePathFor, type LocalModel } from './fetch.js';
import { isTransient, type RemoteObject, type RemoteRequest, type RemoteSource } from './remote.js';
import { DEFAULT_BACKOFF, retryDelayMs, type Backoff } from './retry.js';
import { redactUri } from './source.js';
export { remoteSourceFor } from './sources.js';
import { normaliseSha256 } from './verify.js';
import { startWriter, WriteError, type HashingWriter } from './writer.js';

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

/**
 * Reads `body` into `writer`, calling `received` per chunk; waits while the writer is behind. Rejects
 * with the body's error, the writer's, or the signal's reason.
 */
async function drain(body: Readable, writer: HashingWriter, received: (n: number) => void, signal: AbortSignal) {
  const onAbort = (): void => void body.destroy(signal.reason as Error);
  if (signal.aborted) onAbort();
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      received(chunk.length);
      const behind = writer.write(chunk);
      if (behind !== undefined) await behind;
    }
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/** One attempt: open, stream through the hash into a new temporary file, verify, rename. */
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
  const starting = startWriter();
  let object: RemoteObject;
  try {
    object = await untilAborted(source.open({ ...request, signal }), signal);
  } catch (err) {
    starting.abort();
    clearTimeout(stall);
    if (own.signal.aborted) throw stalled();
    throw err;
  }
  // Its errors surface from the reading below (a destroyed stream keeps its error); one that comes
  // while the file is being created must not go unhandled.
  object.body.on('error', () => undefined);
  const tmp = path.join(cacheDir, `.download-${randomUUID()}`);
  let writer: HashingWriter;
  try {
    writer = await starting.choose(object.bytes, tmp);
  } catch (err) {
    clearTimeout(stall);
    object.body.destroy();
    // The cache's disk, not the store: no FetchFailureReason fits, and no retry will help.
    throw new ModelLoadError(`fetch model ${uri}: ${(err as Error).message}`);
  }
  let bytes = 0;
  // One sha256 checks both the spec's digest and the one the source pins (an OCI layer's).
  let sha256: string;
  try {
    await drain(
      object.body,
      writer,
      (n) => {
        stall.refresh();
        bytes += n;
      },
      signal,
    );
    sha256 = await writer.end();
  } catch (err) {
    object.body.destroy();
    await writer.abort();
    await rm(tmp, { force: true });
    if (err instanceof WriteError) throw new ModelLoadError(`fetch model ${uri}: ${err.message}`);
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
