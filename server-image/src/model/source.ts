/**
 * Where a model URI points: a local file (file://, pvc://, plain path) or an HTTP(S) download.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ModelLoadError } from '../dataplane/types.js';

/**
 * A model to read from the local filesystem or to download. `confinedTo` is the directory a pvc://
 * model must stay inside even after symlinks are followed.
 */
export type ModelSource = { kind: 'file'; path: string; confinedTo?: string } | { kind: 'http'; url: URL };

/**
 * The URI without credentials, query or fragment (pre-signed URLs carry tokens there), for logs
 * and error messages.
 */
export function redactUri(uri: string): string {
  if (!/^https?:\/\//i.test(uri)) return uri;
  try {
    const url = new URL(uri);
    const hidden = url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '';
    return `${url.protocol}//${url.host}${url.pathname}${hidden ? ' (credentials/query redacted)' : ''}`;
  } catch {
    return '(unparseable http URI)';
  }
}

/**
 * Resolve `pvc://<claim>/<path>` to `<pvcRoot>/<claim>/<path>`. Any `..` or empty segment is refused
 * (not normalised away), so a URI can never name a file outside its claim's directory.
 */
export function pvcPath(uri: string, pvcRoot: string): { file: string; claimDir: string } {
  const rest = uri.slice('pvc://'.length);
  const segments = rest.split('/');
  const claim = segments[0];
  const file = segments.slice(1);
  if (claim === '' || file.length === 0 || file.every((s) => s === '')) {
    throw new ModelLoadError(`model URI ${uri}: expected pvc://<claim>/<path>`);
  }
  const bad = segments.find((s) => s === '..' || s === '.' || s === '' || s.includes('\\') || s.includes('\0'));
  if (bad !== undefined) {
    throw new ModelLoadError(
      `model URI ${uri}: path segment "${bad}" is not allowed (it could leave the claim's directory)`,
    );
  }
  const claimDir = path.resolve(pvcRoot, claim);
  const resolved = path.resolve(claimDir, ...file);
  if (!resolved.startsWith(claimDir + path.sep)) {
    throw new ModelLoadError(`model URI ${uri}: resolves outside ${claimDir}`);
  }
  return { file: resolved, claimDir };
}

/** Classify a model URI. Throws ModelLoadError for unsupported schemes and malformed URIs. */
export function modelSource(uri: string, pvcRoot: string): ModelSource {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(uri)?.[1]?.toLowerCase();
  switch (scheme) {
    case undefined:
      if (uri.trim() === '') throw new ModelLoadError('model URI is empty');
      return { kind: 'file', path: path.resolve(uri) };
    case 'file':
      try {
        return { kind: 'file', path: fileURLToPath(uri) };
      } catch (err) {
        throw new ModelLoadError(`model URI ${uri}: ${(err as Error).message}`);
      }
    case 'pvc': {
      const { file, claimDir } = pvcPath(uri, pvcRoot);
      return { kind: 'file', path: file, confinedTo: claimDir };
    }
    case 'http':
    case 'https':
      try {
        return { kind: 'http', url: new URL(uri) };
      } catch {
        throw new ModelLoadError(`model URI ${redactUri(uri)} is not a valid URL`);
      }
    default:
      throw new ModelLoadError(
        `model URI ${redactUri(uri)}: scheme ${scheme}:// is not supported (use file://, pvc://, http(s):// or a path)`,
      );
  }
}
