/**
 * Model files on local disk: local paths are read in place, and remote models live in the cache
 * directory under their digest (download.ts puts them there, verified).
 */
import { realpath, rm, stat } from 'node:fs/promises';
import path from 'node:path';
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
