/**
 * Registry authentication, the pure part: which credentials of a `.dockerconfigjson` belong to a registry, what a
 * 401's WWW-Authenticate asks for, and the token request of the distribution token spec (docker's `auth` flow:
 * Bearer with a realm, service and scope; or Basic). The requests themselves are oci-client.ts's.
 */
import { ModelLoadError } from '../dataplane/types.js';

/** One challenge of a WWW-Authenticate header: its scheme (lowercase) and parameters (names lowercase). */
export interface AuthChallenge {
  scheme: string;
  params: Record<string, string>;
}

/** A registry's credentials from a `.dockerconfigjson`: a user and password, or an OAuth2 refresh token. */
export type RegistryCredentials =
  { kind: 'basic'; username: string; password: string } | { kind: 'identityToken'; identityToken: string };

/** A request for a Bearer token to the challenge's realm. */
export interface TokenRequest {
  url: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
}

const TOKEN = /[!#$%&'*+.^_`|~0-9A-Za-z-]+/y;
const QUOTED = /"((?:[^"\\]|\\.)*)"/y;

/**
 * The challenges of a WWW-Authenticate header (RFC 9110 11.6.1): `Bearer realm="...",service="...",scope="..."`
 * or `Basic realm="..."`, several possibly in one header. Parameters whose syntax is broken are skipped.
 */
export function parseWwwAuthenticate(header: string): AuthChallenge[] {
  const challenges: AuthChallenge[] = [];
  let current: AuthChallenge | undefined;
  let i = 0;
  const match = (re: RegExp): RegExpExecArray | null => {
    re.lastIndex = i;
    const m = re.exec(header);
    if (m !== null) i = re.lastIndex;
    return m;
  };
  const skip = (chars: RegExp): void => {
    while (i < header.length && chars.test(header[i])) i++;
  };
  while (i < header.length) {
    skip(/[\s,]/);
    const name = match(TOKEN);
    if (name === null) {
      i++;
      continue;
    }
    const afterName = i;
    skip(/\s/);
    if (header[i] === '=' && current !== undefined) {
      i++;
      skip(/\s/);
      const quoted = match(QUOTED);
      const value = quoted !== null ? quoted[1].replace(/\\(.)/g, '$1') : match(TOKEN)?.[0];
      if (value !== undefined) current.params[name[0].toLowerCase()] = value;
    } else {
      current = { scheme: name[0].toLowerCase(), params: {} };
      challenges.push(current);
      i = afterName;
    }
  }
  return challenges;
}

/** The names a registry may be filed under in a docker config: Docker Hub has several. */
function registryAliases(registry: string): string[] {
  const host = registry.toLowerCase();
  const hub = ['docker.io', 'index.docker.io', 'registry-1.docker.io'];
  return hub.includes(host) ? hub : [host];
}

/** A docker config key (`host[:port]`, `https://host/v1/`...) reduced to `host[:port]`. */
function configKeyHost(key: string): string {
  return key
    .replace(/^[a-z]+:\/\//i, '')
    .replace(/\/.*$/, '')
    .toLowerCase();
}

/**
 * The credentials a `.dockerconfigjson` (`{"auths": {"<registry>": {...}}}`) holds for `registry` (`host[:port]`,
 * matched exactly; a key may carry a scheme and a path, as `https://index.docker.io/v1/` does). An entry gives
 * `auth` (base64 of `user:password`) or `username` and `password`, and may give an `identitytoken` (an OAuth2
 * refresh token, used instead of the password). Undefined when there is no entry: anonymous access. Throws a
 * ModelLoadError (ModelSourceInvalid) for a document that is not one; its message never quotes the document.
 */
export function dockerConfigCredentials(json: string, registry: string): RegistryCredentials | undefined {
  const invalid = (why: string): ModelLoadError =>
    new ModelLoadError(`read the .dockerconfigjson credentials for ${registry}: ${why}`, 'ModelSourceInvalid');
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch {
    throw invalid('not valid JSON');
  }
  const auths = (doc as { auths?: unknown } | null)?.auths;
  if (typeof auths !== 'object' || auths === null) throw invalid('no "auths" object');
  const aliases = registryAliases(registry);
  const key = Object.keys(auths).find((k) => aliases.includes(configKeyHost(k)));
  if (key === undefined) return undefined;
  const entry = (auths as Record<string, unknown>)[key] as Record<string, unknown> | null;
  const text = (field: string): string | undefined =>
    typeof entry?.[field] === 'string' && entry[field] !== '' ? (entry[field] as string) : undefined;
  const identityToken = text('identitytoken');
  if (identityToken !== undefined) return { kind: 'identityToken', identityToken };
  const auth = text('auth');
  if (auth !== undefined) {
    const decoded = Buffer.from(auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw invalid(`the "auth" of "${key}" is not base64 of user:password`);
    return { kind: 'basic', username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  const username = text('username');
  const password = text('password');
  if (username !== undefined && password !== undefined) return { kind: 'basic', username, password };
  throw invalid(`the entry "${key}" has neither "auth", "username" and "password", nor "identitytoken"`);
}

/** The Authorization header value for HTTP Basic. */
export function basicAuthorization(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

/**
 * The request for a pull token of `repository` to a Bearer challenge's realm: GET with Basic credentials (or none:
 * an anonymous token), or, with a refresh token, the OAuth2 POST the token spec describes. The scope asked for is
 * always `repository:<repository>:pull`, whatever the challenge suggests: a model is only ever read.
 */
export function tokenRequest(
  challenge: AuthChallenge,
  repository: string,
  credentials: RegistryCredentials | undefined,
): TokenRequest {
  const realm = challenge.params.realm;
  let url: URL;
  try {
    url = new URL(realm ?? '');
  } catch {
    throw new ModelLoadError(
      `the registry's Bearer challenge has no usable realm ("${realm ?? ''}")`,
      'ModelSourceUnavailable',
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ModelLoadError(`the registry's Bearer realm ${url.protocol} is not HTTP(S)`, 'ModelSourceUnavailable');
  }
  const scope = `repository:${repository}:pull`;
  const service = challenge.params.service;
  if (credentials?.kind === 'identityToken') {
    const form = new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: credentials.identityToken,
      client_id: 'modelship',
      scope,
      ...(service === undefined ? {} : { service }),
    });
    return {
      url: url.href,
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
    };
  }
  if (service !== undefined) url.searchParams.set('service', service);
  url.searchParams.set('scope', scope);
  const headers: Record<string, string> =
    credentials === undefined ? {} : { authorization: basicAuthorization(credentials.username, credentials.password) };
  return { url: url.href, method: 'GET', headers };
}

/** The token of a token server's JSON answer (`token`, or OAuth2's `access_token`), else undefined. */
export function tokenFromResponse(body: unknown): string | undefined {
  const answer = body as { token?: unknown; access_token?: unknown } | null;
  const token = answer?.token ?? answer?.access_token;
  return typeof token === 'string' && token !== '' ? token : undefined;
}
