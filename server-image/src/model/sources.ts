/**
 * Which RemoteSource fetches a URI, by its scheme. The sources' clients load on first use, so
 * importing this costs a server with a local model nothing.
 */
import { gcsSource } from './gcs.js';
import { httpSource } from './http.js';
import { ociSource } from './oci.js';
import type { RemoteSource } from './remote.js';
import { s3Source } from './s3.js';

const SOURCES: Readonly<Record<string, RemoteSource>> = {
  http: httpSource,
  https: httpSource,
  s3: s3Source,
  gs: gcsSource,
  oci: ociSource,
};

/** The source that fetches `uri`, or undefined for a local URI or a scheme no source serves. */
export function remoteSourceFor(uri: string): RemoteSource | undefined {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(uri)?.[1]?.toLowerCase();
  return scheme === undefined ? undefined : SOURCES[scheme];
}
