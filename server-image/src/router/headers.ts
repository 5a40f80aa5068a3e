/**
 * Header rewriting for the proxy (pure). Hop-by-hop headers (RFC 9110 §7.6.1) describe one
 * connection and must not be forwarded; everything else passes through untouched.
 *
 * Request headers are handled as Node's flat `rawHeaders` list (`[name, value, name, value, ...]`,
 * names in the caller's case): reading it directly spares building `req.headers`, an object per
 * request, on the hot path.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/** Response header naming the revision that answered. */
export const REVISION_HEADER = 'x-modelship-revision';
/** Request header marking a mirrored copy, so a backend can tell it from live traffic. */
export const MIRROR_HEADER = 'x-modelship-mirror';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Request headers the router answers itself and never forwards: hop-by-hop ones, Host (replaced by
 * the backend's), and Expect (Node's server has already sent the caller `100 Continue`, so the body
 * is on its way; forwarding it would make the backend wait for a second go-ahead).
 */
const NOT_FORWARDED_UPSTREAM = new Set([...HOP_BY_HOP, 'host', 'expect']);

function connectionListed(value: string | undefined): Set<string> | undefined {
  if (!value) return undefined;
  const listed = value
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter(Boolean);
  return listed.length ? new Set(listed) : undefined;
}

/** Copies end-to-end headers of a parsed header object: drops hop-by-hop ones and any the Connection header lists. */
export function endToEnd(
  headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>,
): OutgoingHttpHeaders {
  const connection = headers.connection;
  const listed = connectionListed(Array.isArray(connection) ? connection.join(',') : connection);
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || HOP_BY_HOP.has(name) || listed?.has(name)) continue;
    out[name] = value;
  }
  return out;
}

/** The first value of a header in a flat raw list (name compared case-insensitively). */
export function rawHeaderValue(raw: readonly string[], lowerName: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) return raw[i + 1];
  }
  return undefined;
}

/**
 * Headers for the request to a backend, as a flat list: Host set to the backend (as a Service
 * expects; always the first pair), then the caller's end-to-end headers in their order and case,
 * and the caller recorded in
 * X-Forwarded-For/-Host/-Proto. `extra` pairs are appended (the mirror marker, a content-length).
 */
export function upstreamRequestHeaders(
  raw: readonly string[],
  backendHost: string,
  clientAddress: string | undefined,
  extra: readonly string[] = [],
): string[] {
  const listed = connectionListed(rawHeaderValue(raw, 'connection'));
  const out: string[] = ['host', backendHost];
  let forwardedFor: string | undefined;
  let forwardedHost = false;
  let forwardedProto = false;
  let host: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i].toLowerCase();
    const value = raw[i + 1];
    if (name === 'host') host ??= value;
    if (NOT_FORWARDED_UPSTREAM.has(name) || listed?.has(name)) continue;
    if (name === 'x-forwarded-for') {
      forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
      continue;
    }
    if (name === 'x-forwarded-host') forwardedHost = true;
    else if (name === 'x-forwarded-proto') forwardedProto = true;
    out.push(raw[i], value);
  }
  const client = clientAddress?.startsWith('::ffff:') ? clientAddress.slice(7) : clientAddress;
  if (client) out.push('x-forwarded-for', forwardedFor ? `${forwardedFor}, ${client}` : client);
  else if (forwardedFor) out.push('x-forwarded-for', forwardedFor);
  if (!forwardedHost && host) out.push('x-forwarded-host', host);
  if (!forwardedProto) out.push('x-forwarded-proto', 'http');
  for (const x of extra) out.push(x);
  return out;
}

/** The same request headers ({@link upstreamRequestHeaders}) for another backend: Host replaced. */
export function withBackendHost(upstream: readonly string[], backendHost: string): string[] {
  const out = upstream.slice();
  out[1] = backendHost;
  return out;
}

/** Headers for the caller's response: the backend's end-to-end headers plus the revision served. */
export function downstreamResponseHeaders(
  headers: Record<string, string | string[] | undefined>,
  revision: string,
): OutgoingHttpHeaders {
  const out = endToEnd(headers);
  out[REVISION_HEADER] = revision;
  return out;
}
