/**
 * Where a model URI points: a local file (file://, pvc://, plain path) or a remote object
 * (http(s)://, s3://, gs://, oci://). Classification is strict so that a typo is reported at once,
 * naming the URI, instead of as a "not found" from the store after retries.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ModelScheme } from '../../../contract/model-source.js';
import { ModelLoadError } from '../dataplane/types.js';

/** The schemes fetched over the network. */
export type RemoteScheme = Extract<ModelScheme, 'http' | 'https' | 's3' | 'gs' | 'oci'>;

/**
 * A model to read from the local filesystem or to fetch. `confinedTo` is the directory a pvc://
 * model must stay inside even after symlinks are followed.
 */
export type ModelSource =
  { kind: 'file'; path: string; confinedTo?: string } | { kind: 'remote'; scheme: RemoteScheme; uri: string };

/** A bucket and the name of an object in it (s3://bucket/key, gs://bucket/object). */
export interface BucketObject {
  bucket: string;
  key: string;
}

/**
 * The URI without credentials (and, for http(s), without query or fragment: pre-signed URLs carry
 * tokens there), for logs and error messages.
 */
export function redactUri(uri: string): string {
  if (/^https?:\/\//i.test(uri)) {
    try {
      const url = new URL(uri);
      const hidden = url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '';
      return `${url.protocol}//${url.host}${url.pathname}${hidden ? ' (credentials/query redacted)' : ''}`;
    } catch {
      return '(unparseable http URI)';
    }
  }
  // Any other scheme names no credentials, but a user may still have written some before an `@`
  // in the authority (oci://user:token@registry/...): never repeat them.
  const match = /^([a-z][a-z0-9+.-]*:\/\/)([^/]*)@/i.exec(uri);
  if (match === null) return uri;
  return `${match[1]}${uri.slice(match[0].length)} (credentials redacted)`;
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
    throw new ModelLoadError(`model URI ${redactUri(uri)}: expected pvc://<claim>/<path>`, 'ModelSourceInvalid');
  }
  const bad = segments.find((s) => s === '..' || s === '.' || s === '' || s.includes('\\') || s.includes('\0'));
  if (bad !== undefined) {
    throw new ModelLoadError(
      `model URI ${redactUri(uri)}: path segment "${bad}" is not allowed (it could leave the claim's directory)`,
      'ModelSourceInvalid',
    );
  }
  const claimDir = path.resolve(pvcRoot, claim);
  const resolved = path.resolve(claimDir, ...file);
  if (!resolved.startsWith(claimDir + path.sep)) {
    throw new ModelLoadError(`model URI ${redactUri(uri)}: resolves outside ${claimDir}`, 'ModelSourceInvalid');
  }
  return { file: resolved, claimDir };
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * Why `bucket` is not a valid S3 bucket name, or undefined. AWS's rules for new buckets, which
 * S3-compatible stores (MinIO, Ceph) follow too: 3 to 63 lowercase letters, digits, dots and
 * hyphens, starting and ending with a letter or digit, no `..`, not an IP address, none of the
 * reserved prefixes and suffixes.
 */
export function s3BucketProblem(bucket: string): string | undefined {
  if (bucket.length < 3 || bucket.length > 63) return 'must be 3 to 63 characters long';
  if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(bucket)) {
    return 'must be lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit';
  }
  if (bucket.includes('..')) return 'must not contain two adjacent dots';
  if (IPV4.test(bucket)) return 'must not be an IP address';
  const prefix = ['xn--', 'sthree-', 'amzn-s3-demo-'].find((p) => bucket.startsWith(p));
  if (prefix !== undefined) return `must not start with the reserved prefix ${prefix}`;
  const suffix = ['-s3alias', '--ol-s3', '.mrap', '--x-s3', '--table-s3'].find((s) => bucket.endsWith(s));
  if (suffix !== undefined) return `must not end with the reserved suffix ${suffix}`;
  return undefined;
}

/**
 * Why `bucket` is not a valid GCS bucket name, or undefined (Google's naming rules): lowercase
 * letters, digits, hyphens, underscores and dots, starting and ending with a letter or digit; 3 to
 * 63 characters, or up to 222 with dots when each dot-separated part is at most 63; not an IP
 * address; not starting with "goog" nor containing "google".
 */
export function gcsBucketProblem(bucket: string): string | undefined {
  const max = bucket.includes('.') ? 222 : 63;
  if (bucket.length < 3 || bucket.length > max) return `must be 3 to ${max} characters long`;
  if (!/^[a-z0-9][a-z0-9._-]*[a-z0-9]$/.test(bucket)) {
    return 'must be lowercase letters, digits, hyphens, underscores and dots, starting and ending with a letter or digit';
  }
  if (bucket.split('.').some((part) => part.length === 0 || part.length > 63)) {
    return 'must have dot-separated parts of 1 to 63 characters';
  }
  if (IPV4.test(bucket)) return 'must not be an IP address';
  if (bucket.startsWith('goog')) return 'must not start with "goog"';
  if (bucket.includes('google')) return 'must not contain "google"';
  return undefined;
}

/** Why `key` cannot name a model object, or undefined. Keys are taken literally, never percent-decoded. */
function objectKeyProblem(key: string): string | undefined {
  if (key === '') return 'names no object';
  if (Buffer.byteLength(key) > 1024) return 'is longer than 1024 bytes';
  if (key.endsWith('/')) return 'names a folder, not an object';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(key)) return 'contains a control character';
  if (key.split('/').some((segment) => segment === '..' || segment === '.')) {
    return 'has a "." or ".." segment';
  }
  return undefined;
}

/**
 * The bucket and object of `s3://bucket/key` or `gs://bucket/object`, or a ModelLoadError
 * (ModelSourceInvalid) naming the URI and what is wrong with it.
 */
export function parseBucketUri(uri: string): BucketObject {
  const match = /^(s3|gs):\/\/([^/]*)(?:\/(.*))?$/is.exec(uri);
  const invalid = (why: string): ModelLoadError =>
    new ModelLoadError(`model URI ${redactUri(uri)}: ${why}`, 'ModelSourceInvalid');
  if (match === null) throw invalid('expected s3://<bucket>/<key> or gs://<bucket>/<object>');
  const scheme = match[1].toLowerCase();
  const [bucket, key] = [match[2], match[3] ?? ''];
  const usage = scheme === 's3' ? 's3://<bucket>/<key>' : 'gs://<bucket>/<object>';
  if (bucket === '') throw invalid(`expected ${usage}: the bucket is missing`);
  const bucketProblem = scheme === 's3' ? s3BucketProblem(bucket) : gcsBucketProblem(bucket);
  if (bucketProblem !== undefined) throw invalid(`bucket name "${bucket}" ${bucketProblem}`);
  const keyProblem = objectKeyProblem(key);
  if (keyProblem !== undefined)
    throw invalid(`expected ${usage}: the ${scheme === 's3' ? 'key' : 'object'} ${keyProblem}`);
  return { bucket, key };
}

/** Classify a model URI. Throws ModelLoadError (ModelSourceInvalid) for unsupported schemes and malformed URIs. */
export function modelSource(uri: string, pvcRoot: string): ModelSource {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(uri)?.[1]?.toLowerCase();
  const invalid = (why: string): ModelLoadError =>
    new ModelLoadError(`model URI ${redactUri(uri)}: ${why}`, 'ModelSourceInvalid');
  switch (scheme) {
    case undefined:
      if (uri.trim() === '') throw new ModelLoadError('model URI is empty', 'ModelSourceInvalid');
      return { kind: 'file', path: path.resolve(uri) };
    case 'file':
      try {
        return { kind: 'file', path: fileURLToPath(uri) };
      } catch (err) {
        throw invalid((err as Error).message);
      }
    case 'pvc': {
      const { file, claimDir } = pvcPath(uri, pvcRoot);
      return { kind: 'file', path: file, confinedTo: claimDir };
    }
    case 'http':
    case 'https':
      try {
        new URL(uri);
      } catch {
        throw invalid('is not a valid URL');
      }
      return { kind: 'remote', scheme, uri };
    case 's3':
    case 'gs':
      parseBucketUri(uri);
      return { kind: 'remote', scheme, uri };
    case 'oci':
      // The reference's grammar is the oci source's to check (model/oci.ts).
      if (uri.length === 'oci://'.length) throw invalid('expected oci://<registry>/<repository>[:<tag>|@<digest>]');
      return { kind: 'remote', scheme, uri };
    default:
      throw invalid(
        `scheme ${scheme}:// is not supported (use s3://, gs://, oci://, http(s)://, pvc://, file:// or a path)`,
      );
  }
}
