/**
 * Getting the model file onto local disk: local paths are read in place; HTTP(S) downloads stream
 * to a temporary file in the cache directory (hashing as they go) and are renamed into place under
 * their digest only after the digest checks out.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, realpath, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { ModelLoadError } from '../dataplane/types.js';
import { sha256OfFile } from './verify.js';

/** A model file on local disk with its digest. */
export interface LocalModel {
  path: string;
  sha256: string;
  bytes: number;
}

/**
 * The digest and size of a local model file, or a ModelLoadError naming the URI. With `confinedTo`,
 * the file's real path (symlinks followed) must lie inside that directory's real path.
 */
export async function readLocal(uri: string, file: string, confinedTo?: string): Promise<LocalModel> {
  try {
    if (confinedTo !== undefined) {
      const [real, root] = await Promise.all([realpath(file), realpath(confinedTo)]);
      if (!real.startsWith(root + path.sep)) throw new Error(`${file} leads outside ${confinedTo} (through a symlink)`);
    }
    const info = await stat(file);
    if (!info.isFile()) throw new Error(`${file} is not a regular file`);
    return { path: file, sha256: await sha256OfFile(file), bytes: info.size };
  } catch (err) {
    throw new ModelLoadError(`read model ${uri}: ${(err as Error).message}`);
  }
}

/** Where a model with this digest lives in the cache. */
export function cachePathFor(cacheDir: string, sha256: string): string {
  return path.join(cacheDir, `sha256-${sha256}.onnx`);
}

/**
 * A cached copy of the model with digest `sha256`, if one exists and still has that digest. A copy
 * whose content changed (tampering, a torn write) is deleted so that it is downloaded again.
 */
export async function cachedModel(cacheDir: string, sha256: string): Promise<LocalModel | undefined> {
  const file = cachePathFor(cacheDir, sha256);
  let bytes: number;
  try {
    bytes = (await stat(file)).size;
  } catch {
    return undefined;
  }
  const actual = await sha256OfFile(file);
  if (actual === sha256) return { path: file, sha256, bytes };
  await rm(file, { force: true });
  return undefined;
}

/**
 * Download `url` into a temporary file in `cacheDir`, computing its sha256 while streaming. The
 * caller verifies the digest and then calls `keep` (rename into the cache) or `discard`.
 */
export async function download(
  url: URL,
  redactedUri: string,
  cacheDir: string,
): Promise<LocalModel & { keep(): Promise<string>; discard(): Promise<void> }> {
  const fail = (why: string): ModelLoadError => new ModelLoadError(`download model ${redactedUri}: ${why}`);
  await mkdir(cacheDir, { recursive: true });
  // fetch() refuses URLs with credentials in them; send them as Basic auth instead.
  const target = new URL(url);
  const headers: Record<string, string> = {};
  if (target.username !== '' || target.password !== '') {
    const user = `${decodeURIComponent(target.username)}:${decodeURIComponent(target.password)}`;
    headers.authorization = `Basic ${Buffer.from(user).toString('base64')}`;
    target.username = '';
    target.password = '';
  }
  let response: Response;
  try {
    response = await fetch(target, { redirect: 'follow', headers });
  } catch (err) {
    const cause = (err as Error & { cause?: Error }).cause;
    throw fail(cause?.message ?? (err as Error).message);
  }
  if (!response.ok || response.body === null) {
    await response.body?.cancel();
    throw fail(`HTTP ${response.status} ${response.statusText}`);
  }
  const tmp = path.join(cacheDir, `.download-${randomUUID()}`);
  const hash = createHash('sha256');
  let bytes = 0;
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  try {
    await pipeline(
      Readable.fromWeb(response.body as WebReadableStream<Uint8Array>),
      hashing,
      createWriteStream(tmp, { flags: 'wx', mode: 0o644 }),
    );
  } catch (err) {
    await rm(tmp, { force: true });
    throw fail((err as Error).message);
  }
  const sha256 = hash.digest('hex');
  return {
    path: tmp,
    sha256,
    bytes,
    async keep() {
      const final = cachePathFor(cacheDir, sha256);
      await rename(tmp, final);
      return final;
    },
    async discard() {
      await rm(tmp, { force: true });
    },
  };
}
