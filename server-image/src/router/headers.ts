/**
 * Header rewriting for the proxy (pure). Hop-by-hop headers (RFC 9110 §7.6.1) describe one
 * connection and must not be forwarded; everything else passes through untouched.
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

/** Copies end-to-end headers: drops hop-by-hop ones and any the Connection header lists. */
export function endToEnd(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const listed = new Set(
    String(headers.connection ?? '')
      .split(',')
      .map((t) => t.trim().toLowerCase())
      .filter(Boolean),
  );
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || listed.has(name)) continue;
    out[name] = value;
  }
  return out;
}

/**
 * Headers for the request to a backend: end-to-end headers, Host set to the backend (as a
 * Service expects), and the caller recorded in X-Forwarded-For/-Host/-Proto.
 */
export function upstreamRequestHeaders(headers: IncomingHttpHeaders, backendHost: string, clientAddress: string | undefined): OutgoingHttpHeaders {
  const out = endToEnd(headers);
  const prior = headers['x-forwarded-for'];
  const client = clientAddress?.startsWith('::ffff:') ? clientAddress.slice(7) : clientAddress;
  if (client) out['x-forwarded-for'] = prior ? `${prior}, ${client}` : client;
  if (!headers['x-forwarded-host'] && headers.host) out['x-forwarded-host'] = headers.host;
  if (!headers['x-forwarded-proto']) out['x-forwarded-proto'] = 'http';
  out.host = backendHost;
  return out;
}

/** Headers for the caller's response: the backend's end-to-end headers plus the revision served. */
export function downstreamResponseHeaders(headers: IncomingHttpHeaders, revision: string): OutgoingHttpHeaders {
  const out = endToEnd(headers);
  out[REVISION_HEADER] = revision;
  return out;
}

/** The first value of a request header, as a string (the sticky key). */
export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}
