/**
 * `oci://registry[:port]/repository(:tag|@sha256:<hex>)`: an OCI artifact's reference, parsed and checked by the
 * grammar of the OCI distribution spec, so a malformed URI is refused before any request is made.
 */
import { ModelLoadError } from '../dataplane/types.js';

/** A parsed oci:// reference. A URI naming both a tag and a digest keeps both; the digest is what is fetched. */
export interface OciReference {
  /** `host[:port]`, as written. */
  registry: string;
  /** The repository path in the registry, e.g. `models/digits`. */
  repository: string;
  tag?: string;
  /** `sha256:<64 lowercase hex>`. */
  digest?: string;
}

/** The form the reasons below expect, for messages. */
const EXPECTED = 'oci://<registry>[:<port>]/<repository>(:<tag>|@sha256:<64 hex>)';

// The distribution spec's grammar (and docker/distribution's reference package for the host).
const HOST_LABEL = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const HOST = new RegExp(`^(?:${HOST_LABEL}(?:\\.${HOST_LABEL})*|\\[[a-fA-F0-9:]+\\])(?::([0-9]{1,5}))?$`);
const PATH_COMPONENT = '[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*';
const REPOSITORY = new RegExp(`^${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`);
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
/** What most clients allow for `registry/repository` together. */
const MAX_NAME = 255;

/** The reference as a URI, for messages and logs (it holds no credentials: parseOciReference refuses them). */
export function formatOciReference(ref: OciReference): string {
  return `oci://${ref.registry}/${ref.repository}${ref.tag === undefined ? '' : `:${ref.tag}`}${
    ref.digest === undefined ? '' : `@${ref.digest}`
  }`;
}

/** The tag or digest to ask the registry's manifests endpoint for: the digest when there is one. */
export function manifestReference(ref: OciReference): string {
  return ref.digest ?? (ref.tag as string);
}

/**
 * The URI without userinfo, query or fragment, for the messages of a URI that could not be parsed.
 */
function shown(uri: string): string {
  const cut = uri.search(/[?#]/);
  const base = cut >= 0 ? uri.slice(0, cut) : uri;
  const slash = base.indexOf('/', 'oci://'.length);
  const authorityEnd = slash >= 0 ? slash : base.length;
  const at = base.lastIndexOf('@', authorityEnd);
  const clean = at >= 'oci://'.length ? `oci://(credentials redacted)@${base.slice(at + 1)}` : base;
  return cut >= 0 ? `${clean} (query/fragment redacted)` : clean;
}

/**
 * Parse and check an oci:// model URI. Throws a ModelLoadError (ModelSourceInvalid) naming the URI (never its
 * userinfo) and what is wrong. A tag or a digest is required: a model's version must be explicit, so there is no
 * default `latest`.
 */
export function parseOciReference(uri: string): OciReference {
  const read = readOciReference(uri);
  if ('problem' in read) throw new ModelLoadError(read.problem, 'ModelSourceInvalid');
  return read;
}

/**
 * The reference an oci:// URI names, or the problem with it (`model URI <uri>: <why>`, the URI without userinfo).
 * Depends on nothing of the server, so that the operator's validation can share the grammar.
 */
export function readOciReference(uri: string): OciReference | { problem: string } {
  const invalid = (why: string): { problem: string } => ({ problem: `model URI ${shown(uri)}: ${why}` });
  if (!/^oci:\/\//i.test(uri)) return invalid(`expected ${EXPECTED}`);
  const rest = uri.slice('oci://'.length);
  if (/[?#]/.test(rest)) return invalid(`a query or fragment is not allowed (expected ${EXPECTED})`);
  const slash = rest.indexOf('/');
  const registry = slash >= 0 ? rest.slice(0, slash) : rest;
  if (registry.includes('@')) {
    return invalid('credentials do not belong in the URI: name a dockerconfigjson Secret in storage.secretRef');
  }
  const host = HOST.exec(registry);
  if (registry === '' || host === null || (host[1] !== undefined && !validPort(host[1]))) {
    return invalid(`registry "${registry}" is not a host[:port] (expected ${EXPECTED})`);
  }
  const path = slash >= 0 ? rest.slice(slash + 1) : '';
  const at = path.indexOf('@');
  const named = at >= 0 ? path.slice(0, at) : path;
  const digest = at >= 0 ? path.slice(at + 1) : undefined;
  const colon = named.lastIndexOf(':');
  const tagged = colon > named.lastIndexOf('/');
  const repository = tagged ? named.slice(0, colon) : named;
  const tag = tagged ? named.slice(colon + 1) : undefined;
  if (repository === '') return invalid(`no repository after the registry (expected ${EXPECTED})`);
  if (!REPOSITORY.test(repository)) {
    return invalid(
      `repository "${repository}" is not valid: path components of lowercase letters and digits, ` +
        'separated inside by ".", "_", "__" or "-", joined by "/"',
    );
  }
  if (registry.length + 1 + repository.length > MAX_NAME) {
    return invalid(`registry and repository together are longer than ${MAX_NAME} characters`);
  }
  if (tag !== undefined && !TAG.test(tag)) {
    return invalid(
      `tag "${tag}" is not valid: 1 to 128 letters, digits, "_", "." or "-", not starting with "." or "-"`,
    );
  }
  if (digest !== undefined && !DIGEST.test(digest)) {
    return invalid(
      `digest "${digest}" is not valid: expected sha256:<64 lowercase hex> (the only algorithm supported)`,
    );
  }
  if (tag === undefined && digest === undefined) {
    return invalid(
      'name a tag (:<tag>) or a digest (@sha256:<64 hex>): a model version must be explicit, there is no default "latest"',
    );
  }
  return { registry, repository, ...(tag === undefined ? {} : { tag }), ...(digest === undefined ? {} : { digest }) };
}

function validPort(port: string): boolean {
  const n = Number(port);
  return n >= 1 && n <= 65535;
}
